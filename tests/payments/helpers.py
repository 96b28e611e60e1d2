"""Builders and a thread runner shared by the payments tests."""

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from itertools import count

from django.db import connections

from marketplace.accounts.models import User
from payments.models import Account, Transaction
from payments.services.deposits import deposit_create
from payments.services.escrow import escrow_fund
from payments.services.ledger import account_requester_available, account_worker_payable

_keys = count(1)


def key(prefix: str = "k") -> str:
    """A fresh idempotency key."""
    return f"{prefix}-{next(_keys)}"


def deposit(user: User, amount: int, currency: str = "USD") -> Transaction:
    return deposit_create(user=user, amount=amount, currency=currency, idempotency_key=key("deposit"))


def funded_job(requester: User, amount: int, *, job_id: int = 1, currency: str = "USD") -> int:
    """Deposit `amount` and put all of it in the escrow of `job_id`."""
    deposit(requester, amount, currency)
    escrow_fund(job_id=job_id, requester=requester, amount=amount, currency=currency, idempotency_key=key("fund"))
    return job_id


def available(user: User, currency: str = "USD") -> Account:
    return account_requester_available(user=user, currency=currency)


def payable(user: User, currency: str = "USD") -> Account:
    return account_worker_payable(user=user, currency=currency)


def run_in_threads(n: int, target: Callable[[int], object]) -> list[object]:
    """Start `n` threads at the same instant, each with its own connection; returns each result or the exception
    it raised (so one thread's error cannot hide the others' outcomes)."""
    barrier = threading.Barrier(n)

    def run(i: int) -> object:
        try:
            barrier.wait()
            return target(i)
        except Exception as exc:  # noqa: BLE001 -- the tests count outcomes, errors included
            return exc
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(run, range(n)))

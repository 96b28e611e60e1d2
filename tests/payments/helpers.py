"""Builders and a thread runner shared by the payments tests."""

from functools import partial
from itertools import count

from marketplace.accounts.models import User
from payments.models import Account, Transaction
from payments.services.deposits import deposit_create
from payments.services.escrow import escrow_fund
from payments.services.ledger import account_requester_available, account_worker_payable
from tests.threads import run_in_threads as run_in_threads_raising

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


# The payments race tests count outcomes, errors included.
run_in_threads = partial(run_in_threads_raising, errors_as_results=True)

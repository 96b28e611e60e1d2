"""Real concurrent callers, on PostgreSQL and on SQLite: threads, each with its own connection, racing the money
services."""

import logging
import random
import threading

import pytest
from django.db import connection, transaction

from payments.errors import InsufficientFunds, LedgerBusy, NotEscrowOwner, PayoutTooSmall
from payments.models import Payout, PayoutStatus, Transaction, TransactionKind
from payments.selectors import account_escrow_get
from payments.services import payouts
from payments.services.deposits import deposit_create
from payments.services.escrow import bonus_pay, escrow_fund, escrow_pay_worker, escrow_refund
from payments.services.ledger import ledger_lock
from payments.services.payouts import payout_request, payout_send
from tests.factories import RequesterFactory, WorkerFactory
from tests.payments.helpers import available, funded_job, key, payable, run_in_threads
from tests.payments.invariants import ledger_invariant_violations

pytestmark = pytest.mark.django_db(transaction=True)


def pay(job_id: int, worker, gross: int, idempotency_key: str):
    return escrow_pay_worker(
        job_id=job_id,
        worker=worker,
        gross=gross,
        currency="USD",
        fee_rate="0.10",
        idempotency_key=idempotency_key,
        reference_type="assignment",
        reference_id=idempotency_key,
    )


def test_twenty_approvals_of_one_assignment_at_once_pay_the_worker_once(requester, worker):
    job_id = funded_job(requester, 10_000)

    results = run_in_threads(20, lambda i: pay(job_id, worker, 500, "approve:assignment:1"))

    assert {r.pk for r in results} == {Transaction.objects.get(idempotency_key="approve:assignment:1").pk}
    assert payable(worker).balance == 450
    assert account_escrow_get(job_id=job_id, currency="USD").balance == 9_500
    assert ledger_invariant_violations() == []


def test_twenty_payout_requests_against_one_balance_never_overdraw_it(requester, worker, sandbox, monkeypatch):
    monkeypatch.setattr(payouts, "_enqueue_send", lambda payout_id: None)  # the requests alone race here
    job_id = funded_job(requester, 1000)
    pay(job_id, worker, 1000, key())  # 900 payable

    outcomes = run_in_threads(
        20, lambda i: payout_request(worker=worker, amount=300, currency="USD", idempotency_key=f"p{i}")
    )

    assert sum(isinstance(o, Payout) for o in outcomes) == 3
    assert all(isinstance(o, Payout | InsufficientFunds) for o in outcomes), outcomes
    assert payable(worker).balance == 0
    assert Payout.objects.count() == 3
    assert ledger_invariant_violations() == []


def test_twenty_requests_to_pay_out_everything_at_once_make_one_payout(requester, worker, sandbox):
    job_id = funded_job(requester, 1000)
    pay(job_id, worker, 1000, key())

    outcomes = run_in_threads(20, lambda i: payout_request(worker=worker, currency="USD", idempotency_key=f"all{i}"))

    assert sum(isinstance(o, Payout) for o in outcomes) == 1
    assert all(isinstance(o, Payout | PayoutTooSmall) for o in outcomes), outcomes
    assert Payout.objects.get().status == PayoutStatus.SENT  # sent on commit (eager Celery)
    assert sandbox.executed["payout"] == 1
    assert ledger_invariant_violations() == []


def test_a_payout_sent_by_ten_runs_at_once_reaches_the_provider_once(requester, worker, sandbox, monkeypatch):
    monkeypatch.setattr(payouts, "_enqueue_send", lambda payout_id: None)
    job_id = funded_job(requester, 1000)
    pay(job_id, worker, 1000, key())
    payout = payout_request(worker=worker, amount=500, currency="USD", idempotency_key="p")

    results = run_in_threads(10, lambda i: payout_send(payout_id=payout.pk))

    payout.refresh_from_db()
    assert payout.status == PayoutStatus.SENT
    assert {r.status for r in results} <= {PayoutStatus.SENDING, PayoutStatus.SENT}
    assert (sandbox.calls["payout"], sandbox.executed["payout"]) == (1, 1)
    assert Transaction.objects.filter(kind=TransactionKind.PAYOUT_SENT).count() == 1
    assert ledger_invariant_violations() == []


def test_twenty_retries_of_one_deposit_at_once_charge_once_and_credit_once(requester, sandbox):
    results = run_in_threads(
        20, lambda i: deposit_create(user=requester, amount=2500, currency="USD", idempotency_key="checkout-1")
    )

    assert len({r.pk for r in results}) == 1
    assert sandbox.executed["charge"] == 1
    assert available(requester).balance == 2500
    assert ledger_invariant_violations() == []


def test_two_requesters_funding_one_new_job_at_once_get_one_escrow_owner(sandbox):
    requesters = RequesterFactory.create_batch(2)
    for requester in requesters:
        deposit_create(user=requester, amount=100, currency="USD", idempotency_key="d")

    outcomes = run_in_threads(
        2,
        lambda i: escrow_fund(
            job_id=77, requester=requesters[i], amount=100, currency="USD", idempotency_key=f"fund-{i}"
        ),
    )

    assert sorted(type(o).__name__ for o in outcomes) == ["NotEscrowOwner", "Transaction"]
    assert any(isinstance(o, NotEscrowOwner) for o in outcomes)
    assert account_escrow_get(job_id=77, currency="USD").balance == 100
    assert ledger_invariant_violations() == []


def test_a_crowd_of_mixed_operations_on_shared_accounts_keeps_every_invariant(sandbox, caplog):
    """Payments, bonuses, refunds and payouts (each sent on commit) over shared accounts, in random order: no
    deadlock, no error even in a logged on-commit send, and the books balance at the end."""
    requesters, workers = RequesterFactory.create_batch(3), WorkerFactory.create_batch(4)
    for n, requester in enumerate(requesters):
        funded_job(requester, 5_000, job_id=n)
        deposit_create(user=requester, amount=2_000, currency="USD", idempotency_key="spare")

    def act(i: int) -> str:
        rng = random.Random(i)
        for step in range(15):
            job, worker = rng.randrange(3), rng.choice(workers)
            choice = rng.random()
            try:
                if choice < 0.5:
                    pay(job, worker, rng.randint(1, 400), f"pay-{i}-{step}")
                elif choice < 0.7:
                    bonus_pay(
                        requester=requesters[job],
                        worker=worker,
                        amount=rng.randint(1, 200),
                        currency="USD",
                        fee_rate="0.2",
                        reason="crowd",
                        idempotency_key=f"bonus-{i}-{step}",
                    )
                elif choice < 0.8:
                    escrow_refund(
                        job_id=job, requester=requesters[job], currency="USD", idempotency_key=f"r-{i}-{step}"
                    )
                else:
                    payout_request(worker=worker, currency="USD", idempotency_key=f"out-{i}-{step}")
            except (InsufficientFunds, PayoutTooSmall):
                pass
        return "done"

    assert run_in_threads(12, act) == ["done"] * 12
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert not Payout.objects.exclude(status=PayoutStatus.SENT).exists()
    assert ledger_invariant_violations() == []


@pytest.mark.postgresql_only("PostgreSQL's lock_timeout")
def test_a_writer_that_waits_longer_than_the_lock_timeout_gives_up_with_ledger_busy(requester, settings):
    settings.PAYMENTS_LOCK_TIMEOUT_MS = 100
    deposit_create(user=requester, amount=500, currency="USD", idempotency_key="d")
    account = available(requester)
    locked, done = threading.Event(), threading.Event()

    def race(i: int) -> object:
        if i == 0:
            with transaction.atomic():
                ledger_lock(account_ids=[account.pk])
                locked.set()
                done.wait(5)
            return "held"
        locked.wait(5)
        try:
            return escrow_fund(job_id=1, requester=requester, amount=100, currency="USD", idempotency_key="f")
        finally:
            done.set()

    held, refused = run_in_threads(2, race)

    assert held == "held"
    assert isinstance(refused, LedgerBusy) and refused.transient
    assert available(requester).balance == 500


@pytest.mark.postgresql_only("PostgreSQL's lock_timeout")
def test_the_lock_timeout_does_not_outlive_the_ledgers_own_lock(requester):
    deposit_create(user=requester, amount=500, currency="USD", idempotency_key="d")

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SHOW lock_timeout")
        before = cursor.fetchone()
        escrow_fund(job_id=1, requester=requester, amount=100, currency="USD", idempotency_key="f")
        cursor.execute("SHOW lock_timeout")
        assert cursor.fetchone() == before

"""Payouts: request (money set aside at once), send through the provider, record the outcome exactly once."""

from datetime import timedelta

import pytest
from django.db import OperationalError
from django.utils import timezone

from payments import tasks
from payments.errors import IdempotencyConflict, InsufficientFunds, PayoutTooSmall, ProviderUnavailable
from payments.models import Account, AccountKind, Payout, PayoutStatus, Transaction, TransactionKind
from payments.services import payouts
from payments.services.ledger import account_external_payouts, account_payouts_pending
from payments.services.payouts import payout_request, payout_resume_stuck, payout_send
from tests.payments.helpers import payable
from tests.payments.invariants import ledger_invariant_violations

pytestmark = pytest.mark.django_db


def money(worker) -> dict[str, int]:
    """Where the worker's money is: payable, pending, sent."""
    kinds = {AccountKind.WORKER_PAYABLE: "payable", AccountKind.PAYOUTS_PENDING: "pending"}
    kinds[AccountKind.EXTERNAL_PAYOUTS] = "sent"
    rows = Account.objects.filter(owner=worker, kind__in=kinds).values_list("kind", "balance")
    return {"payable": 0, "pending": 0, "sent": 0} | {kinds[kind]: balance for kind, balance in rows}


def test_a_payout_request_sets_the_money_aside_in_the_same_transaction(earning):
    payout = payout_request(worker=earning, amount=600, currency="USD", idempotency_key="p1")

    assert (payout.status, payout.amount, payout.attempts) == (PayoutStatus.REQUESTED, 600, 0)
    assert money(earning) == {"payable": 400, "pending": 600, "sent": 0}
    assert Transaction.objects.get(idempotency_key=f"payout:{payout.pk}:request").kind == TransactionKind.PAYOUT_REQUEST
    assert ledger_invariant_violations() == []


def test_a_payout_without_an_amount_takes_everything_payable(earning):
    payout = payout_request(worker=earning, currency="USD", idempotency_key="all")

    assert payout.amount == 1000
    assert money(earning)["payable"] == 0


def test_a_payout_below_the_minimum_is_refused(earning, settings):
    settings.PAYOUT_MINIMUM_CENTS = 500

    with pytest.raises(PayoutTooSmall) as refused:
        payout_request(worker=earning, amount=499, currency="USD", idempotency_key="small")

    assert refused.value.extra["minimum"] == 500
    assert not Payout.objects.exists()


def test_everything_payable_below_the_minimum_is_refused(worker):
    with pytest.raises(PayoutTooSmall):
        payout_request(worker=worker, currency="USD", idempotency_key="nothing")


def test_a_payout_above_the_payable_balance_is_refused_with_the_shortfall(earning):
    with pytest.raises(InsufficientFunds) as refused:
        payout_request(worker=earning, amount=1500, currency="USD", idempotency_key="big")

    assert refused.value.extra["shortfall"] == 500
    assert money(earning)["payable"] == 1000


def test_the_same_request_key_returns_the_first_payout_and_another_amount_under_it_conflicts(earning):
    first = payout_request(worker=earning, amount=300, currency="USD", idempotency_key="same")

    assert payout_request(worker=earning, amount=300, currency="USD", idempotency_key="same").pk == first.pk
    assert payout_request(worker=earning, currency="USD", idempotency_key="same").pk == first.pk
    with pytest.raises(IdempotencyConflict):
        payout_request(worker=earning, amount=400, currency="USD", idempotency_key="same")
    assert money(earning)["pending"] == 300


def test_a_payout_task_run_twice_sends_once_and_moves_the_money_out_once(earning, sandbox):
    payout = payout_request(worker=earning, amount=700, currency="USD", idempotency_key="p")

    first = tasks.payout_send_task.apply(args=(payout.pk,)).get()
    second = tasks.payout_send_task.apply(args=(payout.pk,)).get()

    sent = Payout.objects.get(pk=payout.pk)
    assert (first, second, sent.attempts) == (PayoutStatus.SENT, PayoutStatus.SENT, 1)
    assert sent.provider_reference.startswith("sandbox_payout_")
    assert sandbox.calls["payout"] == 1
    assert money(earning) == {"payable": 300, "pending": 0, "sent": 700}
    assert ledger_invariant_violations() == []


def test_a_refused_payout_returns_the_money_to_the_worker(earning, sandbox):
    payout = payout_request(worker=earning, amount=700, currency="USD", idempotency_key="p")
    sandbox.fail_next("payout", error="account_closed")

    failed = payout_send(payout_id=payout.pk)

    assert (failed.status, failed.last_error) == (PayoutStatus.FAILED, "account_closed")
    assert money(earning) == {"payable": 1000, "pending": 0, "sent": 0}
    assert Transaction.objects.filter(idempotency_key=f"payout:{payout.pk}:failed").exists()
    assert ledger_invariant_violations() == []


def test_a_provider_outage_leaves_the_payout_sending_until_a_retry_sends_it(earning, sandbox):
    payout = payout_request(worker=earning, amount=700, currency="USD", idempotency_key="p")
    sandbox.fail_next("payout", error="timeout", transient=True)

    with pytest.raises(ProviderUnavailable):
        payout_send(payout_id=payout.pk)
    stuck = Payout.objects.get(pk=payout.pk)
    not_yet = payout_send(payout_id=payout.pk)  # a second run does not race a live attempt
    retried = payout_send(payout_id=payout.pk, resume=True)

    assert (stuck.status, stuck.last_error) == (PayoutStatus.SENDING, "sandbox: timeout (transient)")
    assert not_yet.status == PayoutStatus.SENDING
    assert (retried.status, retried.attempts) == (PayoutStatus.SENT, 2)
    assert sandbox.executed["payout"] == 1
    assert money(earning) == {"payable": 300, "pending": 0, "sent": 700}


def make_due(payout: Payout, seconds_ago: float = 1.0) -> None:
    """Let time pass until the payout's next attempt is due (`seconds_ago` past it)."""
    Payout.objects.filter(pk=payout.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=seconds_ago))


def test_a_run_killed_between_the_provider_and_the_ledger_is_resent_into_exactly_one_payout(
    earning, sandbox, monkeypatch
):
    payout = payout_request(worker=earning, amount=700, currency="USD", idempotency_key="p")

    def crash(**kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(payouts, "payout_record_outcome", crash)
    with pytest.raises(OperationalError):  # no retry in the task: the payout's lease says when to try again
        tasks.payout_send_task.apply(args=(payout.pk,))
    monkeypatch.undo()

    make_due(payout)
    assert tasks.payout_resume_stuck_task.apply().get() == 1

    payout.refresh_from_db()
    assert (payout.status, payout.attempts) == (PayoutStatus.SENT, 2)
    assert (sandbox.calls["payout"], sandbox.executed["payout"]) == (2, 1)
    assert Transaction.objects.filter(kind=TransactionKind.PAYOUT_SENT).count() == 1
    assert money(earning) == {"payable": 300, "pending": 0, "sent": 700}
    assert ledger_invariant_violations() == []


def test_the_sweeper_resends_a_payout_whose_worker_died_mid_send_with_the_same_key(earning, sandbox, monkeypatch):
    payout = payout_request(worker=earning, amount=700, currency="USD", idempotency_key="p")
    monkeypatch.setattr(payouts, "payout_record_outcome", lambda **kwargs: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        tasks.payout_send_task.apply(args=(payout.pk,))
    monkeypatch.undo()
    tasks.payout_send_task.apply(args=(payout.pk,))  # a duplicate task: the attempt may still be alive
    assert payout_resume_stuck() == 0  # too fresh: its run may still be alive

    make_due(payout)
    assert payout_resume_stuck() == 1

    payout.refresh_from_db()
    assert payout.status == PayoutStatus.SENT
    assert (sandbox.calls["payout"], sandbox.executed["payout"]) == (2, 1)
    assert ledger_invariant_violations() == []


def test_the_sweeper_sends_a_payout_whose_enqueue_was_lost(earning, sandbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):  # the broker loses the task
        payout = payout_request(worker=earning, amount=700, currency="USD", idempotency_key="p")
    assert payout_resume_stuck() == 0  # its task may just be waiting in the queue

    make_due(payout)
    assert tasks.payout_resume_stuck_task.apply().get() == 1

    assert Payout.objects.get(pk=payout.pk).status == PayoutStatus.SENT
    assert sandbox.executed["payout"] == 1


def test_transient_failures_are_retried_by_the_sweeper_with_backoff_until_it_sends(earning, sandbox):
    payout = payout_request(worker=earning, amount=700, currency="USD", idempotency_key="p")
    sandbox.fail_next("payout", transient=True, times=2)
    waits = []

    assert tasks.payout_send_task.apply(args=(payout.pk,)).get() == PayoutStatus.SENDING  # no countdown task
    for _ in range(2):
        payout.refresh_from_db()
        waits.append(round((payout.next_attempt_at - payout.updated_at).total_seconds()))
        assert payout_resume_stuck() == 0  # not due yet
        make_due(payout)
        assert payout_resume_stuck() == 1

    payout.refresh_from_db()
    assert (payout.status, payout.attempts) == (PayoutStatus.SENT, 3)
    assert waits == [10, 20]
    assert sandbox.executed["payout"] == 1


class TestTheTimingRule:
    """A payout whose send died is sent again within about a minute: its attempt's lease (45 s) plus the sweeper's
    period (beat, every 15 s). A requested payout whose task was lost: within 30 s plus that period."""

    def test_a_stuck_payout_is_resent_within_a_minute_of_its_attempt(self, earning, sandbox, settings, monkeypatch):
        payout = payout_request(worker=earning, amount=700, currency="USD", idempotency_key="p")
        monkeypatch.setattr(payouts, "payout_record_outcome", lambda **kwargs: 1 / 0)
        with pytest.raises(ZeroDivisionError):
            payout_send(payout_id=payout.pk)
        monkeypatch.undo()
        payout.refresh_from_db()
        lease = payout.next_attempt_at - payout.sending_since
        sweep_every = settings.CELERY_BEAT_SCHEDULE["payments-resume-stuck-payouts"]["schedule"]

        assert lease == timedelta(seconds=45)
        assert lease.total_seconds() + sweep_every <= 60
        shift = timedelta(seconds=44)
        Payout.objects.filter(pk=payout.pk).update(
            sending_since=payout.sending_since - shift, next_attempt_at=payout.next_attempt_at - shift
        )
        assert payout_resume_stuck() == 0  # 44 s into its attempt: it may still be alive
        Payout.objects.filter(pk=payout.pk).update(
            sending_since=payout.sending_since - 2 * shift, next_attempt_at=payout.next_attempt_at - 2 * shift
        )
        assert payout_resume_stuck() == 1
        assert Payout.objects.get(pk=payout.pk).status == PayoutStatus.SENT

    def test_a_requested_payout_is_due_thirty_seconds_after_its_request(
        self, earning, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=False):
            payout = payout_request(worker=earning, amount=700, currency="USD", idempotency_key="p")

        due_after = (payout.next_attempt_at - payout.created_at).total_seconds()
        assert 29 < due_after <= 30


def test_pending_and_sent_accounts_are_per_worker(earning):
    payout = payout_request(worker=earning, amount=700, currency="USD", idempotency_key="p")
    payout_send(payout_id=payout.pk)

    assert account_payouts_pending(user=earning, currency="USD").owner == earning
    assert account_external_payouts(user=earning, currency="USD").balance == 700
    assert payable(earning).balance == 300


def test_the_worker_is_told_when_a_payout_is_sent_and_when_one_comes_back(
    earning, sandbox, mailoutbox, django_capture_on_commit_callbacks
):
    from workers.models import Notification

    sent = payout_request(worker=earning, amount=300, currency="USD", idempotency_key="a")
    failed = payout_request(worker=earning, amount=300, currency="USD", idempotency_key="b")
    with django_capture_on_commit_callbacks(execute=True):
        payout_send(payout_id=sent.pk)
        sandbox.fail_next("payout", error="account_closed")
        payout_send(payout_id=failed.pk)
        payout_send(payout_id=failed.pk)  # recorded already: no second notification

    told = list(Notification.objects.filter(worker=earning).order_by("id").values_list("kind", "title"))
    assert told == [("payout_sent", "Payout of 3.00 USD sent"), ("payout_failed", "Payout of 3.00 USD failed")]
    assert [m.subject for m in mailoutbox] == [
        "[crowdmarket] Payout of 3.00 USD sent",
        "[crowdmarket] Payout of 3.00 USD failed",
    ]

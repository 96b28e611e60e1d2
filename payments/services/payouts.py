"""Payouts: a worker withdraws earned money. requested -> sending -> sent | failed.

Money: `payout_request` moves the amount worker_payable -> payouts_pending in the transaction that creates the
payout, so a balance is spent once however many requests race. The outcome moves it on: sent -> external_payouts,
failed -> back to worker_payable. Each movement has a key derived from the payout (`payout:<id>:request|sent|failed`)
and the status changes under the payout's row lock, so each is posted at most once.

Sending: `payout_send` claims the payout with a conditional UPDATE (requested -> sending; row count 1 or someone
else has it), calls the provider outside any transaction with the payout's own idempotency key, then records the
outcome under lock, returning quietly if it was already recorded. A run that dies after the provider call leaves
the payout `sending`: after `PAYOUT_RETRY_AFTER_SECONDS` (its attempt's lease, 45 s) the sweeper
(`payout_resume_stuck`, beat every 15 s) sends it again with the same key, gets the first result back, and records
it: a payout whose worker died is resent within about a minute. An unknown outcome (provider error) is never turned
into a failure, which could return money that was sent: the attempt ends and the next is due after a backoff (10 s,
doubling, at most an hour). Every retry is a due time on the row (`next_attempt_at`) that the sweeper acts on, never
a countdown task held by a worker, which a broker restart loses. The provider call must end (time out) within the
lease; one that outlives it only costs a second call with the same key.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from payments.errors import IdempotencyConflict, InsufficientFunds, NotFound, PayoutTooSmall, ProviderUnavailable
from payments.models import Payout, PayoutStatus, TransactionKind
from payments.money import amount_clean, currency_clean
from payments.providers import ProviderConflict, ProviderError, ProviderResult, provider_get
from payments.services.ledger import (
    Entry,
    account_external_payouts,
    account_payouts_pending,
    account_worker_payable,
    idempotency_key_clean,
    ledger_lock,
    ledger_post,
)
from payments.signals import payout_finished

logger = logging.getLogger(__name__)


def payout_minimum() -> int:
    return int(getattr(settings, "PAYOUT_MINIMUM_CENTS", 100))


def payout_retry_after() -> timedelta:
    """The lease of one provider attempt: past it, a payout still `sending` belongs to a run that died."""
    return timedelta(seconds=int(getattr(settings, "PAYOUT_RETRY_AFTER_SECONDS", 45)))


# A requested payout's task is enqueued on commit; the sweeper sends it this long after the request if it is still
# requested (its task lost), and again every REQUEUE_EVERY while it stays so (a long queue: duplicates are no-ops).
REQUEST_GRACE = timedelta(seconds=30)
REQUEUE_EVERY = timedelta(seconds=60)
BACKOFF_MAX = timedelta(hours=1)


def _backoff(attempts: int) -> timedelta:
    return min(timedelta(seconds=10 * 2 ** max(attempts - 1, 0)), BACKOFF_MAX)


# --- Request -------------------------------------------------------------------------------------------------------


def payout_request(
    *, worker: AbstractBaseUser, amount: int | None = None, currency: str, idempotency_key: str
) -> Payout:
    """Ask for `amount` (default: everything payable) to be paid out; the send is queued on commit.

    Invariant: at least `PAYOUT_MINIMUM_CENTS` (`PayoutTooSmall`) and at most what is payable (`InsufficientFunds`),
    read under the lock, so concurrent requests can never overdraw.
    Locks: worker_payable and payouts_pending, ascending pk, before the idempotency re-check and the balance read.
    Idempotency: (worker, key) is unique; a replay returns the first payout, and the same key with another amount
    or currency raises `IdempotencyConflict`.
    """
    currency, idempotency_key = currency_clean(currency), idempotency_key_clean(idempotency_key)
    if amount is not None:
        amount = amount_clean(amount)
    with transaction.atomic(durable=True):
        payable = account_worker_payable(user=worker, currency=currency)
        pending = account_payouts_pending(user=worker, currency=currency)
        if (existing := _by_key(worker, idempotency_key)) is not None:
            return _same_payout(existing, amount, currency)
        locked = ledger_lock(account_ids=[payable.pk, pending.pk])
        if (existing := _by_key(worker, idempotency_key)) is not None:
            return _same_payout(existing, amount, currency)
        available = locked[payable.pk].balance
        amount = _check_amount(available if amount is None else amount, available, currency)
        # payments knows users as AbstractBaseUser (it imports no app above it); the stubs type the foreign key as
        # AUTH_USER_MODEL's class, so each use of `worker` as a key value is ignored.
        payout = Payout(
            worker=worker,  # type: ignore[misc]
            amount=amount,
            currency=currency,
            idempotency_key=idempotency_key,
            next_attempt_at=timezone.now() + REQUEST_GRACE,
        )
        payout.full_clean(validate_unique=False)
        try:
            with transaction.atomic():
                payout.save()
        except IntegrityError:  # unreachable while the lock above is held; the unique index is the backstop
            existing = Payout.objects.get(worker=worker, idempotency_key=idempotency_key)  # type: ignore[misc]
            return _same_payout(existing, amount, currency)
        _post(payout, "request", [(payable, -amount), (pending, amount)], TransactionKind.PAYOUT_REQUEST)
        payout_id = payout.pk
        transaction.on_commit(lambda: _enqueue_send(payout_id), robust=True)  # a broker outage: the sweeper
    return payout


def _by_key(worker: AbstractBaseUser, idempotency_key: str) -> Payout | None:
    return Payout.objects.filter(worker=worker, idempotency_key=idempotency_key).first()  # type: ignore[misc]


def _same_payout(existing: Payout, amount: int | None, currency: str) -> Payout:
    if existing.currency != currency or amount not in (None, existing.amount):
        raise IdempotencyConflict(idempotency_key=existing.idempotency_key)
    return existing


def _check_amount(amount: int, available: int, currency: str) -> int:
    if amount < payout_minimum():
        raise PayoutTooSmall(minimum=payout_minimum(), requested=amount, available=available, currency=currency)
    if amount > available:
        raise InsufficientFunds(
            account="worker_payable",
            currency=currency,
            available=available,
            requested=amount,
            shortfall=amount - available,
        )
    return amount


def _enqueue_send(payout_id: int) -> None:
    from payments.tasks import payout_send_task  # noqa: PLC0415 -- tasks import this module

    payout_send_task.delay(payout_id)


# --- Send ----------------------------------------------------------------------------------------------------------


def payout_send(*, payout_id: int, resume: bool = False) -> Payout:
    """Send a requested payout through the provider and record the outcome. Safe to run any number of times.

    `resume=True` (an admin's "send again") re-sends a payout stuck in `sending` at once; otherwise only once its
    next attempt is due (the lease of the last one ran out, or its backoff after a provider error), so a run never
    races a live one.
    Invariant: the provider is called with the payout's key only by the run that claimed it; the outcome is
    posted once. Locks: none around the provider call; see `payout_record_outcome`.
    Idempotency: a sent or failed payout is returned as is; one being sent by another run too.
    Raises `ProviderUnavailable` (transient) when the provider did not answer: the payout stays `sending`, its
    next attempt due after a backoff.
    """
    payout = _claim(payout_id, resume=resume)
    if payout is None:
        return Payout.objects.get(pk=payout_id)
    try:
        result = provider_get().send_payout(
            idempotency_key=payout.provider_idempotency_key,
            user=payout.worker,
            amount=payout.amount,
            currency=payout.currency,
        )
    except ProviderError as exc:
        now = timezone.now()
        Payout.objects.filter(pk=payout.pk, sending_since=payout.sending_since).update(
            last_error=str(exc)[:500], next_attempt_at=now + _backoff(payout.attempts), updated_at=now
        )
        raise ProviderUnavailable(payout_id=payout.pk) from exc
    except ProviderConflict as exc:  # cannot happen while keys are derived from the payout: stop, loudly
        raise IdempotencyConflict(idempotency_key=payout.provider_idempotency_key) from exc
    return payout_record_outcome(payout_id=payout.pk, result=result)


def _claim(payout_id: int, *, resume: bool) -> Payout | None:
    """Take the payout for one provider attempt, by a conditional UPDATE whose row count must be 1."""
    now = timezone.now()
    attempt = {
        "sending_since": now,
        "attempts": F("attempts") + 1,
        "next_attempt_at": now + payout_retry_after(),  # the attempt's lease
        "updated_at": now,
    }
    if Payout.objects.filter(pk=payout_id, status=PayoutStatus.REQUESTED).update(
        status=PayoutStatus.SENDING, **attempt
    ):
        return Payout.objects.select_related("worker").get(pk=payout_id)
    payout = Payout.objects.filter(pk=payout_id).first()
    if payout is None:
        raise NotFound("No such payout.", payout_id=payout_id)
    if payout.status != PayoutStatus.SENDING:
        return None
    due = payout.next_attempt_at is None or payout.next_attempt_at <= now
    if not (resume or due):
        return None
    # Another resumer may have seen the same attempt: the one whose update matches its start wins.
    won = Payout.objects.filter(pk=payout_id, status=PayoutStatus.SENDING, sending_since=payout.sending_since).update(
        **attempt
    )
    return Payout.objects.select_related("worker").get(pk=payout_id) if won else None


def payout_record_outcome(*, payout_id: int, result: ProviderResult) -> Payout:
    """Post what the provider said: sent (payouts_pending -> external_payouts) or refused (back to payable).

    Invariant: recorded once; a payout that is no longer `sending` was recorded by an earlier run and is returned
    as is (re-read under the lock, like pretix's `OrderPayment.confirm`).
    Locks: the payout row, then its accounts in ascending pk. Idempotency: the status check, and the ledger keys
    `payout:<id>:sent|failed`.
    """
    with transaction.atomic(durable=True):
        # Only the payout row: FOR UPDATE through the join would lock the user too, and block the deferred
        # foreign-key check (KEY SHARE) of a concurrent payout request of the same worker at its COMMIT.
        payout = Payout.objects.select_for_update(of=("self",), no_key=True).select_related("worker").get(pk=payout_id)
        if payout.status != PayoutStatus.SENDING:
            return payout
        pending = account_payouts_pending(user=payout.worker, currency=payout.currency)
        if result.ok:
            target = account_external_payouts(user=payout.worker, currency=payout.currency)
            _post(payout, "sent", [(pending, -payout.amount), (target, payout.amount)], TransactionKind.PAYOUT_SENT)
            payout.status, payout.provider_reference = PayoutStatus.SENT, result.reference[:200]
        else:
            target = account_worker_payable(user=payout.worker, currency=payout.currency)
            _post(payout, "failed", [(pending, -payout.amount), (target, payout.amount)], TransactionKind.PAYOUT_FAILED)
            payout.status, payout.last_error = PayoutStatus.FAILED, (result.error or "refused")[:500]
        payout.finished_at = timezone.now()
        payout.save(update_fields=["status", "provider_reference", "last_error", "finished_at", "updated_at"])
    for receiver, error in payout_finished.send_robust(sender=Payout, payout=payout):
        if error is not None:
            logger.error("payout_finished receiver %r failed", receiver, exc_info=error)
    return payout


def _post(payout: Payout, step: str, entries: list[Entry], kind: str) -> None:
    ledger_post(
        idempotency_key=f"payout:{payout.pk}:{step}",
        entries=entries,
        kind=kind,
        description=f"Payout #{payout.pk} {step}",
        reference_type="payout",
        reference_id=payout.pk,
    )


# --- Sweeper -------------------------------------------------------------------------------------------------------


def payout_resume_stuck(*, limit: int = 500) -> int:
    """Queue a send for every unfinished payout whose next attempt is due: requested but never sent (its enqueue
    was lost), sending past its attempt's lease (its run died), or past its backoff after a provider error. Returns
    how many were queued; the sends themselves claim each payout, so queueing one twice is harmless. A requested
    payout is pushed back REQUEUE_EVERY, so a long queue is not flooded with its duplicates."""
    now = timezone.now()
    due = (
        Payout.objects.filter(status__in=[PayoutStatus.REQUESTED, PayoutStatus.SENDING])
        .filter(Q(next_attempt_at__lte=now) | Q(next_attempt_at__isnull=True))
        .order_by("id")
    )
    ids = list(due.values_list("id", flat=True)[:limit])
    Payout.objects.filter(pk__in=ids, status=PayoutStatus.REQUESTED).update(next_attempt_at=now + REQUEUE_EVERY)
    for payout_id in ids:
        _enqueue_send(payout_id)
    return len(ids)

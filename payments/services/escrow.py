"""Money between requesters and workers: job escrow (fund, pay a worker with the platform fee, refund) and bonuses
(with the platform fee too).

These are called by the marketplace's own use cases (launch, approval, cancellation, bonus) inside their
transactions, so they open a plain `atomic` block (a savepoint there), not a durable one: the job's new status and
its money commit together or not at all. References to the marketplace stay opaque (`job_id`, `reference_type`).
"""

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction

from payments.errors import IdempotencyConflict, InsufficientFunds, NotEscrowOwner, SelfPayment
from payments.models import Account, Transaction, TransactionKind
from payments.money import amount_clean, currency_clean, fee_split
from payments.selectors import account_escrow_get, transaction_get
from payments.services.ledger import (
    account_job_escrow,
    account_platform_fees,
    account_requester_available,
    account_worker_payable,
    ledger_lock,
    ledger_post,
)


def escrow_fund(
    *, job_id: int | str, requester: AbstractBaseUser, amount: int, currency: str, idempotency_key: str
) -> Transaction:
    """Set `amount` aside for the job: requester_available -> job_escrow.

    Invariant: the requester's available balance never goes negative (`InsufficientFunds`, `extra["shortfall"]`);
    a job has one escrow account per currency, owned by the requester who first funded it (`NotEscrowOwner`).
    Locks: both accounts, ascending pk (`ledger_post`). Idempotency: by key, through `ledger_post`.
    """
    amount, currency = amount_clean(amount), currency_clean(currency)
    with transaction.atomic():
        source = account_requester_available(user=requester, currency=currency)
        escrow = _escrow_to_fund(job_id=job_id, currency=currency, requester=requester)
        return ledger_post(
            idempotency_key=idempotency_key,
            entries=[(source, -amount), (escrow, amount)],
            kind=TransactionKind.ESCROW_FUND,
            description=f"Escrow for job #{job_id}",
            reference_type="job",
            reference_id=job_id,
        )


@dataclass(frozen=True)
class Reservation:
    """What `escrow_reserve` did: of the slots wanted, how many the escrow now covers; the top-up it posted (None
    when the escrow's surplus was enough); and what a deposit must still add to cover every slot wanted."""

    covered: int
    top_up: Transaction | None
    shortfall: int


def escrow_reserve(
    *,
    job_id: int | str,
    requester: AbstractBaseUser,
    currency: str,
    price: int,
    owed: Callable[[], int],
    wanted: int,
    all_or_nothing: bool,
    idempotency_key: str,
) -> Reservation:
    """Make the job's escrow cover `owed()` slots at `price` each (what its work may still cost) plus `wanted`
    new ones, topping it up from the requester's available balance: requester_available -> job_escrow.

    The escrow's surplus over what is owed (a launch reserve not yet used, a rejection no longer appealable) is
    spent first, so nothing is reserved twice. By default it covers as many of `wanted` as the money allows (the
    rest is the caller's to leave waiting) and fills any deficit as far as it can; `all_or_nothing`: everything or
    `InsufficientFunds` with the shortfall. Locks: both accounts, ascending pk, before `owed()` is called, so a
    payment from the escrow either happened before (and `owed()` no longer counts its slot) or waits for us.
    Idempotency: the caller's key, one per top-up (a counter under the caller's lock, as for refunds).
    """
    price, currency = amount_clean(price), currency_clean(currency)
    with transaction.atomic():
        escrow = _escrow_to_fund(job_id=job_id, currency=currency, requester=requester)
        source = account_requester_available(user=requester, currency=currency)
        locked = ledger_lock(account_ids=[escrow.pk, source.pk])
        surplus, available = locked[escrow.pk].balance - owed() * price, locked[source.pk].balance
        shortfall = max(0, wanted * price - surplus - available)
        if all_or_nothing and shortfall:
            raise InsufficientFunds(
                account="requester_available",
                currency=currency,
                available=available,
                requested=wanted * price - surplus,
                shortfall=shortfall,
            )
        covered = min(wanted, max(0, (surplus + available) // price))
        amount = min(available, max(0, covered * price - surplus))
        top_up = None
        if amount:  # the accounts are locked already: escrow_fund's locks cost nothing more
            top_up = escrow_fund(
                job_id=job_id, requester=requester, amount=amount, currency=currency, idempotency_key=idempotency_key
            )
        return Reservation(covered=covered, top_up=top_up, shortfall=shortfall)


def escrow_refund(
    *, job_id: int | str, requester: AbstractBaseUser, currency: str, idempotency_key: str, keep: int = 0
) -> Transaction | None:
    """Return what is left in the job's escrow to the requester (job cancelled or finished under budget), less
    `keep` minor units still owed to work under review (read under the locks, like the balance).

    Returns None when there is nothing to return (nothing is written). Only the escrow's owner gets it
    (`NotEscrowOwner`).
    Locks: both accounts, ascending pk, before reading the escrow balance, so a payment racing the refund either
    happens first or finds the escrow empty. Idempotency: the key is checked before and again under the locks; a
    replay returns the first refund.
    """
    currency = currency_clean(currency)
    with transaction.atomic():
        if (existing := transaction_get(idempotency_key=idempotency_key)) is not None:
            return _expect(existing, TransactionKind.ESCROW_REFUND, job_id)
        escrow = _own_escrow(job_id=job_id, currency=currency, requester=requester)
        if escrow is None:
            return None
        target = account_requester_available(user=requester, currency=currency)
        locked = ledger_lock(account_ids=[escrow.pk, target.pk])
        if (existing := transaction_get(idempotency_key=idempotency_key)) is not None:
            return _expect(existing, TransactionKind.ESCROW_REFUND, job_id)
        remaining = locked[escrow.pk].balance - amount_clean(keep, allow_zero=True)
        if remaining <= 0:
            return None
        return ledger_post(
            idempotency_key=idempotency_key,
            entries=[(escrow, -remaining), (target, remaining)],
            kind=TransactionKind.ESCROW_REFUND,
            description=f"Escrow of job #{job_id} refunded",
            reference_type="job",
            reference_id=job_id,
        )


def escrow_pay_worker(
    *,
    job_id: int | str,
    worker: AbstractBaseUser,
    gross: int,
    currency: str,
    fee_rate: Decimal | str,
    idempotency_key: str,
    reference_type: str,
    reference_id: str | int,
) -> Transaction:
    """Pay a worker `gross` from the job's escrow: the worker gets `net`, the platform `fee` (`money.fee_split`).

    job_escrow -gross, worker_payable +net, platform_fees +fee; `reference_type`/`reference_id` name what was paid
    for (e.g. "assignment", 42). Invariant: escrow never goes negative (`InsufficientFunds`); a requester is never
    paid from their own job's escrow (`SelfPayment`). Locks: the three accounts, ascending pk.
    Idempotency: by key (e.g. "approve:assignment:42"); the same key with another amount or rate is a conflict.
    """
    fee, net = fee_split(gross=gross, rate=fee_rate)
    currency = currency_clean(currency)
    with transaction.atomic():
        escrow = account_escrow_get(job_id=job_id, currency=currency)
        if escrow is None:
            raise InsufficientFunds(
                account="job_escrow", currency=currency, available=0, requested=gross, shortfall=gross
            )
        if escrow.owner_id == worker.pk:
            raise SelfPayment()
        payable = account_worker_payable(user=worker, currency=currency)
        fees = account_platform_fees(currency=currency)
        return ledger_post(
            idempotency_key=idempotency_key,
            entries=[(escrow, -gross), (payable, net), (fees, fee)],
            kind=TransactionKind.ESCROW_PAY,
            description=f"Job #{job_id}: {gross} gross, {fee} fee at {fee_rate}",
            reference_type=reference_type,
            reference_id=reference_id,
        )


def escrow_pay_reward(
    *,
    job_id: int | str,
    worker: AbstractBaseUser,
    reward: int,
    fee: int,
    currency: str,
    idempotency_key: str,
    reference_type: str,
    reference_id: str | int,
) -> Transaction:
    """Pay a worker's `reward` from the job's escrow with the platform `fee` on top (the requester funded both).

    job_escrow -(reward + fee), worker_payable +reward, platform_fees +fee. Invariant: escrow never goes negative
    (`InsufficientFunds`); nobody is paid from their own job's escrow (`SelfPayment`). Locks: the three accounts,
    ascending pk. Idempotency: by key (e.g. "assignment:42:pay"); the same key for other amounts is a conflict.
    """
    reward, currency = amount_clean(reward), currency_clean(currency)
    fee = amount_clean(fee, allow_zero=True)
    with transaction.atomic():
        escrow = account_escrow_get(job_id=job_id, currency=currency)
        if escrow is None:
            total = reward + fee
            raise InsufficientFunds(
                account="job_escrow", currency=currency, available=0, requested=total, shortfall=total
            )
        if escrow.owner_id == worker.pk:
            raise SelfPayment()
        payable = account_worker_payable(user=worker, currency=currency)
        entries = [(escrow, -(reward + fee)), (payable, reward)]
        if fee:
            entries.append((account_platform_fees(currency=currency), fee))
        return ledger_post(
            idempotency_key=idempotency_key,
            entries=entries,
            kind=TransactionKind.ESCROW_PAY,
            description=f"Job #{job_id}: reward {reward}, fee {fee}",
            reference_type=reference_type,
            reference_id=reference_id,
        )


def bonus_pay(
    *,
    requester: AbstractBaseUser,
    worker: AbstractBaseUser,
    amount: int,
    currency: str,
    fee_rate: Decimal | str,
    reason: str,
    idempotency_key: str,
    reference_type: str = "",
    reference_id: str | int = "",
) -> Transaction:
    """A requester rewards a worker from their available balance, with the platform fee on top, as on a reward:
    requester_available -(amount + fee), worker_payable +amount, platform_fees +fee, where fee is `fee_rate` x
    amount rounded half to even (`money.fee_split`). So paying by bonus costs what paying by reward costs.
    Invariant: the available balance never goes negative (`InsufficientFunds`); nobody pays themselves
    (`SelfPayment`: it would turn deposits into withdrawable earnings). Locks: the accounts, ascending pk.
    Idempotency: by key, through `ledger_post` (the same key with another amount or rate is a conflict)."""
    amount, currency = amount_clean(amount), currency_clean(currency)
    fee, _ = fee_split(gross=amount, rate=fee_rate)
    if requester.pk == worker.pk:
        raise SelfPayment()
    with transaction.atomic():
        source = account_requester_available(user=requester, currency=currency)
        payable = account_worker_payable(user=worker, currency=currency)
        entries = [(source, -(amount + fee)), (payable, amount)]
        if fee:
            entries.append((account_platform_fees(currency=currency), fee))
        return ledger_post(
            idempotency_key=idempotency_key,
            entries=entries,
            kind=TransactionKind.BONUS,
            description=f"Bonus: {reason} ({amount}, fee {fee} at {fee_rate})",
            reference_type=reference_type,
            reference_id=reference_id,
        )


def _own_escrow(*, job_id: int | str, currency: str, requester: AbstractBaseUser) -> Account | None:
    """The job's escrow if it exists; `NotEscrowOwner` if another requester funded it."""
    escrow = account_escrow_get(job_id=job_id, currency=currency)
    if escrow is not None and escrow.owner_id != requester.pk:
        raise NotEscrowOwner(job_id=str(job_id))
    return escrow


def _escrow_to_fund(*, job_id: int | str, currency: str, requester: AbstractBaseUser) -> Account:
    escrow = _own_escrow(job_id=job_id, currency=currency, requester=requester)
    if escrow is not None:
        return escrow
    try:
        return account_job_escrow(job_id=job_id, currency=currency, requester=requester)
    except Account.DoesNotExist:  # another requester created this job's escrow at the same instant
        raise NotEscrowOwner(job_id=str(job_id)) from None


def _expect(existing: Transaction, kind: str, job_id: int | str) -> Transaction:
    if existing.kind != kind or existing.reference_id != str(job_id):
        raise IdempotencyConflict(idempotency_key=existing.idempotency_key)
    return existing

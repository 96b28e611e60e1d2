"""The one writer of the ledger: `ledger_post`, the account lock it takes, and the accounts it posts to.

Locks: the accounts a transaction touches, `SELECT ... FOR NO KEY UPDATE` in ascending primary-key order under
`SET LOCAL lock_timeout` (`PAYMENTS_LOCK_TIMEOUT_MS`), so two writers never wait on each other in a cycle and a
stuck one fails with `LedgerBusy` instead of piling up. Resolve (get or create) every account before locking:
creating one inside the locked section could wait on a concurrent creator that waits on our locks.
"""

from collections.abc import Iterable, Sequence

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, OperationalError, connection
from django.db import transaction as db_transaction

from payments.errors import (
    AlreadyReversed,
    IdempotencyConflict,
    InsufficientFunds,
    InvalidAmount,
    InvalidIdempotencyKey,
    LedgerBusy,
    NotReversible,
    UnbalancedTransaction,
)
from payments.models import (
    NON_NEGATIVE_KINDS,
    NOT_REVERSIBLE_KINDS,
    Account,
    AccountKind,
    Posting,
    Transaction,
    TransactionKind,
)
from payments.money import MAX_AMOUNT, currency_clean
from payments.selectors import transaction_get

Entry = tuple[Account, int]
LOCK_NOT_AVAILABLE = "55P03"
MAX_KEY_LENGTH = 100  # clients' keys; services prefix them ("deposit:<user>:"), within the 200-character columns


def idempotency_key_clean(key: object, *, max_length: int = MAX_KEY_LENGTH) -> str:
    if not isinstance(key, str) or not key.strip() or len(key) > max_length:
        raise InvalidIdempotencyKey(max_length=max_length)
    return key


def ledger_post(
    *,
    idempotency_key: str,
    entries: Sequence[Entry],
    kind: str,
    description: str = "",
    reference_type: str = "",
    reference_id: str | int = "",
    reverses: Transaction | None = None,
) -> Transaction:
    """Record one balanced transaction and update the cached balances of its accounts.

    Invariant: the entries sum to zero per currency (also a deferred trigger on PostgreSQL), and no account of a
    non-negative kind ends below zero (also a CHECK on `Account.balance`): else `UnbalancedTransaction` or
    `InsufficientFunds` (with the shortfall), and nothing is written.
    Locks: the entries' accounts, ascending pk, with a lock timeout (`LedgerBusy`).
    Idempotency: a key already posted with the same kind and entries returns that transaction and writes nothing;
    with anything else it raises `IdempotencyConflict`. The key is checked again under the locks, and the unique
    index settles the rest, so concurrent posts of one key write once.
    """
    idempotency_key_clean(idempotency_key, max_length=200)
    legs = _net_legs(entries)
    with db_transaction.atomic():
        if (existing := transaction_get(idempotency_key=idempotency_key)) is not None:
            return _same_or_conflict(existing, kind, legs)
        locked = ledger_lock(account_ids=legs)
        if (existing := transaction_get(idempotency_key=idempotency_key)) is not None:  # posted while we waited
            return _same_or_conflict(existing, kind, legs)
        _check_funds(locked, legs)
        try:
            with db_transaction.atomic():
                journal = Transaction.objects.create(
                    idempotency_key=idempotency_key,
                    kind=kind,
                    description=description[:500],
                    reference_type=reference_type,
                    reference_id=str(reference_id),
                    reverses=reverses,
                )
        except IntegrityError:
            if (existing := transaction_get(idempotency_key=idempotency_key)) is None:
                raise
            return _same_or_conflict(existing, kind, legs)
        _write_postings(journal, locked, legs)
    return journal


def ledger_lock(*, account_ids: Iterable[int]) -> dict[int, Account]:
    """Lock accounts (`SELECT ... FOR NO KEY UPDATE`, ascending pk, lock timeout) and return them fresh, by pk.

    Call inside an atomic block; the locks last until it ends. Locking an account twice in one transaction is free.
    The lock timeout applies to this statement only: the caller's own locks later in its transaction keep theirs.
    """
    # Rows are locked in the order the sort returns them. NO KEY: the key never changes, and a plain FOR UPDATE
    # would also block other transactions' foreign-key checks on these rows (postings reference accounts).
    locking = Account.objects.select_for_update(no_key=True).filter(pk__in=sorted(set(account_ids))).order_by("pk")
    if connection.vendor != "postgresql":
        return {account.pk: account for account in locking}
    timeout = f"{int(getattr(settings, 'PAYMENTS_LOCK_TIMEOUT_MS', 5000))}ms"
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('lock_timeout')")
        (previous,) = cursor.fetchone()
        cursor.execute("SELECT set_config('lock_timeout', %s, true)", [timeout])
        try:
            rows = list(locking)
        except OperationalError as exc:
            if getattr(exc.__cause__, "sqlstate", None) == LOCK_NOT_AVAILABLE:
                raise LedgerBusy() from exc
            raise
        cursor.execute("SELECT set_config('lock_timeout', %s, true)", [previous])
    return {account.pk: account for account in rows}


def _net_legs(entries: Sequence[Entry]) -> dict[int, Entry]:
    """Entries merged per account, zero legs dropped; checked: whole amounts, one currency per account, zero sum."""
    legs: dict[int, Entry] = {}
    for account, amount in entries:
        if isinstance(amount, bool) or not isinstance(amount, int) or abs(amount) > MAX_AMOUNT:
            raise InvalidAmount(amount=str(amount))
        if account.pk is None:
            raise UnbalancedTransaction("Every entry needs a saved account.")
        legs[account.pk] = (account, legs.get(account.pk, (account, 0))[1] + amount)
    legs = {pk: leg for pk, leg in legs.items() if leg[1] != 0}
    totals: dict[str, int] = {}
    for account, amount in legs.values():
        totals[account.currency] = totals.get(account.currency, 0) + amount
    unbalanced = {currency: total for currency, total in totals.items() if total != 0}
    if unbalanced or len(legs) < 2:
        raise UnbalancedTransaction(sums=unbalanced, legs=len(legs))
    return legs


def _check_funds(locked: dict[int, Account], legs: dict[int, Entry]) -> None:
    for pk, (_, amount) in legs.items():
        account = locked[pk]
        after = account.balance + amount
        if amount < 0 and after < 0 and account.kind in NON_NEGATIVE_KINDS:
            raise InsufficientFunds(
                account=account.kind,
                currency=account.currency,
                available=account.balance,
                requested=-amount,
                shortfall=-after,
            )


def _write_postings(journal: Transaction, locked: dict[int, Account], legs: dict[int, Entry]) -> None:
    Posting.objects.bulk_create(
        Posting(transaction=journal, account_id=pk, amount=amount, currency=account.currency)
        for pk, (account, amount) in sorted(legs.items())
    )
    for pk, (_, amount) in legs.items():
        locked[pk].balance += amount
        Account.objects.filter(pk=pk).update(balance=locked[pk].balance)


def _same_or_conflict(existing: Transaction, kind: str, legs: dict[int, Entry]) -> Transaction:
    posted = dict(existing.postings.values_list("account_id", "amount"))
    if existing.kind != kind or posted != {pk: amount for pk, (_, amount) in legs.items()}:
        raise IdempotencyConflict(idempotency_key=existing.idempotency_key)
    return existing


# --- Accounts ------------------------------------------------------------------------------------------------------


def account_for(
    *,
    kind: str,
    currency: str,
    owner: AbstractBaseUser | None = None,
    reference_type: str = "",
    reference_id: str | int = "",
) -> Account:
    """The account of this kind, owner, reference and currency, created on first use (race-safe)."""
    lookup = {
        "kind": kind,
        "currency": currency_clean(currency),
        "owner": owner,
        "reference_type": reference_type,
        "reference_id": str(reference_id),
    }
    account = Account.objects.filter(**lookup).first()
    if account is not None:
        return account
    try:
        with db_transaction.atomic():
            account = Account(**lookup)
            account.full_clean(validate_unique=False, validate_constraints=False)
            account.save()
            return account
    except IntegrityError:  # created by a concurrent first use; the unique index waited for it to commit
        return Account.objects.get(**lookup)


def account_requester_available(*, user: AbstractBaseUser, currency: str) -> Account:
    return account_for(kind=AccountKind.REQUESTER_AVAILABLE, owner=user, currency=currency)


def account_worker_payable(*, user: AbstractBaseUser, currency: str) -> Account:
    return account_for(kind=AccountKind.WORKER_PAYABLE, owner=user, currency=currency)


def account_payouts_pending(*, user: AbstractBaseUser, currency: str) -> Account:
    return account_for(kind=AccountKind.PAYOUTS_PENDING, owner=user, currency=currency)


def account_external_deposits(*, user: AbstractBaseUser, currency: str) -> Account:
    return account_for(kind=AccountKind.EXTERNAL_DEPOSITS, owner=user, currency=currency)


def account_external_payouts(*, user: AbstractBaseUser, currency: str) -> Account:
    return account_for(kind=AccountKind.EXTERNAL_PAYOUTS, owner=user, currency=currency)


def account_platform_fees(*, currency: str) -> Account:
    return account_for(kind=AccountKind.PLATFORM_FEES, currency=currency)


def account_job_escrow(*, job_id: int | str, currency: str, requester: AbstractBaseUser) -> Account:
    """The job's escrow account, owned by the requester who funds it (created on first funding)."""
    return account_for(
        kind=AccountKind.JOB_ESCROW, owner=requester, currency=currency, reference_type="job", reference_id=job_id
    )


# --- Corrections ---------------------------------------------------------------------------------------------------


def transaction_reverse(*, transaction: Transaction, idempotency_key: str, reason: str) -> Transaction:
    """Post the exact opposite of `transaction` (rows are never edited): every posting negated.

    Invariant: a transaction is reversed at most once (`AlreadyReversed`; also a unique `reverses` column); payout
    movements are not reversible here (`NotReversible`): the payout state machine posts its own corrections. A
    reversal that would take an account below zero (the worker already withdrew the pay) raises `InsufficientFunds`.
    Locks: the transaction's accounts (through `ledger_post`), before the already-reversed check.
    Idempotency: the same key returns the same reversal.
    """
    if transaction.kind in NOT_REVERSIBLE_KINDS:
        raise NotReversible(transaction_id=transaction.pk, kind=transaction.kind)
    postings = list(transaction.postings.select_related("account"))
    entries = [(posting.account, -posting.amount) for posting in postings]
    with db_transaction.atomic():
        if (existing := transaction_get(idempotency_key=idempotency_key)) is None:
            ledger_lock(account_ids=[posting.account_id for posting in postings])
            if Transaction.objects.filter(reverses=transaction).exists():
                raise AlreadyReversed(transaction_id=transaction.pk)
        elif existing.reverses_id != transaction.pk:
            raise IdempotencyConflict(idempotency_key=idempotency_key)
        return ledger_post(
            idempotency_key=idempotency_key,
            entries=entries,
            kind=TransactionKind.REVERSAL,
            description=f"Reversal of #{transaction.pk}: {reason}",
            reference_type="transaction",
            reference_id=transaction.pk,
            reverses=transaction,
        )

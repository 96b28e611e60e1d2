"""Reads of the ledger: balances, a user's transactions and postings, payouts. Querysets come with their joins."""

from dataclasses import dataclass

from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import Exists, OuterRef, Prefetch, QuerySet, Sum

from payments.errors import NotFound
from payments.models import USER_VISIBLE_KINDS, Account, AccountKind, Payout, Posting, Transaction


@dataclass(frozen=True)
class Balance:
    """What a user holds in one currency, in minor units."""

    currency: str
    available: int = 0  # requester: may fund jobs
    in_escrow: int = 0  # requester: set aside for their jobs
    payable: int = 0  # worker: earned, may be paid out
    payouts_pending: int = 0  # worker: on its way out


_BALANCE_FIELD = {
    AccountKind.REQUESTER_AVAILABLE: "available",
    AccountKind.JOB_ESCROW: "in_escrow",
    AccountKind.WORKER_PAYABLE: "payable",
    AccountKind.PAYOUTS_PENDING: "payouts_pending",
}


def balance_list(*, user: AbstractBaseUser) -> list[Balance]:
    """The user's balances per currency (one query over the cached balances), by currency."""
    rows = (
        Account.objects.filter(owner=user, kind__in=USER_VISIBLE_KINDS)
        .values("currency", "kind")
        .annotate(total=Sum("balance"))
        .order_by()
    )
    by_currency: dict[str, dict[str, int]] = {}
    for row in rows:
        by_currency.setdefault(row["currency"], {})[_BALANCE_FIELD[row["kind"]]] = row["total"]
    return [Balance(currency=currency, **fields) for currency, fields in sorted(by_currency.items())]


def account_balance(*, account: Account) -> int:
    """The balance as the sum of the account's postings (the truth the cached `Account.balance` must equal)."""
    return Posting.objects.filter(account=account).aggregate(total=Sum("amount"))["total"] or 0


def ledger_totals() -> dict[str, int]:
    """The sum of every posting in the ledger, per currency: zero in each when double entry holds."""
    rows = Posting.objects.values("currency").annotate(total=Sum("amount")).order_by("currency")
    return {row["currency"]: row["total"] for row in rows}


def account_escrow_get(*, job_id: int | str, currency: str) -> Account | None:
    return Account.objects.filter(
        kind=AccountKind.JOB_ESCROW, reference_type="job", reference_id=str(job_id), currency=currency
    ).first()


def posting_list(*, user: AbstractBaseUser) -> QuerySet[Posting]:
    """Postings on the user's own accounts (never the other side of a transaction), newest first."""
    return (
        Posting.objects.filter(account__owner=user, account__kind__in=USER_VISIBLE_KINDS)
        .select_related("transaction", "account")
        .order_by("-id")
    )


def transaction_list(*, user: AbstractBaseUser) -> QuerySet[Transaction]:
    """Transactions touching the user's accounts, newest first, each with only the user's own postings
    prefetched as `own_postings` (the other party's accounts stay private)."""
    own = Posting.objects.filter(account__owner=user, account__kind__in=USER_VISIBLE_KINDS)
    return (
        Transaction.objects.filter(Exists(own.filter(transaction=OuterRef("pk"))))
        .prefetch_related(
            Prefetch("postings", queryset=own.select_related("account").order_by("id"), to_attr="own_postings")
        )
        .order_by("-id")
    )


def transaction_get(*, idempotency_key: str) -> Transaction | None:
    return Transaction.objects.filter(idempotency_key=idempotency_key).first()


def payout_list(*, worker: AbstractBaseUser) -> QuerySet[Payout]:
    return Payout.objects.filter(worker=worker).order_by("-id")


def payout_get(*, worker: AbstractBaseUser, payout_id: int) -> Payout:
    payout = Payout.objects.filter(worker=worker, pk=payout_id).first()
    if payout is None:
        raise NotFound("No such payout.")
    return payout

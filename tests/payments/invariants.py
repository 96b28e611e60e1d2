"""The ledger's invariants, checked over the whole database."""

from django.db.models import Count, F, Sum

from payments.models import NON_NEGATIVE_KINDS, Account, AccountKind, Payout, PayoutStatus, Posting, Transaction

UNFINISHED = [PayoutStatus.REQUESTED, PayoutStatus.SENDING]
PAYOUT_STEPS = {
    PayoutStatus.REQUESTED: {"request"},
    PayoutStatus.SENDING: {"request"},
    PayoutStatus.SENT: {"request", "sent"},
    PayoutStatus.FAILED: {"request", "failed"},
}


def ledger_invariant_violations() -> list[str]:
    """Every way the stored ledger breaks a rule; empty when all hold."""
    return _zero_sums() + _accounts() + _payouts()


def _zero_sums() -> list[str]:
    problems = []
    for row in Posting.objects.values("currency").annotate(total=Sum("amount")).order_by():
        if row["total"] != 0:
            problems.append(f"all postings in {row['currency']} sum to {row['total']}")
    unbalanced = (
        Posting.objects.values("transaction_id", "currency").annotate(total=Sum("amount")).exclude(total=0).order_by()
    )
    problems += [f"transaction {r['transaction_id']} sums to {r['total']} {r['currency']}" for r in unbalanced]
    thin = Transaction.objects.annotate(n=Count("postings")).filter(n__lt=2)
    problems += [f"transaction {t.pk} has {t.n} postings" for t in thin]
    strays = Posting.objects.exclude(currency=F("account__currency"))
    problems += [f"posting {p.pk} in {p.currency} on an account in another currency" for p in strays]
    return problems


def _accounts() -> list[str]:
    problems = []
    for account in Account.objects.annotate(total=Sum("postings__amount")):
        total = account.total or 0
        if account.balance != total:
            problems.append(f"{account}: cached balance {account.balance} != sum of postings {total}")
        if account.kind in NON_NEGATIVE_KINDS and total < 0:
            problems.append(f"{account}: negative balance {total}")
    return problems


def _payouts() -> list[str]:
    """Each payout posted its request and exactly the movement its status says; pending balances match."""
    problems = []
    posted: dict[str, set[str]] = {}
    for key in Transaction.objects.filter(reference_type="payout").values_list("idempotency_key", flat=True):
        _, payout_id, step = key.split(":")
        posted.setdefault(payout_id, set()).add(step)
    for payout in Payout.objects.all():
        if posted.get(str(payout.pk), set()) != PAYOUT_STEPS[payout.status]:
            problems.append(f"payout {payout.pk} ({payout.status}) posted {sorted(posted.get(str(payout.pk), []))}")
    for account in Account.objects.filter(kind=AccountKind.PAYOUTS_PENDING):
        unfinished = Payout.objects.filter(worker_id=account.owner_id, currency=account.currency, status__in=UNFINISHED)
        owed = unfinished.aggregate(total=Sum("amount"))["total"] or 0
        if account.balance != owed:
            problems.append(f"{account}: {account.balance} pending but unfinished payouts total {owed}")
    return problems

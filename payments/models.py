"""The double-entry ledger: accounts, transactions (journal entries) and their postings; payouts to workers.

Amounts are signed integers of minor units. A posting adds its amount to its account's balance, so money moves
from the accounts with negative postings to those with positive ones, and the postings of a transaction sum to
zero in every currency: the Python writer checks it, and on PostgreSQL a deferred constraint trigger refuses to
commit an unbalanced transaction (migration 0002). Ledger rows are append-only, in Python and in the database.

Where the money is, at any time (all balances are sums of postings; `Account.balance` caches them):
- `external_deposits` (per user): minus what came in from the user's payment method; the only account that goes
  negative, since it stands for money outside the platform;
- `requester_available` -> `job_escrow` (per job) -> `worker_payable` + `platform_fees`;
- `worker_payable` -> `payouts_pending` (on its way out) -> `external_payouts` (sent) or back to `worker_payable`.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from payments.errors import LedgerImmutable


class AccountKind(models.TextChoices):
    REQUESTER_AVAILABLE = "requester_available", "Requester: available"
    JOB_ESCROW = "job_escrow", "Job escrow"
    WORKER_PAYABLE = "worker_payable", "Worker: payable"
    PAYOUTS_PENDING = "payouts_pending", "Worker: payouts on their way"
    PLATFORM_FEES = "platform_fees", "Platform fees"
    EXTERNAL_DEPOSITS = "external_deposits", "External: deposits received"
    EXTERNAL_PAYOUTS = "external_payouts", "External: payouts sent"


# Internal accounts hold money someone is owed: they never go negative (a CHECK on the cached balance, and the
# writer's check under lock). The external ones mirror the world outside the ledger.
EXTERNAL_KINDS = (AccountKind.EXTERNAL_DEPOSITS, AccountKind.EXTERNAL_PAYOUTS)
NON_NEGATIVE_KINDS = tuple(kind for kind in AccountKind if kind not in EXTERNAL_KINDS)
# What a user sees as theirs in the API; their external mirror accounts only double every line.
USER_VISIBLE_KINDS = (
    AccountKind.REQUESTER_AVAILABLE,
    AccountKind.JOB_ESCROW,
    AccountKind.WORKER_PAYABLE,
    AccountKind.PAYOUTS_PENDING,
)


class Account(models.Model):
    """One balance in one currency: a user's, a job's escrow (owned by its requester), or the platform's fees."""

    kind = models.CharField(max_length=32, choices=AccountKind.choices)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="ledger_accounts"
    )
    # Opaque reference to a row of a higher app (job escrow: reference_type="job"); never a foreign key.
    reference_type = models.CharField(max_length=32, blank=True, default="")
    reference_id = models.CharField(max_length=64, blank=True, default="")
    currency = models.CharField(max_length=3)
    balance = models.BigIntegerField(default=0, help_text="Cached sum of postings, updated under lock.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=AccountKind.values), name="account_kind_valid"),
            models.CheckConstraint(condition=Q(currency__regex=r"^[A-Z]{3}$"), name="account_currency_iso"),
            models.CheckConstraint(
                condition=Q(balance__gte=0) | Q(kind__in=EXTERNAL_KINDS), name="account_balance_non_negative"
            ),
            models.CheckConstraint(
                condition=Q(kind=AccountKind.PLATFORM_FEES, owner__isnull=True)
                | (~Q(kind=AccountKind.PLATFORM_FEES) & Q(owner__isnull=False)),
                name="account_owner_matches_kind",
            ),
            models.CheckConstraint(
                condition=Q(kind=AccountKind.JOB_ESCROW, reference_type="job")
                | (~Q(kind=AccountKind.JOB_ESCROW) & Q(reference_type="")),
                name="account_reference_matches_kind",
            ),
            # Two partial unique constraints, since NULL owners are distinct in a plain one.
            models.UniqueConstraint(
                fields=["kind", "owner", "reference_type", "reference_id", "currency"],
                condition=Q(owner__isnull=False),
                name="account_unique_owned",
            ),
            models.UniqueConstraint(
                fields=["kind", "reference_type", "reference_id", "currency"],
                condition=Q(owner__isnull=True),
                name="account_unique_unowned",
            ),
            models.UniqueConstraint(
                fields=["reference_type", "reference_id", "currency"],
                condition=Q(kind=AccountKind.JOB_ESCROW),
                name="account_one_escrow_per_job",
            ),
        ]

    def __str__(self) -> str:
        ref = f" {self.reference_type} #{self.reference_id}" if self.reference_type else ""
        who = f" of user {self.owner_id}" if self.owner_id else ""
        return f"{self.kind}{ref}{who} ({self.currency})"

    @property
    def may_go_negative(self) -> bool:
        return self.kind in EXTERNAL_KINDS


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs: object) -> int:
        raise LedgerImmutable()

    def delete(self) -> tuple[int, dict[str, int]]:
        raise LedgerImmutable()


class AppendOnlyModel(models.Model):
    """Rows are inserted once and never changed or deleted (PostgreSQL refuses it too, migration 0002)."""

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args: object, **kwargs: object) -> None:
        if not self._state.adding:
            raise LedgerImmutable()
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise LedgerImmutable()


class TransactionKind(models.TextChoices):
    DEPOSIT = "deposit", "Deposit"
    ESCROW_FUND = "escrow_fund", "Escrow funded"
    ESCROW_REFUND = "escrow_refund", "Escrow refunded"
    ESCROW_PAY = "escrow_pay", "Worker paid from escrow"
    BONUS = "bonus", "Bonus"
    PAYOUT_REQUEST = "payout_request", "Payout requested"
    PAYOUT_SENT = "payout_sent", "Payout sent"
    PAYOUT_FAILED = "payout_failed", "Payout failed, money returned"
    REVERSAL = "reversal", "Reversal"


# Payout movements belong to the payout state machine: a failed payout is corrected by its own failure posting.
NOT_REVERSIBLE_KINDS = (TransactionKind.PAYOUT_REQUEST, TransactionKind.PAYOUT_SENT, TransactionKind.PAYOUT_FAILED)


class Transaction(AppendOnlyModel):
    """A journal entry: two or more postings that sum to zero per currency. Written only by `ledger_post`."""

    idempotency_key = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=32, choices=TransactionKind.choices)
    description = models.CharField(max_length=500, blank=True)
    reference_type = models.CharField(max_length=32, blank=True, default="")
    reference_id = models.CharField(max_length=64, blank=True, default="")
    reverses = models.OneToOneField("self", on_delete=models.PROTECT, null=True, blank=True, related_name="reversed_by")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["reference_type", "reference_id"], name="transaction_reference_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=TransactionKind.values), name="transaction_kind_valid"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind}"


class Posting(AppendOnlyModel):
    """One leg of a transaction: `amount` (signed minor units) added to `account`'s balance."""

    transaction = models.ForeignKey(Transaction, on_delete=models.PROTECT, related_name="postings")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="postings", db_index=False)
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["account", "-id"], name="posting_account_idx")]
        constraints = [models.CheckConstraint(condition=~Q(amount=0), name="posting_amount_not_zero")]

    def __str__(self) -> str:
        return f"{self.amount:+d} {self.currency} on account {self.account_id}"


class PayoutStatus(models.TextChoices):
    REQUESTED = "requested", "Requested"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class Payout(models.Model):
    """A worker's withdrawal: requested -> sending -> sent | failed.

    The money leaves `worker_payable` for `payouts_pending` in the transaction that creates this row, so it can be
    spent once only; `payments.services.payouts` moves the status, always by a conditional update or under lock.
    """

    worker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payouts")
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=16, choices=PayoutStatus.choices, default=PayoutStatus.REQUESTED)
    idempotency_key = models.CharField(max_length=200)
    provider_reference = models.CharField(max_length=200, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    sending_since = models.DateTimeField(null=True, blank=True, help_text="Start of the current provider attempt.")
    next_attempt_at = models.DateTimeField(
        null=True, blank=True, help_text="When the sweeper sends it (again) unless it is finished by then."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["worker", "-id"], name="payout_worker_idx"),
            models.Index(
                fields=["status"], condition=Q(status__in=["requested", "sending"]), name="payout_unfinished_idx"
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["worker", "idempotency_key"], name="payout_idempotency_key_unique"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="payout_amount_positive"),
            models.CheckConstraint(condition=Q(status__in=PayoutStatus.values), name="payout_status_valid"),
        ]

    def __str__(self) -> str:
        return f"payout #{self.pk} {self.amount} {self.currency} ({self.status})"

    @property
    def provider_idempotency_key(self) -> str:
        """The key every provider call for this payout carries, however many times it is retried."""
        return f"payout:{self.worker_id}:{self.idempotency_key}"


class SandboxOperation(models.Model):
    """One call the bundled sandbox provider carried out, kept by (operation, idempotency key) as a real provider
    keeps its keys: any process that repeats the call gets `ok` / `reference` / `error` back, and nothing moves
    twice. Written only by `payments.providers.SandboxProvider`."""

    operation = models.CharField(max_length=16, choices=[("charge", "Charge"), ("payout", "Payout")])
    idempotency_key = models.CharField(max_length=200)
    params = models.JSONField(help_text="User id, amount and currency of the first call.")
    ok = models.BooleanField()
    reference = models.CharField(max_length=64)
    error = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["operation", "idempotency_key"], name="sandbox_operation_key_unique"),
        ]

    def __str__(self) -> str:
        return f"sandbox {self.operation} {self.idempotency_key}"

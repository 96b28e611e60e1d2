"""Worker profiles (platform-wide gold record, reputation) and platform-wide bans."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q


class WorkerProfile(models.Model):
    """A worker's platform-wide record. Gold counts add up every graded gold answer on every job."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="worker_profile"
    )
    gold_answered = models.PositiveIntegerField(default=0)
    gold_correct = models.PositiveIntegerField(default=0)
    reputation = models.FloatField(null=True, blank=True, help_text="0..1; empty until first computed.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(gold_correct__lte=F("gold_answered")), name="profile_gold_le"),
        ]

    def __str__(self) -> str:
        return f"profile of {self.user_id}"

    @property
    def gold_accuracy(self) -> float | None:
        return round(self.gold_correct / self.gold_answered, 4) if self.gold_answered else None


class Ban(models.Model):
    """A platform-wide ban: the worker can claim no work anywhere while it stands. Lifting keeps the record."""

    worker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="bans")
    reason = models.CharField(max_length=500)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    lifted_at = models.DateTimeField(null=True, blank=True)
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    lift_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["worker"], condition=Q(lifted_at__isnull=True), name="ban_one_standing"),
        ]

    def __str__(self) -> str:
        state = "lifted" if self.lifted_at else "standing"
        return f"ban of {self.worker_id} ({state})"


class NotificationKind(models.TextChoices):
    APPROVED = "approved", "Work approved"
    REJECTED = "rejected", "Work rejected"
    APPEAL_DECIDED = "appeal_decided", "Appeal decided"
    QUALIFICATION_GRANTED = "qualification_granted", "Qualification granted"
    QUALIFICATION_REVOKED = "qualification_revoked", "Qualification revoked"
    BLOCKED = "blocked", "Blocked"
    UNBLOCKED = "unblocked", "Unblocked"
    PAYOUT_SENT = "payout_sent", "Payout sent"
    PAYOUT_FAILED = "payout_failed", "Payout failed"


# E-mailed unless the worker turns it off; approvals come in hundreds and are only in the inbox unless turned on.
EMAILED_BY_DEFAULT = frozenset(NotificationKind.values) - {NotificationKind.APPROVED}


class Notification(models.Model):
    """News for a worker: in their inbox (API and pages), and e-mailed as their settings say. `key` makes sending
    idempotent: one notification per event, however often the code that noticed it runs."""

    worker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=32, choices=NotificationKind.choices)
    key = models.CharField(max_length=100, help_text="The event, e.g. assignment:12:rejected.")
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["worker", "-id"], name="notification_inbox")]
        constraints = [models.UniqueConstraint(fields=["worker", "key"], name="notification_once_per_event")]

    def __str__(self) -> str:
        return f"{self.kind} for {self.worker_id}"


class NotificationSetting(models.Model):
    """A worker's choice to have one kind of notification e-mailed or not (no row: `EMAILED_BY_DEFAULT`)."""

    worker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=32, choices=NotificationKind.choices)
    email = models.BooleanField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["worker", "kind"], name="notification_setting_once")]

    def __str__(self) -> str:
        return f"{self.kind} e-mail {'on' if self.email else 'off'} for {self.worker_id}"

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

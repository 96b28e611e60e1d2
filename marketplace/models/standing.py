from django.conf import settings
from django.db import models


class RequesterStanding(models.Model):
    """How a requester treats workers, as their records show it (recomputed by beat: services/standing.py), shown to
    workers on every job. Figures over the last `REQUESTER_STANDING_DAYS` days; each comes with what it rests on."""

    requester = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="standing"
    )
    reviews = models.PositiveIntegerField(default=0, help_text="Submitted assignments approved or rejected.")
    rejected = models.PositiveIntegerField(default=0)
    review_hours_median = models.FloatField(null=True, blank=True, help_text="Submit to approval or rejection.")
    pay_hours_median = models.FloatField(null=True, blank=True, help_text="Submit to approval (the worker is paid).")
    appeals_decided = models.PositiveIntegerField(default=0)
    appeals_overturned = models.PositiveIntegerField(default=0)
    computed_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"standing of requester {self.requester_id}"

    @property
    def rejected_share(self) -> float | None:
        return self.rejected / self.reviews if self.reviews else None

    @property
    def overturned_share(self) -> float | None:
        return self.appeals_overturned / self.appeals_decided if self.appeals_decided else None


class HiddenRequester(models.Model):
    """A requester whose jobs a worker chose not to see in their list of work."""

    worker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="hidden_requesters")
    requester = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["worker", "requester"], name="hidden_requester_once")]

    def __str__(self) -> str:
        return f"worker {self.worker_id} hides requester {self.requester_id}"

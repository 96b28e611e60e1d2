from django.conf import settings
from django.db import models
from django.db.models import Q

from marketplace.models.assignments import Assignment
from marketplace.models.jobs import Job


class BlockSource(models.TextChoices):
    QUALITY = "quality", "Quality control"
    REQUESTER = "requester", "The requester"
    STAFF = "staff", "Staff"


class Block(models.Model):
    """A worker kept off one job (`job` set) or off every job of a requester (`job` empty), with who, why and when.

    Blocks are lifted, never deleted: the row keeps who lifted it, why and when. A job's standing block is mirrored
    on the worker's `Participation.blocked_at` (what the aggregation and the eligibility rule read); a
    requester-wide block is read by the eligibility rule itself (one indexed NOT EXISTS, on the partial unique index
    below). `rejected` is the pending work the block rejected: lifting the block reopens it for review.
    """

    worker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="blocks")
    requester = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    job = models.ForeignKey(Job, on_delete=models.CASCADE, null=True, blank=True, related_name="blocks")
    source = models.CharField(max_length=16, choices=BlockSource.choices)
    reason = models.CharField(max_length=500)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    lifted_at = models.DateTimeField(null=True, blank=True)
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    lift_reason = models.CharField(max_length=500, blank=True)
    rejected = models.ManyToManyField(Assignment, blank=True, related_name="+")

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["requester", "-id"], name="block_requester_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["worker", "job"],
                condition=Q(job__isnull=False, lifted_at__isnull=True),
                name="block_one_standing_per_job",
            ),
            models.UniqueConstraint(
                fields=["worker", "requester"],
                condition=Q(job__isnull=True, lifted_at__isnull=True),
                name="block_one_standing_per_requester",
            ),
            models.CheckConstraint(condition=Q(source__in=BlockSource.values), name="block_source_valid"),
            models.CheckConstraint(
                condition=Q(lifted_at__isnull=True) | ~Q(lift_reason=""), name="block_lifted_with_reason"
            ),
        ]

    def __str__(self) -> str:
        scope = f"job #{self.job_id}" if self.job_id else f"every job of requester {self.requester_id}"
        return f"worker {self.worker_id} blocked from {scope} ({'lifted' if self.lifted_at else 'standing'})"

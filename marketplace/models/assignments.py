from django.conf import settings
from django.db import models
from django.db.models import F, Q

from marketplace.models.items import Item, MicroTask
from marketplace.models.jobs import Job


class Participation(models.Model):
    """One worker on one job: their open assignments (capped per job), gold record, and any block.

    The row is locked by every claim of this worker on this job, which serialises their claims without touching
    anyone else's.
    """

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="participations")
    worker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="participations")
    open_assignments = models.PositiveIntegerField(default=0)
    # The job's daily cap: the last day (UTC) the worker claimed on the job, and how many claims that day.
    claimed_on = models.DateField(null=True, blank=True)
    claimed_that_day = models.PositiveIntegerField(default=0, db_default=0)  # raw INSERTs (benches) get 0 too
    submitted_assignments = models.PositiveIntegerField(default=0)
    gold_answered = models.PositiveIntegerField(default=0)
    gold_correct = models.PositiveIntegerField(default=0)
    blocked_at = models.DateTimeField(null=True, blank=True)
    block_reason = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Written by the aggregation: the worker's Dawid-Skene confusion matrix on this job (rows: true class,
    # columns: answered class, in label-schema order) and the chance they are right on a random item.
    estimated_accuracy = models.FloatField(null=True, blank=True)
    confusion = models.JSONField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["worker", "job"], name="participation_unique"),
            models.CheckConstraint(condition=Q(gold_correct__lte=F("gold_answered")), name="participation_gold_le"),
        ]

    def __str__(self) -> str:
        return f"worker {self.worker_id} on job #{self.job_id}"

    @property
    def gold_accuracy(self) -> float | None:
        """Share of gold answers right; None before the first gold answer."""
        return round(self.gold_correct / self.gold_answered, 4) if self.gold_answered else None


class AssignmentStatus(models.TextChoices):
    OPEN = "open", "Open"
    SUBMITTED = "submitted", "Submitted"
    EXPIRED = "expired", "Expired"
    RELEASED = "released", "Released"


class ReviewStatus(models.TextChoices):
    PENDING = "pending", "Pending review"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class Assignment(models.Model):
    """A worker's claim on a micro-task: its items plus hidden gold, in the order shown to the worker.

    Open and submitted assignments count toward the task's `assigned_count`; expired and released ones gave their
    slot back. A worker holds at most one assignment per task, ever (a database constraint).
    """

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="assignments", db_index=False)
    task = models.ForeignKey(MicroTask, on_delete=models.CASCADE, related_name="assignments", db_index=False)
    # Lookups by worker go through the (worker, job, status) index below: no index of the worker's own, one fewer
    # to write on every claim and submit.
    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="assignments", db_index=False
    )
    status = models.CharField(max_length=16, choices=AssignmentStatus.choices, default=AssignmentStatus.OPEN)
    item_ids = models.JSONField(help_text="Items in the order shown to the worker, gold mixed in.")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    submitted_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True, help_text="When it expired or was released.")
    submission_digest = models.CharField(max_length=64, blank=True, help_text="Hash of the submitted answers.")
    gold_total = models.PositiveSmallIntegerField(default=0)
    gold_correct = models.PositiveSmallIntegerField(default=0)
    is_fast = models.BooleanField(default=False, help_text="Submitted faster than the job's floor allows.")
    # Review of a submitted assignment: approved (paid from the job's escrow) or rejected (with a reason), by the
    # requester, or approved automatically at `auto_approve_at`.
    review_status = models.CharField(max_length=16, choices=ReviewStatus.choices, default=ReviewStatus.PENDING)
    auto_approve_at = models.DateTimeField(null=True, blank=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(  # indexed where set (below), not for every row version as a NULL
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False
    )
    reject_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["job", "status"], name="assignment_job_status_idx"),
            models.Index(fields=["worker", "job", "status"], name="assignment_worker_job_idx"),
            models.Index(
                fields=["auto_approve_at"],
                condition=Q(status="submitted", review_status="pending"),
                name="assignment_auto_approve_idx",
            ),
            models.Index(
                fields=["expires_at"], condition=Q(status=AssignmentStatus.OPEN), name="assignment_open_expiry_idx"
            ),
            models.Index(
                fields=["reviewed_by"], condition=Q(reviewed_by__isnull=False), name="assignment_reviewed_by_idx"
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["task", "worker"], name="assignment_one_per_task_and_worker"),
            models.CheckConstraint(condition=Q(status__in=AssignmentStatus.values), name="assignment_status_valid"),
            models.CheckConstraint(
                condition=Q(gold_correct__lte=F("gold_total")), name="assignment_gold_correct_le_total"
            ),
            models.CheckConstraint(
                condition=~Q(status=AssignmentStatus.SUBMITTED) | Q(submitted_at__isnull=False),
                name="assignment_submitted_has_time",
            ),
            models.CheckConstraint(
                condition=Q(review_status=ReviewStatus.PENDING) | Q(status=AssignmentStatus.SUBMITTED),
                name="assignment_only_submitted_work_is_reviewed",
            ),
            models.CheckConstraint(
                condition=~Q(review_status=ReviewStatus.REJECTED) | ~Q(reject_reason=""),
                name="assignment_rejection_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"assignment {self.pk} ({self.status})"


class GoldExposure(models.Model):
    """A gold item shown to a worker. Unique per (worker, item): no worker sees the same gold item twice."""

    # The unique (worker, item) index below serves every lookup by worker: no index of its own.
    worker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False)
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="exposures", db_index=False)
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="+", db_index=False)
    assignment = models.ForeignKey(Assignment, on_delete=models.CASCADE, related_name="gold_exposures")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["worker", "item"], name="gold_seen_once_per_worker")]
        indexes = [models.Index(fields=["job", "worker"], name="gold_exposure_job_worker_idx")]

    def __str__(self) -> str:
        return f"gold item {self.item_id} shown to worker {self.worker_id}"


class Answer(models.Model):
    """One worker's answer to one item of an assignment. Gold answers are graded at once (`is_correct`)."""

    # The unique (assignment, item) index serves lookups by assignment: none of its own, written for every answer.
    assignment = models.ForeignKey(Assignment, on_delete=models.CASCADE, related_name="answers", db_index=False)
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="answers", db_index=False)
    worker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", db_index=False)
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="answers", db_index=False)
    value = models.JSONField()
    is_gold = models.BooleanField(default=False)
    is_correct = models.BooleanField(null=True, blank=True, help_text="Set for gold answers only.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["job", "is_gold", "item"], name="answer_job_gold_item_idx"),
            models.Index(fields=["worker", "job", "is_gold"], name="answer_worker_job_gold_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["assignment", "item"], name="answer_one_per_assignment_item"),
            models.UniqueConstraint(fields=["item", "worker"], name="answer_one_per_item_and_worker"),
            models.CheckConstraint(
                condition=Q(is_gold=True, is_correct__isnull=False) | Q(is_gold=False, is_correct__isnull=True),
                name="answer_graded_iff_gold",
            ),
        ]

    def __str__(self) -> str:
        return f"answer {self.pk} to item {self.item_id}"

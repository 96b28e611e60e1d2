from django.conf import settings
from django.db import models
from django.db.models import F, Q

from marketplace.models.jobs import Job


class Upload(models.Model):
    """One file of items (or of gold items with their known answers) sent by a requester.

    Ingest is all or nothing: either every row became an item, or none did and `errors` says why.
    """

    class Kind(models.TextChoices):
        ITEMS = "items", "Items"
        GOLD = "gold", "Gold items"

    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        JSONL = "jsonl", "JSON lines"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        PROCESSING = "processing", "Processing"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="uploads")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.ITEMS)
    format = models.CharField(max_length=8, choices=Format.choices)
    file = models.FileField(upload_to="uploads/%Y/%m/", blank=True)
    original_name = models.CharField(max_length=255, blank=True)
    size_bytes = models.BigIntegerField(default=0)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    rows_processed = models.BigIntegerField(default=0)
    items_created = models.BigIntegerField(default=0)
    tasks_created = models.BigIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)
    # The ingest task's lifecycle (see services/upload_recovery.py): runs claimed so far, when the task was last
    # asked for, and when the current run claimed the upload.
    attempts = models.PositiveSmallIntegerField(default=0)
    queued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        # The sweeper looks only at unfinished uploads: a handful, however many have finished.
        indexes = [
            models.Index(
                fields=["status"], condition=Q(status__in=["queued", "processing"]), name="upload_unfinished_idx"
            )
        ]

    def __str__(self) -> str:
        return f"upload #{self.pk} ({self.kind}, {self.status})"


class MicroTask(models.Model):
    """A unit of work: `items_per_task` consecutive items of one upload, answered together by one worker.

    Every item of a micro-task receives the same number of answers, so overlap is counted here, per task.
    """

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="tasks", db_index=False)
    upload = models.ForeignKey(Upload, on_delete=models.CASCADE, related_name="tasks", db_index=False)
    number = models.PositiveIntegerField(help_text="Position of the task in its job, from 1.")
    n_items = models.PositiveSmallIntegerField()
    overlap_target = models.PositiveSmallIntegerField(help_text="Answers this task should receive now.")
    assigned_count = models.PositiveSmallIntegerField(default=0, help_text="Open + submitted assignments.")
    submitted_count = models.PositiveSmallIntegerField(default=0)
    # Slots added after launch (a block's replacement, adaptive overlap) that the escrow could not cover: not
    # claimable, they move into `overlap_target` once the requester's money arrives (services.funding).
    unfunded_slots = models.PositiveSmallIntegerField(default=0, help_text="Slots waiting for the requester's funds.")
    # When `job.items_settled` announced the task's items as done (services.settled); None until then.
    settled_at = models.DateTimeField(null=True, blank=True)
    # Claims take the free task of lowest rank, then lowest number (`Job.claim_order`, services.claim_order).
    rank = models.FloatField(default=0.0, help_text="Claims serve the lowest rank first (then the upload's order).")

    class Meta:
        ordering = ["job", "number"]
        indexes = [
            # Claims look only at tasks with a free slot, and completion only at unfinished tasks: both stay
            # small index probes however many tasks are already done.
            models.Index(
                fields=["job", "rank", "number"],
                condition=Q(assigned_count__lt=F("overlap_target")),
                name="task_with_free_slot_idx",
            ),
            # (job, number): the completion check asks for the first unfinished task in number order, which only
            # this index answers; asked merely whether one exists, PostgreSQL scanned the table from its start.
            models.Index(
                fields=["job", "number"],
                condition=Q(submitted_count__lt=F("overlap_target")),
                name="task_unfinished_idx",
            ),
            # The jobs with slots waiting for funds, for the sweep that opens them: almost always empty, so tiny.
            models.Index(fields=["job"], condition=Q(unfunded_slots__gt=0), name="task_waiting_for_funds_idx"),
            # The finished tasks not announced yet (`job.items_settled`): small, the announced ones drop out.
            models.Index(
                fields=["job", "number"],
                condition=Q(settled_at__isnull=True, submitted_count__gte=F("overlap_target"), overlap_target__gt=0),
                name="task_to_announce_idx",
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["job", "number"], name="task_number_unique_per_job"),
            models.CheckConstraint(
                condition=Q(assigned_count__lte=F("overlap_target")), name="task_never_over_assigned"
            ),
            models.CheckConstraint(
                condition=Q(submitted_count__lte=F("assigned_count")), name="task_submitted_lte_assigned"
            ),
        ]

    def __str__(self) -> str:
        return f"task {self.number} of job #{self.job_id}"


class Item(models.Model):
    """One row of an upload: the payload shown to workers. Gold items also carry the known answer.

    Gold items belong to no micro-task: the assignment engine mixes them into assignments. `gold_answer` is never
    serialised for a worker.
    """

    # `job` and `upload` repeat what the task already says, for fast per-job queries. They carry no database
    # constraint: the ingest writes them from rows it holds locked, and a per-row foreign-key check made up about
    # two thirds of the commit time of a 1,000,000-row upload (measured: 2.3 s of 3.5 s per 300,000 rows).
    # The task reference, which does vary per row, keeps its constraint.
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="items", db_index=False, db_constraint=False)
    upload = models.ForeignKey(
        Upload, on_delete=models.CASCADE, related_name="items", db_index=False, db_constraint=False
    )
    task = models.ForeignKey(MicroTask, on_delete=models.CASCADE, null=True, blank=True, related_name="items")
    position = models.PositiveSmallIntegerField(default=0, help_text="Position in its micro-task, from 0.")
    row_number = models.PositiveIntegerField(help_text="Data row in the uploaded file, from 1.")
    external_id = models.CharField(max_length=255, blank=True)
    payload = models.JSONField()
    is_gold = models.BooleanField(default=False)
    gold_answer = models.JSONField(null=True, blank=True)
    # Gold items are numbered within their job, from 1 to `Job.gold_count`: a claim draws gold by random numbers,
    # a few index probes, instead of shuffling all of the job's gold (see services.assignment_gold.draw_gold).
    gold_number = models.PositiveIntegerField(null=True, blank=True, editable=False)
    # Gold hygiene: a key the job's trusted workers keep contradicting is flagged for the requester's review;
    # while flagged, the item is neither shown nor used to block anyone.
    gold_flagged_at = models.DateTimeField(null=True, blank=True)
    gold_reviewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["job", "is_gold", "id"], name="item_job_gold_idx"),
            # Does the job have a flagged gold key? Asked on every submit; almost always empty, so tiny.
            models.Index(fields=["job"], condition=Q(gold_flagged_at__isnull=False), name="item_gold_flagged_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=(Q(is_gold=True, gold_answer__isnull=False, task__isnull=True, gold_number__isnull=False))
                | Q(is_gold=False, gold_answer__isnull=True, task__isnull=False, gold_number__isnull=True),
                name="item_gold_has_answer_number_and_no_task",
            ),
            models.UniqueConstraint(
                fields=["job", "gold_number"], condition=Q(gold_number__isnull=False), name="gold_number_unique_per_job"
            ),
        ]

    def __str__(self) -> str:
        return f"item {self.pk} (job #{self.job_id}, row {self.row_number})"

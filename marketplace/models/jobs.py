from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.conf import global_settings, settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q


class JobStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    ACTIVE = "active", "Active"
    PAUSED = "paused", "Paused"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"
    EXPIRED = "expired", "Expired: ended by its deadline"


# A finished job takes no more claims and its escrow is settled: what its remaining work can no longer cost goes back
# to the requester. Work claimed before the end may still be submitted until its own expiry; results stay readable.
FINISHED_STATUSES: frozenset[str] = frozenset({JobStatus.COMPLETED, JobStatus.CANCELLED, JobStatus.EXPIRED})


class ClaimOrder(models.TextChoices):
    """Which task a claim gets (`MicroTask.rank`, lowest first, then the upload's order)."""

    UPLOADED = "uploaded", "As uploaded"
    PRIORITY = "priority", "By the items' priority (their `priority` field: higher first)"
    UNCERTAIN = "uncertain", "Least certain first: the lowest confidence, or a model's lowest score before any answer"


class WorkerModel(models.TextChoices):
    """How a single-choice job's aggregation models each worker (`marketplace.aggregation.em`)."""

    DAWID_SKENE = "dawid_skene", "Full Dawid-Skene: a confusion matrix per worker"
    ONE_COIN = "one_coin", "One-coin: one accuracy per worker, errors spread evenly"
    CLASS_ONE_COIN = "class_one_coin", "Class one-coin: an accuracy per worker and true class, errors spread evenly"
    AUTO = "auto", "Chosen at each aggregation run: the better predictor of held-out answers"


class Job(models.Model):
    """A requester's labelling job: what to ask, how many answers per item, and what it pays.

    The status only changes through `marketplace.services.jobs.job_transition`, which holds the lifecycle rules.
    """

    requester = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="jobs")
    title = models.CharField(max_length=200)
    instructions = models.TextField(blank=True)
    label_schema = models.JSONField(help_text='What workers answer, e.g. {"type": "single_choice", "classes": [...]}.')
    item_schema = models.JSONField(
        default=dict,
        blank=True,
        help_text='Fields each item must carry, e.g. {"fields": [{"name": "text", "type": "string"}]}.',
    )
    overlap_min = models.PositiveSmallIntegerField(default=3, validators=[MinValueValidator(1)])
    overlap_max = models.PositiveSmallIntegerField(default=3, validators=[MinValueValidator(1), MaxValueValidator(50)])
    items_per_task = models.PositiveSmallIntegerField(
        default=10, validators=[MinValueValidator(1), MaxValueValidator(100)]
    )
    reward_cents = models.BigIntegerField(
        validators=[MinValueValidator(1)], help_text="Pay per micro-task, in minor units (cents)."
    )
    currency = models.CharField(max_length=3, default="USD")
    gold_ratio = models.DecimalField(
        max_digits=4,
        decimal_places=3,
        default=Decimal("0.1"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("0.5"))],
        help_text="Share of hidden gold in an assignment; fixes the gold items each assignment holds "
        "(gold_per_assignment).",
    )
    assignment_duration = models.DurationField(
        default=timedelta(minutes=30), help_text="Time a worker has to submit a claimed micro-task."
    )
    max_open_assignments = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1)], help_text="Open assignments a worker may hold on this job."
    )
    daily_cap = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="Assignments one worker may claim on this job per day (UTC; a released one counts); empty: no cap.",
    )
    deadline = models.DateTimeField(null=True, blank=True)
    # The language a worker needs to read the items, from the list Django keeps (ISO 639 codes, some with a region
    # or script: "en", "pt-br", "zh-hans"); empty when the work needs none in particular (most image jobs).
    language = models.CharField(
        max_length=7,
        blank=True,
        choices=global_settings.LANGUAGES,
        help_text="The language workers need to read the items (a code of Django's LANGUAGES); empty: none.",
    )
    prelabel_model = models.CharField(
        max_length=100,
        blank=True,
        help_text="Show workers this model version's prediction on every item as a starting point (empty: none).",
    )
    continuous = models.BooleanField(
        default=False,
        help_text="A continuous job stays open when its tasks are done, for the items its requester appends next "
        "(a training loop); it ends when the requester cancels it or its deadline passes.",
    )
    claim_order = models.CharField(
        max_length=10,
        choices=ClaimOrder.choices,
        default=ClaimOrder.UPLOADED,
        help_text="The order claims serve tasks in: as uploaded, by the items' `priority` field, or the least certain "
        "first (re-ranked after each aggregation).",
    )
    worker_model = models.CharField(
        max_length=16,
        choices=WorkerModel.choices,
        default=WorkerModel.DAWID_SKENE,
        help_text="Single-choice jobs: how the aggregation models each worker; `auto` cross-validates one-coin, "
        "class one-coin and full Dawid-Skene over the job's answers at each run and keeps the best.",
    )
    confidence_target = models.FloatField(
        default=0.95,
        validators=[MinValueValidator(0.5), MaxValueValidator(0.9999)],
        help_text="Adaptive overlap (overlap_min < overlap_max): an item needs no more answers at this confidence.",
    )
    # Who may work: qualifications (JobQualification rows) and a minimum platform reputation.
    min_reputation = models.FloatField(
        null=True, blank=True, validators=[MinValueValidator(0.0), MaxValueValidator(1.0)]
    )
    # Quality control on live work: after `min_gold` graded gold answers, a worker whose class-balanced gold accuracy
    # is credibly below `gold_block_threshold` (see marketplace.services.quality) is blocked from the job.
    min_gold = models.PositiveSmallIntegerField(default=5, validators=[MinValueValidator(1)])
    gold_block_threshold = models.FloatField(default=0.6, validators=[MinValueValidator(0.0), MaxValueValidator(1.0)])
    # Anti-abuse: an assignment submitted faster than this many seconds per item is suspicious.
    min_seconds_per_item = models.FloatField(default=0.0, validators=[MinValueValidator(0.0)])
    fast_answer_action = models.CharField(
        max_length=8, choices=[("flag", "Flag the assignment"), ("block", "Block the worker")], default="flag"
    )
    auto_approve_delay = models.DurationField(
        default=timedelta(days=3), help_text="Submitted work is approved (and paid) automatically after this delay."
    )
    fee_rate = models.DecimalField(
        max_digits=5, decimal_places=4, null=True, blank=True, help_text="Platform fee on rewards, fixed at launch."
    )
    refunds = models.PositiveIntegerField(default=0, help_text="Escrow refunds made so far (keys the next one).")
    top_ups = models.PositiveIntegerField(
        default=0, help_text="Escrow top-ups for slots added after launch so far (keys the next one)."
    )
    gold_count = models.PositiveIntegerField(
        default=0, editable=False, help_text="Gold items uploaded so far: their numbers are 1 to this."
    )
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.DRAFT)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    launched_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["status", "-id"], name="job_status_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(overlap_min__gte=1), name="job_overlap_min_positive"),
            models.CheckConstraint(condition=Q(overlap_max__gte=F("overlap_min")), name="job_overlap_max_gte_min"),
            models.CheckConstraint(condition=Q(items_per_task__gte=1), name="job_items_per_task_positive"),
            models.CheckConstraint(condition=Q(reward_cents__gte=1), name="job_reward_positive"),
            models.CheckConstraint(
                condition=Q(gold_ratio__gte=0) & Q(gold_ratio__lte=Decimal("0.5")), name="job_gold_ratio_range"
            ),
            models.CheckConstraint(condition=Q(status__in=JobStatus.values), name="job_status_valid"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.title}"

    @property
    def assignment_duration_seconds(self) -> int:
        return int(self.assignment_duration.total_seconds())

    @property
    def gold_per_assignment(self) -> int:
        """The hidden gold items in every assignment of the job: the same number in each, so that an assignment's
        size says nothing about its gold. g / (n + g) = gold_ratio for n = items_per_task gives
        g = n r / (1 - r), rounded half up, and at least 1 when the job has any gold ratio at all."""
        ratio = Decimal(str(self.gold_ratio))
        if ratio <= 0:
            return 0
        exact = self.items_per_task * ratio / (1 - ratio)
        return max(1, int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP)))

    @property
    def items_per_assignment(self) -> int:
        """What a worker sees per assignment: a task's items (items_per_task; the last task of an upload may have
        fewer) and the gold mixed in. The only size the worker API publishes."""
        return self.items_per_task + self.gold_per_assignment


class JobQualification(models.Model):
    """A qualification a worker must hold, with at least `min_score`, to see and claim the job's work."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="requirements")
    qualification = models.ForeignKey("qualification.Qualification", on_delete=models.PROTECT, related_name="+")
    min_score = models.FloatField(default=0.0, validators=[MinValueValidator(0.0), MaxValueValidator(1.0)])

    class Meta:
        constraints = [models.UniqueConstraint(fields=["job", "qualification"], name="job_qualification_unique")]

    def __str__(self) -> str:
        return f"job #{self.job_id} requires {self.qualification_id} >= {self.min_score}"

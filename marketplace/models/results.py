from django.db import models
from django.db.models import Q

from marketplace.models.items import Item
from marketplace.models.jobs import Job


class JobAggregate(models.Model):
    """The latest aggregation of a job's answers. Its row is locked while results are written, so two runs never
    interleave, and a run older than the stored one (fewer answers seen) does not overwrite it."""

    job = models.OneToOneField(Job, on_delete=models.CASCADE, primary_key=True, related_name="aggregate")
    method = models.CharField(max_length=16, default="ds")
    last_answer_id = models.BigIntegerField(default=0, help_text="Highest answer id the run saw.")
    n_answers = models.PositiveIntegerField(default=0)
    n_items = models.PositiveIntegerField(default=0)
    iterations = models.PositiveIntegerField(default=0)
    converged = models.BooleanField(default=False)
    log_likelihood = models.FloatField(null=True, blank=True)
    class_priors = models.JSONField(default=dict, blank=True)
    item_scores = models.JSONField(
        default=dict, blank=True, help_text="Pairwise jobs: the score of each compared id (Bradley-Terry), id -> score."
    )
    excluded_workers = models.PositiveIntegerField(default=0)
    # Single-choice jobs: the worker model the run fitted (`WorkerModel`, never `auto`), why, and under `auto` each
    # candidate's mean log-probability of held-out answers (null where too few answers to cross-validate).
    worker_model = models.CharField(max_length=16, blank=True)
    worker_model_reason = models.CharField(max_length=300, blank=True)
    worker_model_scores = models.JSONField(default=dict, blank=True)
    calibration = models.JSONField(
        null=True,
        blank=True,
        help_text="How the items' confidence was calibrated against the job's gold (gold items used and right, the "
        "temperature learned, the one the answers alone gave), or null: too little answered gold, DS's own confidence.",
    )
    duration_ms = models.PositiveIntegerField(default=0)
    computed_at = models.DateTimeField(null=True, blank=True)
    # A run asked for and not yet finished (stored, then appeals and reputations updated): set when a run is
    # enqueued, cleared by a run whose snapshot came after it. The sweeper enqueues again what stays set.
    requested_at = models.DateTimeField(null=True, blank=True)
    request_attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        indexes = [
            models.Index(
                fields=["requested_at"], condition=Q(requested_at__isnull=False), name="aggregate_requested_idx"
            )
        ]

    def __str__(self) -> str:
        return f"aggregate of job #{self.job_id}"


def posterior_by_class(posterior: list[float] | None, classes: tuple[str, ...]) -> dict[str, float] | None:
    """A stored posterior (a list in label-schema order) as the API serves it: class -> probability; None before
    the first aggregation reaches the item."""
    if not posterior or len(posterior) != len(classes):
        return None
    return dict(zip(classes, posterior, strict=True))


class ItemResult(models.Model):
    """The aggregated label of one (non-gold) item: Dawid-Skene's most probable class and its posterior."""

    item = models.OneToOneField(Item, on_delete=models.CASCADE, primary_key=True, related_name="result")
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="results", db_index=False)
    label = models.JSONField(null=True, blank=True, help_text="Empty while the item has no answer.")
    confidence = models.FloatField(default=0.0)
    posterior = models.JSONField(default=list, help_text="Probability of each class, in label-schema order.")
    answer_count = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["job", "confidence"], name="item_result_job_conf_idx")]

    def __str__(self) -> str:
        return f"result of item {self.item_id}"


class ProgressSnapshot(models.Model):
    """A job's progress at one moment, recorded after an aggregation run when it moved (services/progress.py): the
    dashboard's progress over time. Gold is kept out of every figure, as on the progress page."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="progress_snapshots")
    taken_at = models.DateTimeField()
    items_complete = models.PositiveIntegerField()
    answers = models.PositiveIntegerField()
    assignments_open = models.PositiveIntegerField()

    class Meta:
        indexes = [models.Index(fields=["job", "taken_at"], name="progress_job_time_idx")]

    def __str__(self) -> str:
        return f"job #{self.job_id} at {self.taken_at:%Y-%m-%d %H:%M}: {self.items_complete} items done"

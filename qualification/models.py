"""Qualification types, their tests (questions with answer keys), workers' attempts, and grants."""

from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q


class Qualification(models.Model):
    """A skill a worker proves by passing a test (or is granted by hand), which jobs may require.

    Each attempt draws `questions_per_attempt` questions at random from the pool; a score (share of right
    answers) of at least `pass_mark` grants the qualification, valid for `valid_for` (forever when empty).
    """

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="qualifications")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    label_schema = models.JSONField(help_text='Same machinery as jobs: {"type": "single_choice", "classes": [...]}.')
    pass_mark = models.DecimalField(
        max_digits=4,
        decimal_places=3,
        default=Decimal("0.8"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("1"))],
    )
    questions_per_attempt = models.PositiveSmallIntegerField(default=10, validators=[MinValueValidator(1)])
    time_limit = models.DurationField(default=timedelta(minutes=20))
    retake_cooldown = models.DurationField(default=timedelta(hours=24))
    max_attempts = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Empty: unlimited.")
    valid_for = models.DurationField(null=True, blank=True, help_text="How long a grant lasts; empty: forever.")
    is_public = models.BooleanField(default=False, help_text="Other requesters may require it on their jobs.")
    is_active = models.BooleanField(default=True, help_text="Workers may take the test.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(pass_mark__gte=0) & Q(pass_mark__lte=1), name="qual_pass_mark_range"),
        ]

    def __str__(self) -> str:
        return self.name


class Question(models.Model):
    """One test question: what the worker sees (`payload`) and the answer key, never shown to workers."""

    qualification = models.ForeignKey(Qualification, on_delete=models.CASCADE, related_name="questions")
    payload = models.JSONField()
    answer_key = models.JSONField()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"question {self.pk} of {self.qualification_id}"


class Attempt(models.Model):
    class Status(models.TextChoices):
        STARTED = "started", "Started"
        GRADED = "graded", "Graded"
        EXPIRED = "expired", "Expired"

    qualification = models.ForeignKey(Qualification, on_delete=models.CASCADE, related_name="attempts")
    worker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="attempts")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.STARTED)
    question_ids = models.JSONField(help_text="The questions drawn for this attempt, in the order shown.")
    answers = models.JSONField(null=True, blank=True)
    score = models.FloatField(null=True, blank=True)
    passed = models.BooleanField(null=True, blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    deadline = models.DateTimeField()
    graded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["worker", "qualification", "-started_at"], name="attempt_worker_qual_idx")]
        constraints = [
            # One attempt in progress per worker and qualification.
            models.UniqueConstraint(
                fields=["worker", "qualification"], condition=Q(status="started"), name="attempt_one_open"
            ),
        ]

    def __str__(self) -> str:
        return f"attempt {self.pk} ({self.status})"


class Grant(models.Model):
    """A worker holds a qualification with a score, from a passed test or by hand (with a reason on record).

    Revoking keeps the row (revoked_at, revoked_by, revoke_reason); a worker holds at most one live grant per
    qualification. A grant counts while it is neither revoked nor past `expires_at`.
    """

    class Source(models.TextChoices):
        TEST = "test", "Passed the test"
        MANUAL = "manual", "Granted by hand"

    qualification = models.ForeignKey(Qualification, on_delete=models.CASCADE, related_name="grants")
    worker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="grants")
    score = models.FloatField(validators=[MinValueValidator(0.0), MaxValueValidator(1.0)])
    source = models.CharField(max_length=8, choices=Source.choices)
    attempt = models.ForeignKey(Attempt, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reason = models.CharField(max_length=255, blank=True)
    granted_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    revoke_reason = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["worker", "qualification"], name="grant_worker_qual_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["worker", "qualification"], condition=Q(revoked_at__isnull=True), name="grant_one_live"
            ),
            models.CheckConstraint(condition=Q(score__gte=0) & Q(score__lte=1), name="grant_score_range"),
        ]

    def __str__(self) -> str:
        return f"{self.qualification_id} held by {self.worker_id}"

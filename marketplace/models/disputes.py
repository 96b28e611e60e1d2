from django.conf import settings
from django.db import models
from django.db.models import Q

from marketplace.models.assignments import Assignment
from marketplace.models.jobs import Job


class DisputeKind(models.TextChoices):
    APPEAL = "appeal", "Appeal of a rejection"
    COMPLAINT = "complaint", "Complaint about a worker"


class DisputeStatus(models.TextChoices):
    OPEN = "open", "Open"
    RESOLVED = "resolved", "Resolved"


class DisputeDecision(models.TextChoices):
    OVERTURN = "overturn", "Rejection overturned: approved and paid"
    UPHOLD = "uphold", "Rejection upheld"
    DISMISS = "dismiss", "Complaint dismissed"
    ACT = "act", "Complaint acted on: the worker blocked from the job"


class DisputeAction(models.TextChoices):
    """What a complaint decided `act` did to the worker (recorded on the dispute)."""

    BLOCKED = "blocked", "Blocked from the job, the note as the reason"
    ALREADY_BLOCKED = "already_blocked", "Already blocked from the job"


DECISIONS_BY_KIND: dict[str, tuple[str, ...]] = {
    DisputeKind.APPEAL: (DisputeDecision.OVERTURN, DisputeDecision.UPHOLD),
    DisputeKind.COMPLAINT: (DisputeDecision.DISMISS, DisputeDecision.ACT),
}


class Dispute(models.Model):
    """A worker's appeal of a rejected assignment, or a requester's complaint about a worker on their job.

    Open until decided, once: automatically (an appeal the other workers' answers back is overturned, with
    `resolved_by` empty) or by an admin, with a written note. An assignment is appealed at most once, and a worker
    has at most one open complaint per job (database constraints).
    """

    kind = models.CharField(max_length=16, choices=DisputeKind.choices)
    status = models.CharField(max_length=16, choices=DisputeStatus.choices, default=DisputeStatus.OPEN)
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="disputes", db_index=False)
    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="disputes",
        help_text="The worker concerned: who appealed, or whom the complaint is about.",
    )
    filed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    assignment = models.ForeignKey(
        Assignment, on_delete=models.CASCADE, null=True, blank=True, related_name="appeals", db_index=False
    )
    message = models.TextField()
    # The last automatic check of an appeal: the share of the assignment's real items on which the other workers'
    # answers determine the worker's answer (empty while they determine no item), and why the dispute still waits for
    # an admin (no aggregation yet, too few other answers, too little agreement, or an escrow that cannot pay).
    agreement = models.FloatField(null=True, blank=True)
    pending_reason = models.CharField(max_length=500, blank=True)
    decision = models.CharField(max_length=16, choices=DisputeDecision.choices, blank=True)
    resolution_note = models.TextField(blank=True)
    action = models.CharField(
        max_length=16,
        choices=DisputeAction.choices,
        blank=True,
        help_text="What an `act` decision did: the worker blocked from the job (or found already blocked).",
    )
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["created_at"], condition=Q(status="open"), name="dispute_open_queue_idx"),
            models.Index(fields=["job", "status"], name="dispute_job_status_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["assignment"], name="dispute_one_appeal_per_assignment"),
            models.UniqueConstraint(
                fields=["job", "worker"],
                condition=Q(kind="complaint", status="open"),
                name="dispute_one_open_complaint_per_worker_and_job",
            ),
            models.CheckConstraint(condition=Q(kind__in=DisputeKind.values), name="dispute_kind_valid"),
            models.CheckConstraint(condition=Q(status__in=DisputeStatus.values), name="dispute_status_valid"),
            models.CheckConstraint(
                condition=Q(kind=DisputeKind.APPEAL, assignment__isnull=False)
                | Q(kind=DisputeKind.COMPLAINT, assignment__isnull=True),
                name="dispute_appeal_iff_assignment",
            ),
            models.CheckConstraint(condition=~Q(message=""), name="dispute_has_message"),
            models.CheckConstraint(
                condition=Q(status=DisputeStatus.OPEN, decision="", resolved_at__isnull=True, resolved_by__isnull=True)
                | (
                    Q(status=DisputeStatus.RESOLVED, resolved_at__isnull=False)
                    & ~Q(decision="")
                    & ~Q(resolution_note="")
                ),
                name="dispute_resolution_complete",
            ),
            models.CheckConstraint(
                condition=Q(decision="")
                | Q(kind=DisputeKind.APPEAL, decision__in=DECISIONS_BY_KIND[DisputeKind.APPEAL])
                | Q(kind=DisputeKind.COMPLAINT, decision__in=DECISIONS_BY_KIND[DisputeKind.COMPLAINT]),
                name="dispute_decision_fits_kind",
            ),
            models.CheckConstraint(
                condition=Q(decision=DisputeDecision.ACT, action__in=DisputeAction.values)
                | (~Q(decision=DisputeDecision.ACT) & Q(action="")),
                name="dispute_act_records_its_action",
            ),
            # Only an overturn is ever decided by the system; everything else names the admin who decided it.
            models.CheckConstraint(
                condition=Q(status=DisputeStatus.OPEN)
                | Q(resolved_by__isnull=False)
                | Q(decision=DisputeDecision.OVERTURN),
                name="dispute_only_overturns_are_automatic",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} ({self.status})"

    @property
    def resolved_automatically(self) -> bool:
        return self.status == DisputeStatus.RESOLVED and self.resolved_by_id is None

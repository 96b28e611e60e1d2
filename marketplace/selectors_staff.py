"""What the staff console reads: the disputes queue with each appeal's evidence, flagged gold across jobs, blocks,
and the platform's figures. Each read is a fixed number of queries (pinned in tests/web/test_staff.py)."""

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncHour
from django.utils import timezone

from marketplace.models import (
    Answer,
    Block,
    Dispute,
    DisputeDecision,
    DisputeKind,
    DisputeStatus,
    Item,
    Job,
    JobStatus,
)
from payments.models import Account, AccountKind, Payout, PayoutStatus
from workers.models import Ban

FIGURE_HOURS = 24


@dataclass(frozen=True)
class EvidenceRow:
    """One item of an appealed assignment: what the worker answered, the aggregate's label (real items) or the
    gold key (gold items), and whether they agree."""

    item_id: int
    payload: dict[str, Any]
    answer: Any
    is_gold: bool
    reference: Any  # the gold answer, or the aggregated label
    confidence: float | None

    @property
    def agrees(self) -> bool | None:
        return None if self.reference is None else self.answer == self.reference


def open_dispute_list() -> QuerySet[Dispute]:
    """The open disputes, oldest first (the queue), with the job, worker and assignment in the same query."""
    return (
        Dispute.objects.filter(status=DisputeStatus.OPEN)
        .select_related("job", "worker", "filed_by", "assignment")
        .order_by("created_at", "id")
    )


def recent_decision_list(*, limit: int = 20) -> QuerySet[Dispute]:
    return (
        Dispute.objects.filter(status=DisputeStatus.RESOLVED)
        .select_related("job", "worker", "resolved_by")
        .order_by("-resolved_at")[:limit]
    )


def dispute_evidence(*, disputes: list[Dispute]) -> dict[int, list[EvidenceRow]]:
    """For each appeal, its assignment's answers beside the aggregate or the gold key: one query for the page."""
    by_assignment = {d.assignment_id: d.pk for d in disputes if d.kind == DisputeKind.APPEAL}
    answers = (
        Answer.objects.filter(assignment_id__in=list(by_assignment))
        .select_related("item", "item__result")
        .order_by("assignment_id", "id")
    )
    evidence: dict[int, list[EvidenceRow]] = {pk: [] for pk in by_assignment.values()}
    for answer in answers:
        item = answer.item
        result = getattr(item, "result", None) if not item.is_gold else None
        reference = item.gold_answer if item.is_gold else (result.label if result else None)
        evidence[by_assignment[answer.assignment_id]].append(
            EvidenceRow(
                item_id=item.pk,
                payload=item.payload,
                answer=answer.value,
                is_gold=item.is_gold,
                reference=reference,
                confidence=result.confidence if result else None,
            )
        )
    return evidence


def flagged_gold_list(*, limit: int = 100) -> QuerySet[Item]:
    """Gold keys the job's trusted workers contradicted, not yet settled by the job's requester, across jobs."""
    return (
        Item.objects.filter(is_gold=True, gold_flagged_at__isnull=False, gold_reviewed_at__isnull=True)
        .select_related("job", "job__requester")
        .order_by("gold_flagged_at")[:limit]
    )


def block_list(*, limit: int = 100) -> QuerySet[Block]:
    """Blocks and bans, standing ones first, newest first."""
    return Block.objects.select_related("worker", "requester", "job", "created_by").order_by("lifted_at", "-id")[:limit]


def ban_list(*, limit: int = 100) -> QuerySet[Ban]:
    """Platform-wide bans, standing ones first, newest first."""
    return Ban.objects.select_related("worker", "created_by", "lifted_by").order_by("lifted_at", "-id")[:limit]


def platform_figures() -> dict[str, Any]:
    """The platform at a glance: active jobs, answers per hour (the last day), payouts pending, the share of
    decided appeals that were overturned, and the money held in escrow per currency."""
    appeals = Dispute.objects.filter(kind=DisputeKind.APPEAL, status=DisputeStatus.RESOLVED).aggregate(
        decided=Count("id"), overturned=Count("id", filter=Q(decision=DisputeDecision.OVERTURN))
    )
    payouts = Payout.objects.filter(status__in=[PayoutStatus.REQUESTED, PayoutStatus.SENDING]).count()
    escrow = (
        Account.objects.filter(kind=AccountKind.JOB_ESCROW)
        .values("currency")
        .annotate(total=Sum("balance"))
        .order_by("currency")
    )
    return {
        "active_jobs": Job.objects.filter(status=JobStatus.ACTIVE).count(),
        "answers_per_hour": per_hour(Answer.objects.all(), "created_at"),
        "payouts_pending": payouts,
        "appeals_decided": appeals["decided"],
        "overturn_rate": appeals["overturned"] / appeals["decided"] if appeals["decided"] else None,
        "escrow": [(row["currency"], row["total"] or 0) for row in escrow],
    }


def per_hour(rows: QuerySet, field: str, *, hours: int = FIGURE_HOURS) -> list[tuple[str, int]]:
    """How many of `rows` have `field` in each of the last `hours` hours (the current one last), labelled by hour:
    one grouped query; an hour with none is a zero."""
    now = timezone.now()
    start = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=hours - 1)
    counts = dict(
        rows.filter(**{f"{field}__gte": start})
        .annotate(hour=TruncHour(field))
        .values_list("hour")
        .annotate(n=Count("pk"))
        .values_list("hour", "n")
    )
    slots = [start + timedelta(hours=i) for i in range(hours)]
    return [(slot.strftime("%H"), counts.get(slot, 0)) for slot in slots]

"""Feeding worker reputation: the marketplace gathers each worker's evidence (platform gold record, the aggregation's
estimated accuracy on their jobs, their approval record) and `workers.services.worker_reputation_update` applies
the formula (documented in `workers.reputation`)."""

from collections.abc import Iterable

from django.db.models import Count, F, Q, Sum

from marketplace.models import Assignment, AssignmentStatus, Participation, ReviewStatus
from workers.models import WorkerProfile
from workers.services import worker_reputation_update


def reputation_recompute(*, worker_ids: Iterable[int]) -> int:
    """Recompute and store the reputation of these workers; returns how many. A few grouped queries in all."""
    ids = list(set(worker_ids))
    gold = {
        w: (right, answered)
        for w, right, answered in WorkerProfile.objects.filter(user_id__in=ids).values_list(
            "user_id", "gold_correct", "gold_answered"
        )
    }
    estimated = {
        row["worker_id"]: row
        for row in Participation.objects.filter(worker_id__in=ids, estimated_accuracy__isnull=False)
        .values("worker_id")
        .annotate(weighted=Sum(F("estimated_accuracy") * F("submitted_assignments")), n=Sum("submitted_assignments"))
    }
    reviews = {
        row["worker_id"]: row
        for row in Assignment.objects.filter(worker_id__in=ids, status=AssignmentStatus.SUBMITTED)
        .exclude(review_status=ReviewStatus.PENDING)
        .values("worker_id")
        .annotate(reviewed=Count("id"), approved=Count("id", filter=Q(review_status=ReviewStatus.APPROVED)))
    }
    for worker_id in ids:
        right, answered = gold.get(worker_id, (0, 0))
        ds = estimated.get(worker_id)
        review = reviews.get(worker_id, {"approved": 0, "reviewed": 0})
        worker_reputation_update(
            worker_id=worker_id,
            gold_right=right,
            gold_answered=answered,
            ds_accuracy=ds["weighted"] / ds["n"] if ds and ds["n"] else None,
            ds_answers=ds["n"] if ds else 0,
            approved=review["approved"],
            reviewed=review["reviewed"],
        )
    return len(ids)


def reputation_recompute_all(*, batch: int = 1000) -> int:
    """Every worker with a record (run by beat)."""
    ids = list(WorkerProfile.objects.values_list("user_id", flat=True)) + list(
        Participation.objects.values_list("worker_id", flat=True).distinct()
    )
    unique = sorted(set(ids))
    return sum(reputation_recompute(worker_ids=unique[i : i + batch]) for i in range(0, len(unique), batch))

"""A requester's standing: what workers see about how a requester treats them, computed from the records.

Over the last `REQUESTER_STANDING_DAYS` days (90 by default), for each requester with reviewed work or decided
appeals in that window:

- `rejected_share` = rejected / reviewed, over their jobs' submitted assignments approved or rejected in the window
  (by the requester, by gold quality control or by auto-approval alike: a worker is paid or not either way);
- `review_hours_median` = the median of reviewed_at - submitted_at over those reviews;
- `pay_hours_median` = the same median over the approved ones only (approval is when the worker is paid);
- `overturned_share` = overturned / decided, over appeals of their rejections decided in the window.

Medians are taken over the latest `MEDIAN_SAMPLE` reviews in the window. Each figure is shown with the count it rests
on (`reviews`, `appeals_decided`) and is null when that count is 0. Workers can hide a requester from their list.
"""

import statistics
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from marketplace.accounts.models import User
from marketplace.errors import NotFound
from marketplace.models import (
    Assignment,
    Dispute,
    DisputeDecision,
    DisputeKind,
    DisputeStatus,
    HiddenRequester,
    RequesterStanding,
    ReviewStatus,
)

MEDIAN_SAMPLE = 10_000
REVIEWED = (ReviewStatus.APPROVED, ReviewStatus.REJECTED)


def requester_standings_recompute(*, now: datetime | None = None) -> int:
    """Recompute the standing of every requester with reviews or decided appeals in the window (beat). A requester
    whose window emptied keeps a standing of zeros, so no stale figure is shown. Returns how many were written."""
    now = now or timezone.now()
    since = now - timedelta(days=settings.REQUESTER_STANDING_DAYS)
    reviewed = Assignment.objects.filter(review_status__in=REVIEWED, reviewed_at__gte=since, submitted_at__isnull=False)
    counts = {
        row["job__requester"]: row
        for row in reviewed.values("job__requester").annotate(
            reviews=Count("id"), rejected=Count("id", filter=Q(review_status=ReviewStatus.REJECTED))
        )
    }
    appeals = {
        row["job__requester"]: row
        for row in Dispute.objects.filter(
            kind=DisputeKind.APPEAL, status=DisputeStatus.RESOLVED, resolved_at__gte=since
        )
        .values("job__requester")
        .annotate(decided=Count("id"), overturned=Count("id", filter=Q(decision=DisputeDecision.OVERTURN)))
    }
    requesters = set(counts) | set(appeals) | set(RequesterStanding.objects.values_list("requester_id", flat=True))
    for requester_id in sorted(requesters):
        review, appeal = counts.get(requester_id, {}), appeals.get(requester_id, {})
        durations = _durations(reviewed.filter(job__requester=requester_id))
        RequesterStanding.objects.update_or_create(
            requester_id=requester_id,
            defaults={
                "reviews": review.get("reviews", 0),
                "rejected": review.get("rejected", 0),
                "review_hours_median": _median_hours(d for d, _ in durations),
                "pay_hours_median": _median_hours(d for d, approved in durations if approved),
                "appeals_decided": appeal.get("decided", 0),
                "appeals_overturned": appeal.get("overturned", 0),
                "computed_at": now,
            },
        )
    return len(requesters)


def _durations(reviews: QuerySet[Assignment]) -> list[tuple[timedelta, bool]]:
    latest = reviews.order_by("-reviewed_at").values_list("submitted_at", "reviewed_at", "review_status")
    return [
        # Both set: the caller reads reviewed assignments with submitted_at not NULL.
        (reviewed - submitted, status == ReviewStatus.APPROVED)  # type: ignore[operator]
        for submitted, reviewed, status in latest[:MEDIAN_SAMPLE]
    ]


def _median_hours(durations: Iterable[timedelta]) -> float | None:
    hours = [d.total_seconds() / 3600 for d in durations]
    return statistics.median(hours) if hours else None


@transaction.atomic
def requester_hide(*, worker: User, requester_id: int) -> HiddenRequester:
    """Hide a requester's jobs from the worker's list of work (idempotent)."""
    if not User.objects.filter(pk=requester_id, is_requester=True).exclude(pk=worker.pk).exists():
        raise NotFound("No such requester.")
    hidden, _ = HiddenRequester.objects.get_or_create(worker=worker, requester_id=requester_id)
    return hidden


def requester_unhide(*, worker: User, requester_id: int) -> None:
    """Show a hidden requester's jobs again (idempotent)."""
    HiddenRequester.objects.filter(worker=worker, requester_id=requester_id).delete()

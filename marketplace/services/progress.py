"""A job's progress over time: a snapshot of its counts after each aggregation run that finds them moved."""

from datetime import datetime

from django.utils import timezone

from marketplace.models import Job, ProgressSnapshot
from marketplace.selectors import job_progress


def progress_snapshot_take(*, job: Job, now: datetime | None = None) -> ProgressSnapshot | None:
    """Record the job's items done, answers and open assignments now; nothing (None) when they equal the last
    snapshot's, so an idle job adds no rows however often it is aggregated. Runs after an aggregation's commit:
    a snapshot is a reading, and one lost to a crash is only a point missing from a plot."""
    progress = job_progress(job=job)
    counts = (progress["items_complete"], progress["answers_collected"], progress["assignments_open"])
    last = (
        ProgressSnapshot.objects.filter(job=job)
        .order_by("-taken_at", "-id")
        .values_list("items_complete", "answers", "assignments_open")
        .first()
    )
    if last == counts:
        return None
    items_complete, answers, assignments_open = counts
    return ProgressSnapshot.objects.create(
        job=job,
        taken_at=now or timezone.now(),
        items_complete=items_complete,
        answers=answers,
        assignments_open=assignments_open,
    )

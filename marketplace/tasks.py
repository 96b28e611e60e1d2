"""Celery tasks: thin wrappers that load by id and call one service."""

from celery import shared_task

from marketplace.services.aggregation import job_aggregate
from marketplace.services.assignments import assignment_expire_overdue
from marketplace.services.uploads import upload_ingest


@shared_task(acks_late=True)
def upload_ingest_task(upload_id: int) -> str | None:
    upload = upload_ingest(upload_id=upload_id)
    return upload.status if upload else None


@shared_task(acks_late=True)
def assignment_expire_overdue_task() -> int:
    """Expire overdue assignments in batches until none is left (run by beat every minute)."""
    total = 0
    while expired := assignment_expire_overdue(limit=500):
        total += expired
    return total


@shared_task(acks_late=True)
def job_aggregate_task(job_id: int) -> int:
    """Re-aggregate a job's answers. Idempotent: a run never overwrites results that saw more answers."""
    return job_aggregate(job_id=job_id).n_answers

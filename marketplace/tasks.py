"""Celery tasks: thin wrappers that load by id and call one service."""

from celery import Task, shared_task
from celery.exceptions import Retry

from marketplace.selectors import finished_job_ids_with_escrow
from marketplace.services.aggregation import job_aggregate
from marketplace.services.assignments import assignment_expire_overdue
from marketplace.services.funding import job_slots_fund_waiting, jobs_slots_fund_waiting
from marketplace.services.reputation import reputation_recompute_all
from marketplace.services.reviews import assignment_auto_approve_due, job_settle
from marketplace.services.uploads import upload_ingest
from marketplace.services.webhooks import webhook_deliver, webhook_deliveries_requeue


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


@shared_task(bind=True, acks_late=True, max_retries=None)
def webhook_deliver_task(self: Task, delivery_id: int) -> str | Retry:
    """One attempt at a webhook delivery; a failed one is retried with backoff (the service counts attempts and
    gives up after the last). Idempotent: a delivered, failed or claimed delivery is not sent again."""
    outcome = webhook_deliver(delivery_id=delivery_id)
    if outcome.retry_in is None:
        return outcome.status
    if self.request.is_eager:
        # In-process (dev, tests): a raised Retry would propagate to the caller (task_eager_propagates); a returned
        # one makes Celery's apply() run the retry at once, countdown ignored, so retries cost no waiting.
        return self.retry(countdown=outcome.retry_in, throw=False)
    raise self.retry(countdown=outcome.retry_in)


@shared_task(acks_late=True)
def webhook_requeue_due_task() -> int:
    """Re-enqueue webhook deliveries whose task was lost (run by beat every minute)."""
    return webhook_deliveries_requeue()


@shared_task(acks_late=True)
def assignment_auto_approve_task() -> int:
    """Approve and pay submitted work whose review delay has passed (run by beat every minute)."""
    return assignment_auto_approve_due()


@shared_task(acks_late=True)
def jobs_settle_task() -> int:
    """Refund escrow that finished jobs no longer need, e.g. once appeal windows close (run by beat hourly)."""
    return sum(job_settle(job_id=job_id) is not None for job_id in finished_job_ids_with_escrow())


@shared_task(acks_late=True)
def reputation_recompute_task() -> int:
    """Recompute every worker's reputation from their gold, aggregation and approval records (beat, hourly)."""
    return reputation_recompute_all()


@shared_task(acks_late=True)
def job_slots_fund_waiting_task(job_id: int) -> int:
    """Open a job's slots that wait for funds, as far as the money allows (queued after a deposit). Idempotent."""
    return job_slots_fund_waiting(job_id=job_id).opened


@shared_task(acks_late=True)
def jobs_slots_fund_waiting_task() -> int:
    """Try every job with slots waiting for funds (run by beat every five minutes). Returns the slots opened."""
    return jobs_slots_fund_waiting()

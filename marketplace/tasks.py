"""Celery tasks: thin wrappers that load by id and call one service."""

from celery import shared_task

from marketplace.selectors import finished_job_ids_with_escrow
from marketplace.services.aggregation import aggregation_resume_stuck, job_aggregate
from marketplace.services.assignments import assignment_expire_overdue
from marketplace.services.deadlines import jobs_expire_due
from marketplace.services.funding import job_slots_fund_waiting, jobs_slots_fund_waiting
from marketplace.services.model_endpoints import model_request_send, model_requests_requeue
from marketplace.services.reputation import reputation_recompute_all
from marketplace.services.reviews import assignment_auto_approve_due, job_settle
from marketplace.services.standing import requester_standings_recompute
from marketplace.services.upload_recovery import upload_resume_stuck
from marketplace.services.uploads import upload_ingest
from marketplace.services.webhooks import webhook_deliver, webhook_deliveries_requeue


@shared_task(acks_late=True)
def upload_ingest_task(upload_id: int) -> str | None:
    upload = upload_ingest(upload_id=upload_id)
    return upload.status if upload else None


@shared_task(acks_late=True)
def upload_resume_stuck_task() -> int:
    """Queue again uploads whose ingest died or whose task was lost; fail those out of attempts (beat, every minute)."""
    return upload_resume_stuck()


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


@shared_task(acks_late=True)
def aggregation_resume_stuck_task() -> int:
    """Enqueue again aggregation runs asked for and never finished (beat, every minute)."""
    return aggregation_resume_stuck()


@shared_task(acks_late=True)
def webhook_deliver_task(delivery_id: int) -> str:
    """One attempt at a webhook delivery. A failed one is not retried here: its next attempt is a due time on the
    row, which `webhook_requeue_due_task` enqueues (a countdown task held by a worker is lost, or with celery 5.7.0
    kills the worker, when the broker restarts). Idempotent: a delivered, failed or claimed delivery is not sent
    again."""
    return webhook_deliver(delivery_id=delivery_id).status


@shared_task(acks_late=True)
def webhook_requeue_due_task() -> int:
    """Enqueue webhook retries that are due, and deliveries whose task was lost (beat, every 10 s)."""
    return webhook_deliveries_requeue()


@shared_task(acks_late=True)
def model_request_send_task(request_id: int) -> str:
    """One attempt at a batch of items for a requester's model endpoint; retries wait on the row, as webhooks'."""
    return model_request_send(request_id=request_id)


@shared_task(acks_late=True)
def model_requests_requeue_task() -> int:
    """Enqueue model requests whose retry is due or whose task was lost (beat, every 10 s)."""
    return model_requests_requeue()


@shared_task(acks_late=True)
def assignment_auto_approve_task() -> int:
    """Approve and pay submitted work whose review delay has passed (run by beat every minute)."""
    return assignment_auto_approve_due()


@shared_task(acks_late=True)
def jobs_expire_due_task() -> int:
    """End the jobs whose deadline has passed, settling their escrow (run by beat every minute)."""
    return jobs_expire_due()


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


@shared_task(acks_late=True)
def requester_standing_recompute_task() -> int:
    """Recompute what workers see of each requester (rejections, time to review and pay, appeals) (beat, 15 min)."""
    return requester_standings_recompute()

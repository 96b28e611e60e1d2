"""Deadlines: a job whose deadline has passed ends with the answers it has (status `expired`).

Claims stop at the deadline (the eligibility rule), and every assignment's own expiry is capped by it, so nothing
new starts after it. Ending the job is what settles its money: `job_transition(action="expire")` sets
`finished_at`, announces `job.expired` and refunds the escrow the remaining work can no longer cost, keeping the
reward of open assignments (still submittable until their own expiry, when a shortened deadline left them past it),
of pending reviews and of rejections that can still be appealed; the hourly settlement frees those later. The
results stay readable and exportable, and are aggregated once more.

Run by beat every minute (`jobs_expire_due`), and lazily when the requester reads the job, so the job never looks
active past its deadline to them even with beat stopped.
"""

from django.db import transaction
from django.utils import timezone

from marketplace.errors import InvalidTransition
from marketplace.models import Job, JobStatus
from marketplace.services.aggregation import aggregation_enqueue
from marketplace.services.jobs import job_past_deadline, job_transition

RUNNING = (JobStatus.ACTIVE, JobStatus.PAUSED)


def job_expire_if_due(*, job: Job) -> Job:
    """End `job` if it is running past its deadline; return it as it now is. No query when it is not due.

    Idempotent and safe against the requester: the transition re-checks status and deadline under the job's lock,
    so a deadline moved, or a job completed or cancelled meanwhile, is left as it is.
    """
    if job.status not in RUNNING or not job_past_deadline(job):
        return job
    with transaction.atomic(durable=True):
        try:
            ended = job_transition(job=job, action="expire")
        except InvalidTransition:
            return Job.objects.get(pk=job.pk)
        aggregation_enqueue(job_id=ended.pk)  # the final results, on what was answered in time
    return ended


def jobs_expire_due(*, limit: int = 500) -> int:
    """End up to `limit` running jobs whose deadline has passed, each in its own transaction. Returns how many."""
    due = Job.objects.filter(status__in=RUNNING, deadline__lte=timezone.now()).order_by("deadline", "id")[:limit]
    return sum(job_expire_if_due(job=job).status == JobStatus.EXPIRED for job in due)

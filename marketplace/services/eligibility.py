"""Guarding claims with the one eligibility rule (`selectors.eligible_jobs`), and saying why a worker is refused."""

from django.utils import timezone

from marketplace.accounts.models import User
from marketplace.errors import NotEligible
from marketplace.models import Job, JobStatus
from marketplace.selectors import eligible_jobs


def ensure_can_work(*, job: Job, worker: User) -> None:
    """Raise `NotEligible`, with the reason, unless `worker` may claim work on `job` now."""
    if not eligible_jobs(worker=worker).filter(pk=job.pk).exists():
        code, message = _reason(job, worker)
        raise NotEligible(message, reason=code)


def _reason(job: Job, worker: User) -> tuple[str, str]:
    job.refresh_from_db(fields=["status", "deadline", "requester"])  # the caller's copy may be stale
    if not worker.is_worker:
        return "not_a_worker", "Take up the worker role first."
    if job.requester_id == worker.pk:
        return "own_job", "You cannot work on your own job."
    if job.status != JobStatus.ACTIVE:
        return "job_not_active", f"The job is {job.status}."
    if job.deadline is not None and job.deadline <= timezone.now():
        return "deadline_passed", "The job's deadline has passed."
    return "blocked", "You are blocked from this job."

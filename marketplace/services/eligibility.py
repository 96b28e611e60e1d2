"""Guarding claims with the one eligibility rule (`selectors.eligible_jobs`, prepared as `eligible_job_get`), and
saying why a worker is refused."""

from django.db.models import Exists, OuterRef
from django.utils import timezone

from marketplace.accounts.models import User
from marketplace.errors import NotEligible
from marketplace.models import Block, Job, JobQualification, JobStatus, Participation
from marketplace.selectors import eligible_job_get, work_job_get
from qualification.selectors import live_grants
from workers.selectors import worker_is_banned, worker_reputation


def ensure_can_work(*, job_id: int, worker: User) -> Job:
    """The job, read through the eligibility rule in one query; `NotEligible` (with the reason) if `worker` may not
    claim work on it now, `NotFound` if there is no such job to work on (drafts included)."""
    job = eligible_job_get(worker=worker, job_id=job_id)
    if job is not None:
        return job
    job = work_job_get(job_id=job_id)
    # No reason: the job turned eligible since the query (a grant just given, a block just lifted). Refused all the
    # same, as the rule said a moment ago; the next claim sees it.
    code, message = _reason(job, worker) or _UNQUALIFIED
    raise NotEligible(message, reason=code)


_UNQUALIFIED = ("not_qualified", "You do not hold every qualification this job requires.")


def _reason(job: Job, worker: User) -> tuple[str, str] | None:
    """Why the eligibility rule refuses `worker` on `job`: the first failed check as (code, message), or None when
    the rule lets them work on it. Each check restates one condition of `selectors._open_to`, the rule itself
    (tests/marketplace/test_eligibility_rule.py holds them to it, case by case)."""
    checks = [
        (not worker.is_worker, "not_a_worker", "Take up the worker role first."),
        (worker_is_banned(worker=worker), "banned", "You are banned from the platform."),
        (job.requester_id == worker.pk, "own_job", "You cannot work on your own job."),
        (job.status != JobStatus.ACTIVE, "job_not_active", f"The job is {job.status}."),
        (job.deadline is not None and job.deadline <= timezone.now(), "deadline_passed", "The deadline has passed."),
        (_blocked(job, worker), "blocked", "You are blocked from this job."),
        (_blocked_by_requester(job, worker), "blocked", "You are blocked from every job of this requester."),
        (_below_reputation(job, worker), "reputation_too_low", "Your reputation is below the job's minimum."),
        (_unqualified(job, worker), *_UNQUALIFIED),
    ]
    for failed, code, message in checks:
        if failed:
            return code, message
    return None


def _blocked(job: Job, worker: User) -> bool:
    return Participation.objects.filter(job=job, worker=worker, blocked_at__isnull=False).exists()


def _blocked_by_requester(job: Job, worker: User) -> bool:
    return Block.objects.filter(
        worker=worker, requester_id=job.requester_id, job__isnull=True, lifted_at__isnull=True
    ).exists()


def _below_reputation(job: Job, worker: User) -> bool:
    return job.min_reputation is not None and worker_reputation(worker=worker) < job.min_reputation


def _unqualified(job: Job, worker: User) -> bool:
    held = live_grants(worker=worker).filter(qualification=OuterRef("qualification"), score__gte=OuterRef("min_score"))
    return JobQualification.objects.filter(job=job).exclude(Exists(held)).exists()

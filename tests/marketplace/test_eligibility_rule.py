"""One eligibility rule: the claim's query (`selectors._open_to`, behind `eligible_jobs` and `eligible_job_get`)
and the reasons a refused worker is told (`services.eligibility`) agree, case by case. Every reason given is a
refusal of the query, and every situation the query refuses has its reason (none the query accepts has one)."""

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.utils import timezone

from marketplace.errors import NotEligible
from marketplace.models import Block, Job, JobQualification, Participation
from marketplace.selectors import eligible_job_get, eligible_jobs
from marketplace.services.eligibility import _reason, ensure_can_work
from qualification.models import Grant
from tests.factories import QualificationFactory, RequesterFactory, UserFactory, WorkerFactory
from tests.marketplace.helpers import launched_job
from workers.models import Ban, WorkerProfile

pytestmark = pytest.mark.django_db
MIN_SCORE, MIN_REPUTATION = 0.8, 0.7
HOUR = timedelta(hours=1)


def _job(**fields) -> Job:
    job = launched_job(RequesterFactory(), n_items=1)
    if fields:
        Job.objects.filter(pk=job.pk).update(**fields)
        job.refresh_from_db()
    return job


def _requiring(score: float | None, **grant) -> Callable[[Job, object], None]:
    """The job requires a qualification at MIN_SCORE; the worker holds it at `score` (None: not at all)."""

    def arrange(job, worker):
        qualification = QualificationFactory(owner=job.requester)
        JobQualification.objects.create(job=job, qualification=qualification, min_score=MIN_SCORE)
        if score is not None:
            Grant.objects.create(worker=worker, qualification=qualification, score=score, source="manual", **grant)

    return arrange


def _with_reputation(reputation: float) -> Callable[[Job, object], None]:
    def arrange(job, worker):
        Job.objects.filter(pk=job.pk).update(min_reputation=MIN_REPUTATION)
        WorkerProfile.objects.update_or_create(user=worker, defaults={"reputation": reputation})

    return arrange


def _banned(lifted: bool) -> Callable[[Job, object], None]:
    def arrange(job, worker):
        admin = UserFactory(is_staff=True)
        Ban.objects.create(worker=worker, reason="x", created_by=admin, lifted_at=timezone.now() if lifted else None)

    return arrange


def _blocked_by_requester(lifted: bool) -> Callable[[Job, object], None]:
    def arrange(job, worker):
        Block.objects.create(
            worker=worker, requester=job.requester, source="requester", reason="no", created_by=job.requester,
            lifted_at=timezone.now() if lifted else None, lift_reason="ok" if lifted else "",
        )  # fmt: skip

    return arrange


def _blocked_on_the_job(job, worker):
    Participation.objects.create(job=job, worker=worker, blocked_at=timezone.now())


def _someone_else_blocked(job, worker):
    Block.objects.create(worker=WorkerFactory(), requester=job.requester, source="staff", reason="x")


def _nothing(job, worker):
    pass


def _as_status(status: str) -> Callable[[Job, object], None]:
    return lambda job, worker: Job.objects.filter(pk=job.pk).update(status=status)


def _with_deadline(delta: timedelta) -> Callable[[Job, object], None]:
    return lambda job, worker: Job.objects.filter(pk=job.pk).update(deadline=timezone.now() + delta)


# (case, how the situation is arranged, the reason given; None: the worker may work on the job)
CASES = [
    ("an open job", _nothing, None),
    ("a banned worker", _banned(lifted=False), "banned"),
    ("a ban lifted", _banned(lifted=True), None),
    *[(f"a {status} job", _as_status(status), "job_not_active") for status in ("paused", "completed", "cancelled")],
    ("a deadline passed", _with_deadline(-HOUR), "deadline_passed"),
    ("a deadline ahead", _with_deadline(HOUR), None),
    ("blocked on the job", _blocked_on_the_job, "blocked"),
    ("blocked from every job of the requester", _blocked_by_requester(lifted=False), "blocked"),
    ("a requester's block lifted", _blocked_by_requester(lifted=True), None),
    ("another worker blocked by the requester", _someone_else_blocked, None),
    ("a reputation below the job's minimum", _with_reputation(MIN_REPUTATION - 0.01), "reputation_too_low"),
    ("a reputation at the job's minimum", _with_reputation(MIN_REPUTATION), None),
    ("a required qualification not held", _requiring(None), "not_qualified"),
    ("a required qualification held below the score", _requiring(MIN_SCORE - 0.01), "not_qualified"),
    ("a required qualification held at the score", _requiring(MIN_SCORE), None),
    ("a required qualification revoked", _requiring(0.9, revoked_at=timezone.now()), "not_qualified"),
    ("a required qualification expired", _requiring(0.9, expires_at=timezone.now() - HOUR), "not_qualified"),
    ("a required qualification expiring later", _requiring(0.9, expires_at=timezone.now() + HOUR), None),
]


@pytest.mark.parametrize(("arrange", "reason"), [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_the_claims_query_refuses_exactly_where_a_reason_is_given(arrange, reason):
    job, worker = _job(), WorkerFactory()
    arrange(job, worker)
    job.refresh_from_db()

    listed = eligible_jobs(worker=worker).filter(pk=job.pk).exists()
    guarded = eligible_job_get(worker=worker, job_id=job.pk) is not None
    given = _reason(job, worker)

    assert listed == guarded == (reason is None)
    assert (given and given[0]) == reason


@pytest.mark.parametrize(
    ("arrange", "reason"), [case[1:] for case in CASES if case[2]], ids=[c[0] for c in CASES if c[2]]
)
def test_a_refused_claim_is_told_its_reason(arrange, reason):
    job, worker = _job(), WorkerFactory()
    arrange(job, worker)

    with pytest.raises(NotEligible) as refusal:
        ensure_can_work(job_id=job.pk, worker=worker)

    assert refusal.value.extra["reason"] == reason


def test_the_requesters_own_job_and_a_user_who_is_no_worker_are_refused_by_both():
    worker, plain = WorkerFactory(), UserFactory()
    own = launched_job(worker, n_items=1)
    other = _job()

    assert not eligible_jobs(worker=worker).filter(pk=own.pk).exists()
    assert eligible_job_get(worker=worker, job_id=own.pk) is None
    assert _reason(own, worker)[0] == "own_job"
    assert eligible_job_get(worker=plain, job_id=other.pk) is None
    assert _reason(other, plain)[0] == "not_a_worker"

"""A job's daily cap: at most `daily_cap` claims per worker per day (UTC), counted in the claim's own UPDATE, so that
no race of one worker's claims takes more; a released claim counts; the next day starts afresh."""

from datetime import timedelta

import pytest

from marketplace.errors import DailyCapReached, TooManyOpenAssignments
from marketplace.models import Assignment, Participation
from marketplace.services.assignments import (
    assignment_claim,
    assignment_release,
    assignment_submit,
    assignment_submit_and_claim,
)
from tests.factories import WorkerFactory
from tests.marketplace.helpers import answers_for, launched_job
from tests.marketplace.invariants import assignment_invariant_violations
from tests.threads import run_in_threads


def capped_job(requester, *, daily_cap: int | None, max_open: int = 1):
    return launched_job(
        requester, n_items=40, items_per_task=1, overlap_min=1, overlap_max=1,
        max_open_assignments=max_open, daily_cap=daily_cap,
    )  # fmt: skip


def work_one(job, worker) -> Assignment:
    assignment = assignment_claim(job_id=job.pk, worker=worker)
    assignment_submit(assignment_id=assignment.pk, worker=worker, answers=answers_for(assignment))
    return assignment


@pytest.mark.django_db
def test_a_worker_claims_up_to_the_daily_cap_and_is_then_refused_with_its_own_code(api, requester) -> None:
    job = capped_job(requester, daily_cap=2)
    worker, other = WorkerFactory(), WorkerFactory()
    work_one(job, worker), work_one(job, worker)

    refused = api.as_user(worker).post(f"/api/v1/work/jobs/{job.pk}/claim/")

    assert refused.status_code == 409
    assert refused.json()["code"] == "daily_cap_reached"
    assert Participation.objects.get(job=job, worker=worker).open_assignments == 0  # the refused slot rolled back
    assert api.as_user(other).post(f"/api/v1/work/jobs/{job.pk}/claim/").status_code == 201


@pytest.mark.django_db
def test_a_released_claim_counts_and_the_next_day_starts_afresh(requester) -> None:
    job = capped_job(requester, daily_cap=2)
    worker = WorkerFactory()
    released = assignment_claim(job_id=job.pk, worker=worker)
    assignment_release(assignment_id=released.pk, worker=worker)
    work_one(job, worker)
    with pytest.raises(DailyCapReached):
        assignment_claim(job_id=job.pk, worker=worker)

    participation = Participation.objects.get(job=job, worker=worker)
    Participation.objects.filter(pk=participation.pk).update(claimed_on=participation.claimed_on - timedelta(days=1))

    work_one(job, worker)
    participation.refresh_from_db()
    assert participation.claimed_that_day == 1
    work_one(job, worker)
    with pytest.raises(DailyCapReached):
        assignment_claim(job_id=job.pk, worker=worker)


@pytest.mark.django_db
def test_submit_and_claim_at_the_cap_keeps_the_submit_and_says_why_no_next_task(requester) -> None:
    job = capped_job(requester, daily_cap=1)
    worker = WorkerFactory()
    held = assignment_claim(job_id=job.pk, worker=worker)

    submitted, following, refusal = assignment_submit_and_claim(
        assignment_id=held.pk, worker=worker, answers=answers_for(held)
    )

    assert submitted.status == "submitted" and following is None
    assert isinstance(refusal, DailyCapReached)


@pytest.mark.django_db
def test_without_a_cap_the_open_assignments_cap_still_says_its_own_refusal(requester) -> None:
    job = capped_job(requester, daily_cap=None)
    worker = WorkerFactory()
    for _ in range(5):
        work_one(job, worker)
    assignment_claim(job_id=job.pk, worker=worker)

    with pytest.raises(TooManyOpenAssignments):
        assignment_claim(job_id=job.pk, worker=worker)


@pytest.mark.django_db(transaction=True)
def test_one_worker_racing_twelve_claims_gets_exactly_the_daily_cap(requester) -> None:
    job = capped_job(requester, daily_cap=3, max_open=10)
    worker = WorkerFactory()

    outcomes = run_in_threads(12, lambda i: assignment_claim(job_id=job.pk, worker=worker), errors_as_results=True)

    claimed = [o for o in outcomes if isinstance(o, Assignment)]
    refused = [o for o in outcomes if isinstance(o, DailyCapReached)]
    assert (len(claimed), len(refused)) == (3, 9), outcomes
    assert Assignment.objects.filter(job=job, worker=worker).count() == 3
    participation = Participation.objects.get(job=job, worker=worker)
    assert (participation.open_assignments, participation.claimed_that_day) == (3, 3)
    assert assignment_invariant_violations() == []

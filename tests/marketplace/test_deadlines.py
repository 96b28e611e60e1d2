"""A job's deadline ends the job: status `expired`, `finished_at`, its escrow settled, `job.expired` announced; by
beat every minute, and when the requester reads the job. Results stay readable and exportable."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from marketplace.errors import InvalidTransition, JobNotEditable, NotEligible
from marketplace.models import Assignment, Job, JobStatus, WebhookDelivery
from marketplace.services.assignments import assignment_claim, assignment_submit
from marketplace.services.jobs import job_transition, job_update
from marketplace.services.reviews import assignment_approve
from marketplace.services.webhooks import webhook_endpoint_create
from marketplace.tasks import jobs_expire_due_task
from payments.selectors import balance_list
from tests.disputes.helpers import FEE, REWARD, escrow, payable
from tests.factories import WorkerFactory
from tests.marketplace.helpers import answers_for, launched_job
from tests.payments.invariants import ledger_invariant_violations

pytestmark = pytest.mark.django_db
PRICE = REWARD + FEE


def available(user) -> int:
    return sum(b.available for b in balance_list(user=user))


def submit(job, worker=None) -> Assignment:
    worker = worker or WorkerFactory()
    assignment = assignment_claim(job_id=job.pk, worker=worker)
    return assignment_submit(assignment_id=assignment.pk, worker=worker, answers=answers_for(assignment))


def pass_deadline(job: Job) -> None:
    Job.objects.filter(pk=job.pk).update(deadline=timezone.now() - timedelta(seconds=1))


@pytest.fixture
def job(requester) -> Job:
    """Three tasks of two items, two answers each, no gold: 6 assignments of 30 cents in escrow (180)."""
    return launched_job(
        requester,
        n_items=6,
        items_per_task=2,
        overlap_min=2,
        overlap_max=2,
        gold_ratio=0,
        deadline=timezone.now() + timedelta(hours=2),
    )


def test_beat_ends_a_job_past_its_deadline_and_refunds_all_but_what_its_remaining_work_may_cost(job):
    webhook_endpoint_create(owner=job.requester, job=job, url="https://example.com/hooks", events=["job.expired"])
    paid = submit(job)
    assignment_approve(assignment_id=paid.pk, by=job.requester)
    pending = submit(job)
    late_worker = WorkerFactory()
    held = assignment_claim(job_id=job.pk, worker=late_worker)  # its expiry was capped at the old deadline
    pass_deadline(job)  # the requester moved the deadline up: `held` may still be submitted until its own expiry
    before = available(job.requester)

    assert jobs_expire_due_task() == 1
    assert jobs_expire_due_task() == 0  # once

    job.refresh_from_db()
    assert (job.status, job.finished_at is not None) == (JobStatus.EXPIRED, True)
    assert escrow(job) == 2 * PRICE  # the pending review and the open assignment
    assert available(job.requester) == before + 6 * PRICE - PRICE - 2 * PRICE
    [event] = WebhookDelivery.objects.filter(event_type="job.expired")
    assert event.payload["data"] == {"status": "expired", "finished_at": job.finished_at.isoformat()}
    assert ledger_invariant_violations() == []

    late = assignment_submit(assignment_id=held.pk, worker=late_worker, answers=answers_for(held))
    for assignment in (pending, late):
        assignment_approve(assignment_id=assignment.pk, by=job.requester)

    assert payable(late_worker) == REWARD and payable(pending.worker) == REWARD
    assert escrow(job) == 0
    assert available(job.requester) == before + 6 * PRICE - 3 * PRICE
    assert ledger_invariant_violations() == []


def test_beat_runs_the_expiry_every_minute():
    assert settings.CELERY_BEAT_SCHEDULE["expire-jobs-past-deadline"] == {
        "task": "marketplace.tasks.jobs_expire_due_task",
        "schedule": 60.0,
    }


def test_a_paused_job_past_its_deadline_expires_too_and_finished_or_timely_jobs_are_left_alone(requester):
    def make(**fields) -> Job:
        return launched_job(requester, n_items=2, items_per_task=2, gold_ratio=0, **fields)

    paused = job_transition(job=make(deadline=timezone.now() + timedelta(hours=1)), action="pause")
    timely = make(deadline=timezone.now() + timedelta(hours=1))
    cancelled = job_transition(job=make(deadline=timezone.now() + timedelta(hours=1)), action="cancel")
    open_ended = make()
    for late in (paused, cancelled):
        pass_deadline(late)

    assert jobs_expire_due_task() == 1

    statuses = [Job.objects.get(pk=j.pk).status for j in (paused, timely, cancelled, open_ended)]
    assert statuses == [JobStatus.EXPIRED, JobStatus.ACTIVE, JobStatus.CANCELLED, JobStatus.ACTIVE]


def test_the_requester_reading_a_job_past_its_deadline_sees_it_expired_without_waiting_for_beat(
    job, requester_api, django_capture_on_commit_callbacks
):
    submit(job)
    pass_deadline(job)

    with django_capture_on_commit_callbacks(execute=True):
        body = requester_api.get(f"/api/v1/jobs/{job.pk}/").json()

    assert (body["status"], body["finished_at"] is not None) == ("expired", True)
    assert escrow(job) == PRICE  # the pending review only


def test_the_results_of_an_expired_job_stay_readable_and_exportable(
    job, requester_api, django_capture_on_commit_callbacks
):
    submit(job)
    pass_deadline(job)

    with django_capture_on_commit_callbacks(execute=True):
        jobs_expire_due_task()  # and the final aggregation, on commit

    results = requester_api.get(f"/api/v1/jobs/{job.pk}/results/").json()["results"]
    export = requester_api.get(f"/api/v1/jobs/{job.pk}/results/export/?file_format=jsonl")
    assert [r["label"] for r in results] == ["cat", "cat", None, None, None, None]
    assert export.status_code == 200 and len(b"".join(export.streaming_content).splitlines()) == 6


def test_an_expired_job_takes_no_claims_no_edits_and_no_other_move(job):
    pass_deadline(job)
    jobs_expire_due_task()
    job.refresh_from_db()

    with pytest.raises(NotEligible) as refused:
        assignment_claim(job_id=job.pk, worker=WorkerFactory())
    assert refused.value.extra["reason"] == "job_not_active"
    with pytest.raises(JobNotEditable):
        job_update(job=job, deadline=timezone.now() + timedelta(days=1))
    for action in ("resume", "pause", "cancel", "complete"):
        with pytest.raises(InvalidTransition):
            job_transition(job=job, action=action)


def test_a_job_cannot_be_expired_before_its_deadline(job):
    with pytest.raises(InvalidTransition):
        job_transition(job=job, action="expire")

    job.refresh_from_db()
    assert job.status == JobStatus.ACTIVE and escrow(job) == 6 * PRICE

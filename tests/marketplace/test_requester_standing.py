"""What workers see of a requester: the share of work rejected, the median hours to review and to pay, the share of
appeals overturned, each with what it rests on, over the last REQUESTER_STANDING_DAYS days; and hiding a requester."""

from datetime import timedelta

import pytest
from django.utils import timezone

from marketplace.models import (
    Assignment,
    AssignmentStatus,
    Dispute,
    DisputeDecision,
    DisputeKind,
    DisputeStatus,
    JobStatus,
    RequesterStanding,
    ReviewStatus,
)
from marketplace.services.standing import requester_standings_recompute
from tests.factories import JobFactory, RequesterFactory, UserFactory, WorkerFactory
from tests.marketplace.helpers import make_tasks

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def reviewed(job, task, worker, *, hours: float, status: str, days_ago: float = 1) -> Assignment:
    """A submitted assignment reviewed `hours` after its submission, `days_ago` days ago."""
    reviewed_at = NOW - timedelta(days=days_ago)
    return Assignment.objects.create(
        job=job,
        task=task,
        worker=worker,
        item_ids=[],
        expires_at=reviewed_at,
        status=AssignmentStatus.SUBMITTED,
        submitted_at=reviewed_at - timedelta(hours=hours),
        reviewed_at=reviewed_at,
        review_status=status,
        reject_reason="Wrong labels." if status == ReviewStatus.REJECTED else "",
    )


def appeal(assignment, decision: str) -> Dispute:
    return Dispute.objects.create(
        kind=DisputeKind.APPEAL,
        status=DisputeStatus.RESOLVED,
        job=assignment.job,
        worker=assignment.worker,
        filed_by=assignment.worker,
        assignment=assignment,
        message="I was right.",
        decision=decision,
        resolution_note="Decided.",
        resolved_at=NOW - timedelta(hours=1),
        resolved_by=UserFactory(is_staff=True),
    )


@pytest.fixture
def history():
    """A requester with four reviews in the window (three approved after 1, 2 and 3 hours, one rejected after 10),
    one long before it, and two decided appeals (one overturned); and a requester with no record at all."""
    requester, newcomer = RequesterFactory(first_name="Ada", last_name="Lovelace"), RequesterFactory()
    job = JobFactory(requester=requester, status=JobStatus.ACTIVE, items_per_task=1)
    tasks = make_tasks(job, 6)
    workers = [WorkerFactory() for _ in range(6)]
    for task, worker, hours, status in zip(
        tasks,
        workers,
        (1, 2, 3, 10),
        [ReviewStatus.APPROVED] * 3 + [ReviewStatus.REJECTED],
        strict=False,
    ):
        reviewed(job, task, worker, hours=hours, status=status)
    reviewed(job, tasks[4], workers[4], hours=500, status=ReviewStatus.REJECTED, days_ago=400)
    rejected = reviewed(job, tasks[5], workers[5], hours=4, status=ReviewStatus.REJECTED)
    appeal(rejected, DisputeDecision.OVERTURN)
    recent = Assignment.objects.filter(review_status=ReviewStatus.REJECTED, reviewed_at__gt=NOW - timedelta(days=30))
    appeal(recent.exclude(pk=rejected.pk).get(), DisputeDecision.UPHOLD)
    return requester, newcomer, job


def test_the_figures_follow_the_documented_formulas_on_a_constructed_history(history):
    requester, newcomer, _ = history

    assert requester_standings_recompute(now=NOW) == 1

    standing = RequesterStanding.objects.get(requester=requester)
    assert (standing.reviews, standing.rejected) == (5, 2)  # 400 days ago is outside the window
    assert standing.rejected_share == pytest.approx(0.4)
    assert standing.review_hours_median == pytest.approx(3.0)  # median of 1, 2, 3, 4, 10
    assert standing.pay_hours_median == pytest.approx(2.0)  # approvals only: 1, 2, 3
    assert (standing.appeals_decided, standing.appeals_overturned, standing.overturned_share) == (2, 1, 0.5)
    assert not RequesterStanding.objects.filter(requester=newcomer).exists()


def test_a_requester_whose_window_emptied_shows_zeros_and_no_figures(history):
    requester, _, _ = history
    requester_standings_recompute(now=NOW)

    requester_standings_recompute(now=NOW + timedelta(days=365))

    standing = RequesterStanding.objects.get(requester=requester)
    assert (standing.reviews, standing.appeals_decided) == (0, 0)
    assert (standing.rejected_share, standing.review_hours_median, standing.overturned_share) == (None, None, None)


def test_workers_see_the_requesters_name_and_standing_on_every_job_never_their_email(api, history):
    requester, newcomer, job = history
    other = JobFactory(requester=newcomer, status=JobStatus.ACTIVE)
    make_tasks(other, 1)
    requester_standings_recompute(now=NOW)

    listed = {j["id"]: j for j in api.as_user(WorkerFactory()).get("/api/v1/work/jobs/").json()["results"]}

    assert listed[job.pk]["requester_name"] == "Ada Lovelace"
    assert listed[job.pk]["requester_standing"]["reviews"] == 5
    assert listed[job.pk]["requester_standing"]["rejected_share"] == pytest.approx(0.4)
    assert listed[other.pk]["requester_name"] == f"Requester #{newcomer.pk}"
    assert listed[other.pk]["requester_standing"] is None
    assert requester.email not in str(listed) and newcomer.email not in str(listed)


def test_a_worker_hides_a_requester_and_shows_them_again(api, history):
    requester, _, job = history
    client = api.as_user(WorkerFactory())

    assert client.post("/api/v1/work/hidden-requesters/", {"requester": requester.pk}).status_code == 201
    assert client.post("/api/v1/work/hidden-requesters/", {"requester": requester.pk}).status_code == 201  # again
    hidden = client.get("/api/v1/work/jobs/").json()["results"]
    listed_hidden = client.get("/api/v1/work/hidden-requesters/").json()["results"]
    assert client.delete(f"/api/v1/work/hidden-requesters/{requester.pk}/").status_code == 204
    shown = client.get("/api/v1/work/jobs/").json()["results"]

    assert job.pk not in [j["id"] for j in hidden]
    assert [(h["requester"], h["requester_name"]) for h in listed_hidden] == [(requester.pk, "Ada Lovelace")]
    assert job.pk in [j["id"] for j in shown]


def test_hiding_someone_who_is_not_a_requester_is_a_404(api):
    worker, other_worker = WorkerFactory(), WorkerFactory()

    response = api.as_user(worker).post("/api/v1/work/hidden-requesters/", {"requester": other_worker.pk})

    assert response.status_code == 404


def test_the_job_list_reads_standings_in_the_same_query(api, history, django_assert_max_num_queries):
    requester, newcomer, _ = history
    for _ in range(3):
        make_tasks(JobFactory(requester=RequesterFactory(), status=JobStatus.ACTIVE), 1)
    requester_standings_recompute(now=NOW)
    client = api.as_user(WorkerFactory())
    client.get("/api/v1/work/jobs/")  # warm: the worker's first request may create their profile

    with django_assert_max_num_queries(4):  # session/auth, count, page (jobs + requesters + standings)
        assert client.get("/api/v1/work/jobs/").status_code == 200

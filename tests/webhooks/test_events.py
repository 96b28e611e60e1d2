"""Domain events reach the requester's endpoints: submitted, reviewed, expired, job completed, results updated."""

from datetime import timedelta

import pytest
from django.utils import timezone

from marketplace.models import Assignment, Item, WebhookDelivery
from marketplace.services.assignments import assignment_expire_overdue
from marketplace.services.webhooks import webhook_emit, webhook_endpoint_update
from marketplace.tasks import assignment_auto_approve_task
from tests.factories import JobFactory, RequesterFactory
from tests.marketplace.helpers import launched_job

pytestmark = pytest.mark.django_db


def claim_and_submit(api, worker, job) -> dict:
    client = api.as_user(worker)
    claimed = client.post(f"/api/v1/work/jobs/{job.pk}/claim/")
    assert claimed.status_code in (200, 201), claimed.json()
    body = claimed.json()
    answers = [{"position": item["position"], "answer": "dog"} for item in body["items"]]
    submitted = client.post(f"/api/v1/work/assignments/{body['id']}/submit/", {"answers": answers}, format="json")
    assert submitted.status_code == 200, submitted.json()
    return body


def test_a_submit_sends_assignment_submitted_with_the_answers_and_nothing_about_gold(
    api, receiver, make_endpoint, requester, worker, django_capture_on_commit_callbacks
):
    job = launched_job(requester, n_items=4, n_gold=4, items_per_task=2, gold_ratio="0.5")
    make_endpoint(requester, job, events=["assignment.submitted"])

    with django_capture_on_commit_callbacks(execute=True):
        claimed = claim_and_submit(api, worker, job)

    [request] = receiver.requests
    assert request.headers["X-Crowdmarket-Event"] == "assignment.submitted"
    event = request.json
    assignment = Assignment.objects.get(pk=claimed["id"])
    real_items = Item.objects.filter(task=assignment.task, is_gold=False)
    assert assignment.gold_total == 2  # the worker saw two hidden gold items...
    assert event["type"] == "assignment.submitted" and event["job"] == job.pk
    data = event["data"]
    assert (data["assignment"], data["task"], data["worker"], data["status"]) == (
        assignment.pk,
        assignment.task_id,
        worker.pk,
        "submitted",
    )
    assert data["answers"] == [  # ...and the requester hears only of the real ones
        {"item": item.pk, "external_id": item.external_id, "answer": "dog"} for item in real_items.order_by("pk")
    ]
    assert b"gold" not in request.body
    gold_ids = set(Item.objects.filter(job=job, is_gold=True).values_list("pk", flat=True))
    assert not gold_ids & {answer["item"] for answer in data["answers"]}


def test_the_last_submit_sends_job_completed_results_updated_and_the_settled_items(
    api, receiver, make_endpoint, requester, worker, django_capture_on_commit_callbacks
):
    job = launched_job(requester, n_items=2, items_per_task=2, overlap_min=1, overlap_max=1, gold_ratio="0")
    make_endpoint(requester, job)

    with django_capture_on_commit_callbacks(execute=True):
        claim_and_submit(api, worker, job)

    assert sorted(e["type"] for e in receiver.events()) == [
        "assignment.submitted",
        "job.completed",
        "job.items_settled",
        "results.updated",
    ]
    [settled] = receiver.events("job.items_settled")
    assert settled["data"]["settled_items_total"] == 2 and len(settled["data"]["items"]) == 2
    [completed] = receiver.events("job.completed")
    job.refresh_from_db()
    assert completed["data"] == {"status": "completed", "finished_at": job.finished_at.isoformat()}
    [results] = receiver.events("results.updated")
    assert results["data"]["n_items"] == 2 and results["data"]["results_url"] == f"/api/v1/jobs/{job.pk}/results/"


def test_an_overdue_assignment_sends_assignment_expired(
    api, receiver, make_endpoint, requester, worker, django_capture_on_commit_callbacks
):
    job = launched_job(requester, n_items=2, items_per_task=2, gold_ratio="0")
    make_endpoint(requester, job)
    claimed = api.as_user(worker).post(f"/api/v1/work/jobs/{job.pk}/claim/").json()
    Assignment.objects.filter(pk=claimed["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))

    with django_capture_on_commit_callbacks(execute=True):
        assert assignment_expire_overdue(job_id=job.pk) == 1

    [event] = receiver.events()
    assert event["type"] == "assignment.expired"
    assert (event["data"]["assignment"], event["data"]["status"]) == (claimed["id"], "expired")
    assert event["data"]["closed_at"]


def test_only_active_endpoints_subscribed_to_the_event_and_scoped_to_the_job_receive_it(
    receiver, make_endpoint, requester, django_capture_on_commit_callbacks
):
    job, other_job = JobFactory(requester=requester), JobFactory(requester=requester)
    stranger = RequesterFactory()
    subscribed = make_endpoint(requester, job, events=["job.completed"])
    account_wide = make_endpoint(requester)
    make_endpoint(requester, job, events=["results.updated"])  # another event
    make_endpoint(requester, other_job)  # another job
    make_endpoint(stranger)  # another requester, account-wide
    switched_off = make_endpoint(requester, job)
    webhook_endpoint_update(endpoint=switched_off, is_active=False)

    with django_capture_on_commit_callbacks(execute=True):
        deliveries = webhook_emit(job=job, event="job.completed", data={})

    assert {d.endpoint_id for d in deliveries} == {subscribed.pk, account_wide.pk}
    assert len(receiver.requests) == 2
    assert len({r.json["id"] for r in receiver.requests}) == 1  # one event, the same id at every endpoint
    assert WebhookDelivery.objects.count() == 2


def test_an_event_nobody_listens_to_costs_one_query_and_writes_nothing(requester, django_assert_num_queries):
    job = JobFactory(requester=requester)

    with django_assert_num_queries(1):
        assert webhook_emit(job=job.pk, event="assignment.submitted", data=lambda: pytest.fail("not needed")) == []


def test_an_unknown_event_is_a_programming_error(requester):
    with pytest.raises(ValueError, match="Unknown webhook event"):
        webhook_emit(job=JobFactory(requester=requester), event="job.exploded", data={})


class TestReviewEvents:
    """Every review announces itself, whoever made it: the requester (approve or reject through `review/`) or the
    auto-approval of work left unreviewed. Each event is recorded by the transaction that made the review."""

    @pytest.fixture
    def submitted(self, api, requester, worker, make_endpoint):
        job = launched_job(requester, n_items=4, n_gold=2, items_per_task=2, gold_ratio="0.5")
        make_endpoint(requester, job, events=["assignment.approved", "assignment.rejected"])
        return Assignment.objects.get(pk=claim_and_submit(api, worker, job)["id"])

    def review(self, requester_api, assignment, body):
        response = requester_api.post(f"/api/v1/jobs/{assignment.job_id}/review/", body, format="json")
        assert response.status_code == 200, response.json()
        return response.json()

    def test_a_requesters_approval_sends_assignment_approved(
        self, requester_api, receiver, submitted, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=True):
            self.review(requester_api, submitted, {"approve": [submitted.pk]})
            self.review(requester_api, submitted, {"approve": [submitted.pk]})  # a retry announces nothing more

        [event] = receiver.events()
        submitted.refresh_from_db()
        assert event["type"] == "assignment.approved" and event["job"] == submitted.job_id
        data = event["data"]
        assert (data["assignment"], data["worker"], data["review_status"], data["automatic"]) == (
            submitted.pk,
            submitted.worker_id,
            "approved",
            False,
        )
        assert data["reviewed_at"] == submitted.reviewed_at.isoformat()
        assert len(data["answers"]) == 2 and b"gold" not in receiver.requests[0].body

    def test_a_requesters_rejection_sends_assignment_rejected_with_the_reason(
        self, requester_api, receiver, submitted, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=True):
            self.review(requester_api, submitted, {"reject": [{"id": submitted.pk, "reason": "Every answer is dog."}]})

        [event] = receiver.events()
        assert event["type"] == "assignment.rejected"
        data = event["data"]
        assert (data["assignment"], data["review_status"], data["reason"], data["automatic"]) == (
            submitted.pk,
            "rejected",
            "Every answer is dog.",
            False,
        )

    def test_the_auto_approval_of_unreviewed_work_sends_assignment_approved(
        self, receiver, submitted, django_capture_on_commit_callbacks
    ):
        Assignment.objects.filter(pk=submitted.pk).update(auto_approve_at=timezone.now() - timedelta(seconds=1))

        with django_capture_on_commit_callbacks(execute=True):
            assert assignment_auto_approve_task() == 1

        [event] = receiver.events()
        assert event["type"] == "assignment.approved"
        assert (event["data"]["assignment"], event["data"]["automatic"]) == (submitted.pk, True)

    def test_a_refused_review_announces_nothing(
        self, requester_api, receiver, submitted, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=True):
            self.review(requester_api, submitted, {"reject": [{"id": submitted.pk, "reason": "No."}]})
            refused = self.review(requester_api, submitted, {"approve": [submitted.pk]})

        assert refused["refused"][0]["code"] == "already_reviewed"
        assert [e["type"] for e in receiver.events()] == ["assignment.rejected"]
        assert WebhookDelivery.objects.count() == 1

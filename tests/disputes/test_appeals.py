"""A worker appeals a rejection of their own assignment: once, with a message, inside the appeal window."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.db import IntegrityError
from django.utils import timezone

from marketplace.models import Assignment, Dispute, DisputeKind, DisputeStatus
from marketplace.services.disputes import appeal_file
from tests.disputes.helpers import payable, rejected, submitted
from tests.factories import WorkerFactory

pytestmark = pytest.mark.django_db


def appeal(api, assignment, message="I answered every item carefully."):
    return api.as_user(assignment.worker).post(
        f"/api/v1/work/assignments/{assignment.pk}/appeal/", {"message": message}, format="json"
    )


def test_a_worker_appeals_their_rejection_inside_the_window(api, job):
    done = rejected(job)

    response = appeal(api, done)

    assert response.status_code == 201
    body = response.json()
    assert (body["kind"], body["status"], body["assignment"], body["job"]) == ("appeal", "open", done.pk, job.pk)
    assert body["message"] == "I answered every item carefully."
    assert body["decision"] == "" and body["resolved_at"] is None and body["resolved_automatically"] is False
    dispute = Dispute.objects.get(assignment=done)
    assert (dispute.worker, dispute.filed_by, dispute.kind) == (done.worker, done.worker, DisputeKind.APPEAL)
    assert dispute.pending_reason.startswith("The job has not been aggregated yet")  # nothing aggregated yet: it waits
    assert payable(done.worker) == 0


def test_an_appeal_a_minute_before_the_window_closes_is_accepted(api, job):
    done = rejected(job)
    Assignment.objects.filter(pk=done.pk).update(
        reviewed_at=timezone.now() - settings.APPEAL_WINDOW + timedelta(minutes=1)
    )

    assert appeal(api, done).status_code == 201


def test_an_appeal_after_the_window_closed_is_refused(api, job):
    done = rejected(job)
    Assignment.objects.filter(pk=done.pk).update(reviewed_at=timezone.now() - settings.APPEAL_WINDOW - timedelta(1))

    response = appeal(api, done)

    assert (response.status_code, response.json()["code"]) == (409, "appeal_window_closed")
    assert "closed_at" in response.json()["extra"]
    assert not Dispute.objects.exists()


def test_an_appeal_needs_a_message(api, job):
    done = rejected(job)

    blank = appeal(api, done, message="   ")
    missing = api.as_user(done.worker).post(f"/api/v1/work/assignments/{done.pk}/appeal/", {}, format="json")

    assert (blank.status_code, blank.json()["code"]) == (400, "invalid")
    assert (missing.status_code, missing.json()["extra"]["fields"].keys()) == (400, {"message"})
    with pytest.raises(Exception, match="message is required"):
        appeal_file(assignment_id=done.pk, worker=done.worker, message=" ")
    assert not Dispute.objects.exists()


def test_an_assignment_is_appealed_only_once(api, job):
    done = rejected(job)

    first = appeal(api, done)
    second = appeal(api, done, message="Please, look again.")

    assert (second.status_code, second.json()["code"]) == (409, "already_appealed")
    assert second.json()["extra"]["dispute"] == first.json()["id"]
    assert Dispute.objects.get().message == "I answered every item carefully."


def test_the_database_refuses_a_second_appeal_of_the_same_assignment(job):
    done = rejected(job)
    fields = {"kind": "appeal", "job": job, "worker": done.worker, "filed_by": done.worker, "assignment": done}
    Dispute.objects.create(message="first", **fields)

    with pytest.raises(IntegrityError):
        Dispute.objects.create(message="second", **fields)


@pytest.mark.parametrize("review", ["pending", "approved"])
def test_only_a_rejected_assignment_can_be_appealed(api, job, review):
    done = submitted(job)
    if review == "approved":
        from marketplace.services.reviews import assignment_approve  # noqa: PLC0415

        assignment_approve(assignment_id=done.pk)

    response = appeal(api, done)

    assert (response.status_code, response.json()["code"]) == (409, "not_appealable")
    assert response.json()["extra"]["review_status"] == review
    assert not Dispute.objects.exists()


def test_nobody_appeals_someone_elses_assignment(api, job, requester):
    done = rejected(job)
    body = {"message": "Mine now."}

    other_worker = api.as_user(WorkerFactory()).post(f"/api/v1/work/assignments/{done.pk}/appeal/", body)
    the_requester = api.as_user(requester).post(f"/api/v1/work/assignments/{done.pk}/appeal/", body)
    missing = api.as_user(done.worker).post("/api/v1/work/assignments/999999/appeal/", body)

    assert (other_worker.status_code, other_worker.json()["code"]) == (404, "not_found")
    assert the_requester.status_code == 403  # no worker role
    assert missing.status_code == 404
    assert not Dispute.objects.exists()


def test_the_worker_follows_their_appeal_and_outsiders_see_nothing(api, job):
    done = rejected(job)
    appeal(api, done)

    mine = api.as_user(done.worker).get("/api/v1/work/disputes/").json()
    open_only = api.as_user(done.worker).get("/api/v1/work/disputes/", {"status": "resolved"}).json()
    outsider = api.as_user(WorkerFactory()).get("/api/v1/work/disputes/").json()

    assert [d["assignment"] for d in mine["results"]] == [done.pk]
    assert mine["results"][0]["status"] == DisputeStatus.OPEN
    assert open_only["count"] == 0
    assert outsider["count"] == 0


def test_the_worker_list_of_disputes_costs_the_same_queries_for_many(api, job, django_assert_max_num_queries):
    worker = WorkerFactory()
    for _ in range(2):  # one assignment per task: the job has two
        appeal(api, rejected(job, worker))

    with django_assert_max_num_queries(2):
        body = api.as_user(worker).get("/api/v1/work/disputes/").json()

    assert body["count"] == 2

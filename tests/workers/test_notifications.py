"""A worker is told, in their inbox and by e-mail as their settings say, when their work is approved or rejected
(with the reason), an appeal is decided, a qualification is granted or revoked, they are blocked or unblocked; each
event once. Nobody else reads their inbox."""

import pytest

from marketplace.services.blocks import job_worker_block, job_worker_unblock
from marketplace.services.disputes import appeal_file, dispute_resolve
from marketplace.services.reviews import assignment_approve, assignment_reject
from qualification.services.grants import grant_manual, grant_revoke
from tests.factories import QualificationFactory, UserFactory, WorkerFactory
from tests.marketplace.helpers import launched_job, work_on
from workers.models import Notification
from workers.notifications import notify

pytestmark = pytest.mark.django_db


def told(worker) -> list[tuple[str, str]]:
    return list(Notification.objects.filter(worker=worker).order_by("id").values_list("kind", "title"))


@pytest.fixture
def job(requester):
    return launched_job(requester, n_items=4, items_per_task=2, overlap_min=1, overlap_max=1, title="Cats")


def test_a_rejection_tells_the_worker_why_in_the_inbox_and_by_email_once(
    job, requester, worker, django_capture_on_commit_callbacks, mailoutbox
):
    assignment = work_on(job, worker, "cat", django_capture_on_commit_callbacks)

    with django_capture_on_commit_callbacks(execute=True):
        assignment_reject(assignment_id=assignment.pk, by=requester, reason="Half of them were dogs.")
    with django_capture_on_commit_callbacks(execute=True):
        assignment_reject(assignment_id=assignment.pk, by=requester, reason="Again.")  # idempotent: no news

    assert told(worker) == [("rejected", "Rejected: your work on “Cats”")]
    assert "Half of them were dogs." in Notification.objects.get(worker=worker).body
    assert [m.to for m in mailoutbox] == [[worker.email]]
    assert "Half of them were dogs." in mailoutbox[0].body


def test_approvals_reach_the_inbox_and_are_emailed_only_if_the_worker_asks(
    api, job, worker, django_capture_on_commit_callbacks, mailoutbox
):
    first, second = (work_on(job, worker, "cat", django_capture_on_commit_callbacks) for _ in range(2))
    with django_capture_on_commit_callbacks(execute=True):
        assignment_approve(assignment_id=first.pk)
    client = api.as_user(worker)
    assert client.patch("/api/v1/work/notification-settings/", {"email": {"approved": True}}).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        assignment_approve(assignment_id=second.pk)

    assert [kind for kind, _ in told(worker)] == ["approved", "approved"]
    assert len(mailoutbox) == 1 and f"#{second.pk}" in mailoutbox[0].body


def test_a_worker_who_turned_rejection_emails_off_gets_only_the_inbox(
    api, job, requester, worker, django_capture_on_commit_callbacks, mailoutbox
):
    api.as_user(worker).patch("/api/v1/work/notification-settings/", {"email": {"rejected": False}})
    assignment = work_on(job, worker, "cat", django_capture_on_commit_callbacks)

    with django_capture_on_commit_callbacks(execute=True):
        assignment_reject(assignment_id=assignment.pk, by=requester, reason="Wrong.")

    assert [kind for kind, _ in told(worker)] == ["rejected"]
    assert mailoutbox == []


def test_an_appeal_decision_a_block_and_its_lifting_are_told(
    job, requester, worker, django_capture_on_commit_callbacks
):
    assignment = work_on(job, worker, "cat", django_capture_on_commit_callbacks)
    assignment_reject(assignment_id=assignment.pk, by=requester, reason="Wrong.")
    dispute = appeal_file(assignment_id=assignment.pk, worker=worker, message="They were cats.")
    dispute_resolve(dispute_id=dispute.pk, decision="overturn", note="They were.", by=UserFactory(is_staff=True))
    job_worker_block(job=job, worker_id=worker.pk, reason="Too fast.", by=requester)
    job_worker_unblock(job=job, worker_id=worker.pk, reason="Sorry.", by=requester)

    assert told(worker) == [
        ("rejected", "Rejected: your work on “Cats”"),
        ("approved", "Approved: your work on “Cats”"),
        ("appeal_decided", "Your appeal was overturned"),
        ("blocked", "You were blocked from the job “Cats”"),
        ("unblocked", "Your block from the job “Cats” was lifted"),
    ]


def test_a_qualification_granted_and_revoked_is_told(requester, worker):
    qualification = QualificationFactory(owner=requester, name="Bird spotter")
    grant = grant_manual(qualification=qualification, worker=worker, score=0.9, reason="Known good", by=requester)
    grant_revoke(grant=grant, reason="Too many errors", by=requester)

    assert told(worker) == [
        ("qualification_granted", "Qualification granted: Bird spotter"),
        ("qualification_revoked", "Qualification revoked: Bird spotter"),
    ]


def test_the_inbox_lists_filters_and_marks_read_only_the_workers_own(api, worker, requester):
    other = WorkerFactory()
    for n in range(3):
        notify(worker_id=worker.pk, kind="approved", key=f"k{n}", title=f"news {n}")
    notify(worker_id=other.pk, kind="approved", key="k0", title="not yours")
    client = api.as_user(worker)
    first = client.get("/api/v1/work/notifications/").json()["results"]

    marked = client.post("/api/v1/work/notifications/read/", {"ids": [first[0]["id"]] + [999999]}).json()
    unread = client.get("/api/v1/work/notifications/?unread=true").json()["results"]
    everything = client.post("/api/v1/work/notifications/read/", {}).json()

    assert [n["title"] for n in first] == ["news 2", "news 1", "news 0"]
    assert marked == {"read": 1} and [n["title"] for n in unread] == ["news 1", "news 0"]
    assert everything == {"read": 2}
    assert Notification.objects.get(worker=other).read_at is None
    assert api.as_user(requester).get("/api/v1/work/notifications/").status_code == 403


def test_unknown_kinds_in_the_settings_are_a_400_naming_the_field(api, worker):
    response = api.as_user(worker).patch("/api/v1/work/notification-settings/", {"email": {"spam": True}})

    assert response.status_code == 400
    assert "email" in response.json()["extra"]["fields"]

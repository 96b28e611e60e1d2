"""The worker's notifications page: their own news only, newest first, marked read with one (CSRF-guarded) form."""

import pytest
from django.test import Client

from tests.factories import RequesterFactory, WorkerFactory
from workers.models import Notification
from workers.notifications import notify

pytestmark = pytest.mark.django_db


def test_a_worker_reads_their_own_notifications_and_marks_them_read():
    worker, other = WorkerFactory(), WorkerFactory()
    notify(worker_id=worker.pk, kind="rejected", key="a", title="Rejected: <b>Cats</b>", body="Reason: dogs.")
    notify(worker_id=other.pk, kind="approved", key="a", title="Not yours")
    page = Client()
    page.force_login(worker)

    html = page.get("/work/notifications/").content.decode()
    page.post("/work/notifications/")

    assert "Rejected: &lt;b&gt;Cats&lt;/b&gt;" in html and "Reason: dogs." in html and "Not yours" not in html
    assert Notification.objects.get(worker=worker).read_at is not None
    assert Notification.objects.get(worker=other).read_at is None


def test_the_notifications_page_is_for_workers_and_its_form_needs_csrf():
    requester, worker = Client(), Client(enforce_csrf_checks=True)
    requester.force_login(RequesterFactory())
    worker.force_login(WorkerFactory())

    assert requester.get("/work/notifications/").status_code == 403
    assert Client().get("/work/notifications/").status_code == 302
    assert worker.post("/work/notifications/").status_code == 403

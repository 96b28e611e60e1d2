"""The Django admin's dispute queue: filters and search, and deciding an open dispute from its page."""

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse

from marketplace.models import Assignment, Dispute, DisputeStatus, ReviewStatus
from marketplace.services.disputes import appeal_file
from tests.disputes.helpers import REWARD, leave_nothing_to_pay_with, payable, payments_for, rejected
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser():
    return UserFactory(is_staff=True, is_superuser=True)


@pytest.fixture
def admin_client(client, superuser):
    client.force_login(superuser)
    return client


@pytest.fixture
def appealed(job):
    done = rejected(job)
    return appeal_file(assignment_id=done.pk, worker=done.worker, message="Every answer is right.")


def change_url(dispute):
    return reverse("admin:marketplace_dispute_change", args=[dispute.pk])


def test_the_queue_lists_filters_and_searches_disputes(admin_client, appealed):
    url = reverse("admin:marketplace_dispute_changelist")

    pages = [
        admin_client.get(url),
        admin_client.get(url, {"status__exact": "open", "kind__exact": "appeal"}),
        admin_client.get(url, {"q": appealed.worker.email}),
        admin_client.get(url, {"status__exact": "resolved"}),
    ]

    assert [p.status_code for p in pages] == [200, 200, 200, 200]
    assert [p.context["cl"].result_count for p in pages] == [1, 1, 1, 0]


def test_an_admin_overturns_an_appeal_from_its_page_and_the_work_is_paid_once(admin_client, superuser, appealed):
    page = admin_client.get(change_url(appealed))
    assert b'name="decide"' in page.content and b'name="note"' in page.content

    response = admin_client.post(change_url(appealed), {"decide": "overturn", "note": "The answers are right."})
    again = admin_client.post(change_url(appealed), {"decide": "overturn", "note": "Twice?"})

    assert response.status_code == 302
    assert again.status_code == 403  # a resolved dispute is read-only
    appealed.refresh_from_db()
    assert (appealed.status, appealed.decision, appealed.resolved_by) == ("resolved", "overturn", superuser)
    assert appealed.resolution_note == "The answers are right."
    assignment = Assignment.objects.get(pk=appealed.assignment_id)
    assert assignment.review_status == ReviewStatus.APPROVED
    assert payments_for(assignment) == 1 and payable(assignment.worker) == REWARD
    assert LogEntry.objects.filter(object_id=str(appealed.pk)).exists()


def test_a_decision_without_a_note_is_a_form_error_and_changes_nothing(admin_client, appealed):
    response = admin_client.post(change_url(appealed), {"decide": "uphold", "note": " "})

    assert response.status_code == 200
    assert "A decision needs a note" in response.content.decode()
    appealed.refresh_from_db()
    assert appealed.status == DisputeStatus.OPEN


def test_saving_without_a_decision_keeps_the_dispute_open(admin_client, appealed):
    response = admin_client.post(change_url(appealed), {"decide": "", "note": ""})

    assert response.status_code == 302
    appealed.refresh_from_db()
    assert appealed.status == DisputeStatus.OPEN


def test_a_decision_the_service_refuses_is_shown_and_the_dispute_stays_open(admin_client, job, appealed):
    leave_nothing_to_pay_with(job)

    response = admin_client.post(change_url(appealed), {"decide": "overturn", "note": "Pay it."}, follow=True)

    assert "Not resolved" in response.content.decode()
    appealed.refresh_from_db()
    assert appealed.status == DisputeStatus.OPEN and payable(appealed.worker) == 0


def test_a_resolved_dispute_shows_its_decision_and_offers_none(admin_client, appealed):
    admin_client.post(change_url(appealed), {"decide": "uphold", "note": "Fair rejection."})

    page = admin_client.get(change_url(appealed))

    assert page.status_code == 200
    assert b'name="decide"' not in page.content
    assert b"Fair rejection." in page.content
    assert Dispute.objects.get(pk=appealed.pk).decision == "uphold"

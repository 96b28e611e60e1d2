"""The staff console without a browser: staff only, the disputes queue with its evidence, decisions through the
disputes service, CSRF, escaping and query counts."""

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from marketplace.models import Assignment, Dispute, DisputeStatus, ReviewStatus
from marketplace.services.blocks import job_worker_block
from marketplace.services.disputes import appeal_file
from marketplace.services.reviews import assignment_reject
from tests.factories import RequesterFactory, UserFactory, WorkerFactory
from tests.marketplace.helpers import launched_job, work_on
from workers.models import Ban

pytestmark = pytest.mark.django_db

PAGES = ("disputes", "gold", "blocks", "figures")


def url(name: str, *args: int) -> str:
    return reverse(f"web:staff:{name}", args=args)


@pytest.fixture
def admin() -> Client:
    client = Client()
    client.force_login(UserFactory(is_staff=True))
    return client


def appeal(callbacks, message: str = "My answers were right") -> Dispute:
    """A one-answer-per-item job (so no other worker can back the appeal): worked, rejected, appealed."""
    job = launched_job(RequesterFactory(), n_items=2, items_per_task=2, overlap_min=1, overlap_max=1)
    worker = WorkerFactory()
    assignment = work_on(job, worker, "cat", callbacks)
    assignment_reject(assignment_id=assignment.pk, by=job.requester, reason="Looks random")
    return appeal_file(assignment_id=assignment.pk, worker=worker, message=message)


def test_staff_pages_send_visitors_to_log_in_and_refuse_requesters_and_workers(client: Client) -> None:
    for name in PAGES:
        assert client.get(url(name)).status_code == 302
    for user in (RequesterFactory(), WorkerFactory()):
        client.force_login(user)
        for name in PAGES:
            assert client.get(url(name)).status_code == 403, name


def test_a_requester_cannot_decide_a_dispute(client: Client, django_capture_on_commit_callbacks) -> None:
    dispute = appeal(django_capture_on_commit_callbacks)
    client.force_login(dispute.job.requester)

    response = client.post(url("decide", dispute.pk), {"decision": "uphold", "note": "mine"})

    assert response.status_code == 403
    dispute.refresh_from_db()
    assert dispute.status == DisputeStatus.OPEN


def test_the_queue_shows_the_workers_answers_beside_the_aggregate_and_escapes_the_message(
    admin: Client, django_capture_on_commit_callbacks
) -> None:
    dispute = appeal(django_capture_on_commit_callbacks, message="<script>alert(1)</script> right!")

    html = admin.get(url("disputes")).content.decode()

    table = re.search(rf'<table aria-label="Evidence for dispute #{dispute.pk}">.*?</table>', html, re.S).group(0)
    assert table.count("<tr>") == 1 + 2  # header + the two real items of the assignment
    assert "<td>cat</td>" in table
    assert "&lt;script&gt;alert(1)&lt;/script&gt; right!" in html and "<script>alert(1)" not in html
    assert "Looks random" in html


def test_overturning_an_appeal_pays_the_worker_with_the_note_on_record(
    admin: Client, django_capture_on_commit_callbacks
) -> None:
    dispute = appeal(django_capture_on_commit_callbacks)

    response = admin.post(url("decide", dispute.pk), {"decision": "overturn", "note": "The answers hold up"})

    assert response.status_code == 302
    dispute.refresh_from_db()
    assert (dispute.status, dispute.decision, dispute.resolution_note) == (
        "resolved",
        "overturn",
        "The answers hold up",
    )
    assert Assignment.objects.get(pk=dispute.assignment_id).review_status == ReviewStatus.APPROVED


def test_a_decision_without_a_note_changes_nothing(admin: Client, django_capture_on_commit_callbacks) -> None:
    dispute = appeal(django_capture_on_commit_callbacks)

    response = admin.post(url("decide", dispute.pk), {"decision": "overturn", "note": ""}, follow=True)

    dispute.refresh_from_db()
    assert dispute.status == DisputeStatus.OPEN
    assert any(m.level_tag == "error" for m in response.context["messages"])


def test_a_decision_the_kind_does_not_allow_is_refused_with_a_message(
    admin: Client, django_capture_on_commit_callbacks
) -> None:
    dispute = appeal(django_capture_on_commit_callbacks)

    response = admin.post(url("decide", dispute.pk), {"decision": "dismiss", "note": "n"}, follow=True)

    dispute.refresh_from_db()
    assert dispute.status == DisputeStatus.OPEN
    assert any("appeal is decided with one of" in str(m) for m in response.context["messages"])


def test_deciding_needs_the_csrf_token(django_capture_on_commit_callbacks) -> None:
    dispute = appeal(django_capture_on_commit_callbacks)
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(UserFactory(is_staff=True))

    assert strict.post(url("decide", dispute.pk), {"decision": "uphold", "note": "n"}).status_code == 403


def test_the_queue_costs_the_same_queries_for_one_dispute_or_three(
    admin: Client, django_capture_on_commit_callbacks
) -> None:
    appeal(django_capture_on_commit_callbacks)
    with CaptureQueriesContext(connection) as one:
        admin.get(url("disputes"))
    appeal(django_capture_on_commit_callbacks)
    appeal(django_capture_on_commit_callbacks)

    with CaptureQueriesContext(connection) as three:
        html = admin.get(url("disputes")).content.decode()

    assert html.count('aria-label="Evidence for dispute') == 3
    assert len(three) == len(one) <= 10


def test_the_figures_page_plots_the_last_24_hours_of_answers(admin: Client, django_capture_on_commit_callbacks) -> None:
    appeal(django_capture_on_commit_callbacks)  # its job is complete: its one task is done
    launched_job(RequesterFactory(), n_items=2, items_per_task=2, overlap_min=1, overlap_max=1)

    response = admin.get(url("figures"))

    html = response.content.decode()
    assert html.count('class="mark"') == 24
    assert response.context["figures"]["active_jobs"] == 1
    assert re.search(r"<title>\d\d: 2</title>", html)  # the hour the two answers came in


def test_the_blocks_page_lists_each_block_with_its_reason_escaped(
    admin: Client, django_capture_on_commit_callbacks
) -> None:
    dispute = appeal(django_capture_on_commit_callbacks)
    job_worker_block(job=dispute.job, worker_id=dispute.worker_id, reason="<b>spam</b>", by=dispute.job.requester)

    html = admin.get(url("blocks")).content.decode()

    assert "&lt;b&gt;spam&lt;/b&gt;" in html and "<b>spam</b>" not in html
    assert f"Job #{dispute.job_id}" in html and "Standing" in html


def test_staff_ban_a_worker_and_lift_the_ban_with_reasons_on_record(admin: Client) -> None:
    worker = WorkerFactory()

    admin.post(url("blocks"), {"worker": worker.pk, "reason": "Bots", "action": "ban"})
    banned = admin.get(url("blocks"))
    admin.post(url("blocks"), {"worker": worker.pk, "reason": "Appeal upheld", "action": "unban"})

    [ban] = Ban.objects.filter(worker=worker)
    assert [b.pk for b in banned.context["bans"]] == [ban.pk] and "Standing" in banned.content.decode()
    assert (ban.reason, ban.lift_reason) == ("Bots", "Appeal upheld") and ban.lifted_at is not None


def test_a_second_ban_or_a_ban_without_a_reason_is_refused_with_a_message(admin: Client) -> None:
    worker = WorkerFactory()
    admin.post(url("blocks"), {"worker": worker.pk, "reason": "Bots", "action": "ban"})

    again = admin.post(url("blocks"), {"worker": worker.pk, "reason": "Again", "action": "ban"}, follow=True)
    blank = admin.post(url("blocks"), {"worker": worker.pk, "reason": "", "action": "unban"})

    assert any("already banned" in str(m) for m in again.context["messages"])
    assert blank.status_code == 400
    assert Ban.objects.filter(worker=worker, lifted_at__isnull=True).count() == 1


def test_a_requester_cannot_ban(client: Client) -> None:
    worker = WorkerFactory()
    client.force_login(RequesterFactory())

    assert client.post(url("blocks"), {"worker": worker.pk, "reason": "x", "action": "ban"}).status_code == 403
    assert not Ban.objects.exists()


def test_the_flagged_gold_page_renders_for_staff(admin: Client) -> None:
    assert admin.get(url("gold")).status_code == 200


@pytest.mark.parametrize(("name", "exactly"), {"disputes": 5, "gold": 3, "blocks": 4, "figures": 7}.items())
def test_each_staff_page_costs_a_pinned_number_of_queries(
    admin: Client, django_capture_on_commit_callbacks, django_assert_num_queries, name: str, exactly: int
) -> None:
    appeal(django_capture_on_commit_callbacks)
    with django_assert_num_queries(exactly):
        assert admin.get(url(name)).status_code == 200

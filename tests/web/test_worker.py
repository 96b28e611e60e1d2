"""The worker's pages without a browser: who may open what, CSRF, escaping, and each page's query count."""

import re
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from marketplace.models import Assignment, AssignmentStatus, Dispute, Item
from marketplace.services.assignments import assignment_claim, assignment_submit
from marketplace.services.reviews import assignment_approve, assignment_reject
from payments.models import Payout
from tests.factories import RequesterFactory, WorkerFactory
from tests.marketplace.helpers import answers_for, launched_job
from workers.models import WorkerProfile

pytestmark = pytest.mark.django_db


@pytest.fixture
def job(requester):
    return launched_job(
        requester, n_items=6, items_per_task=2, overlap_min=1, overlap_max=1, title="Spot the cats", reward_cents=30
    )


@pytest.fixture
def worker_client(worker) -> Client:
    client = Client()
    client.force_login(worker)
    return client


def _answers(assignment: Assignment, label: str = "cat") -> dict[str, str]:
    return {f"answer_{position}": label for position in range(len(assignment.item_ids))}


def test_a_visitor_is_sent_to_log_in(client, job) -> None:
    response = client.get(reverse("web:worker:jobs"))

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_a_requester_who_is_not_a_worker_is_refused_every_worker_page(client, job) -> None:
    client.force_login(RequesterFactory())

    for url in (reverse("web:worker:jobs"), reverse("web:worker:job", args=[job.pk])):
        assert client.get(url).status_code == 403


def test_the_job_list_shows_pay_time_tasks_left_and_filters(worker_client, job, requester) -> None:
    launched_job(requester, n_items=2, overlap_min=1, overlap_max=1, title="Cheap dogs", reward_cents=5)

    page = worker_client.get(reverse("web:worker:jobs")).content.decode()
    filtered = worker_client.get(reverse("web:worker:jobs"), {"q": "cats", "min_reward": "0.10"}).content.decode()

    assert "Spot the cats" in page and "Cheap dogs" in page
    assert "0.30 USD" in page and "1800 s" in page
    assert "Spot the cats" in filtered and "Cheap dogs" not in filtered


def test_a_bad_filter_shows_the_error_on_its_field_and_never_a_500(worker_client, job) -> None:
    response = worker_client.get(reverse("web:worker:jobs"), {"min_reward": "lots"})

    assert response.status_code == 200
    assert "Enter a number." in response.content.decode()


def test_claim_answer_and_submit_bring_the_next_task_at_once(worker_client, worker, job) -> None:
    claimed = worker_client.post(reverse("web:worker:claim", args=[job.pk]))
    first = Assignment.objects.get(worker=worker)
    assert claimed["Location"] == reverse("web:worker:assignment", args=[first.pk])

    submitted = worker_client.post(reverse("web:worker:submit", args=[first.pk]), _answers(first))

    first.refresh_from_db()
    second = Assignment.objects.exclude(pk=first.pk).get(worker=worker)
    assert first.status == AssignmentStatus.SUBMITTED
    assert second.status == AssignmentStatus.OPEN
    assert submitted["Location"] == reverse("web:worker:assignment", args=[second.pk])


def test_a_double_submit_stores_the_answers_once_and_claims_no_extra_task(worker_client, worker, job) -> None:
    first = assignment_claim(job_id=job.pk, worker=worker)
    url = reverse("web:worker:submit", args=[first.pk])

    one = worker_client.post(url, _answers(first))
    two = worker_client.post(url, _answers(first))

    assert one["Location"] == two["Location"]
    assert Assignment.objects.filter(worker=worker).count() == 2
    assert first.answers.count() == len(first.item_ids)


def test_a_reload_brings_the_open_task_back_and_the_job_page_links_to_it(worker_client, worker, job) -> None:
    held = assignment_claim(job_id=job.pk, worker=worker)

    again = worker_client.get(reverse("web:worker:assignment", args=[held.pk]))
    job_page = worker_client.get(reverse("web:worker:job", args=[job.pk])).content.decode()
    claim = worker_client.post(reverse("web:worker:claim", args=[job.pk]))

    assert again.status_code == 200
    assert reverse("web:worker:assignment", args=[held.pk]) in job_page
    assert claim["Location"] == reverse("web:worker:assignment", args=[held.pk])


def test_skip_releases_the_task_and_hands_out_the_next(worker_client, worker, job) -> None:
    held = assignment_claim(job_id=job.pk, worker=worker)

    response = worker_client.post(reverse("web:worker:skip", args=[held.pk]))

    held.refresh_from_db()
    following = Assignment.objects.get(worker=worker, status=AssignmentStatus.OPEN)
    assert held.status == AssignmentStatus.RELEASED
    assert response["Location"] == reverse("web:worker:assignment", args=[following.pk])


def test_a_worker_cannot_open_submit_or_skip_another_workers_task(worker_client, job) -> None:
    other = WorkerFactory()
    theirs = assignment_claim(job_id=job.pk, worker=other)

    assert worker_client.get(reverse("web:worker:assignment", args=[theirs.pk])).status_code == 404
    assert worker_client.post(reverse("web:worker:submit", args=[theirs.pk]), _answers(theirs)).status_code == 404
    assert worker_client.post(reverse("web:worker:skip", args=[theirs.pk])).status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == AssignmentStatus.OPEN


def test_an_expired_task_sends_the_worker_back_to_find_work(worker_client, worker, job) -> None:
    held = assignment_claim(job_id=job.pk, worker=worker)
    Assignment.objects.filter(pk=held.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    response = worker_client.post(reverse("web:worker:submit", args=[held.pk]), _answers(held))

    assert response["Location"] == reverse("web:worker:jobs")
    assert held.answers.count() == 0


def test_a_missing_answer_gets_the_page_again_with_a_400_naming_the_item(worker_client, worker, job) -> None:
    held = assignment_claim(job_id=job.pk, worker=worker)

    response = worker_client.post(reverse("web:worker:submit", args=[held.pk]), {"answer_0": "cat"})

    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    assert held.answers.count() == 0


def test_an_answer_outside_the_classes_gets_a_400_not_a_500(worker_client, worker, job) -> None:
    held = assignment_claim(job_id=job.pk, worker=worker)

    response = worker_client.post(reverse("web:worker:submit", args=[held.pk]), _answers(held, "unicorn"))

    assert response.status_code == 400
    assert response.context["form"].errors["answer_0"]
    assert held.answers.count() == 0


@pytest.mark.parametrize("name", ["claim", "submit", "skip"])
def test_every_form_needs_its_csrf_token(worker, job, name) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(worker)
    held = assignment_claim(job_id=job.pk, worker=worker)
    target = job.pk if name == "claim" else held.pk

    response = client.post(reverse(f"web:worker:{name}", args=[target]), _answers(held))

    assert response.status_code == 403
    held.refresh_from_db()
    assert held.status == AssignmentStatus.OPEN


def test_requester_strings_and_item_fields_render_as_text(worker_client, worker, requester) -> None:
    hostile = "<script>alert(1)</script>"
    job = launched_job(requester, n_items=2, overlap_min=1, overlap_max=1, title=hostile, instructions=hostile)
    held = assignment_claim(job_id=job.pk, worker=worker)
    held.job.item_schema = {"fields": [{"name": "text", "type": "string"}]}
    held.job.save(update_fields=["item_schema"])
    Item.objects.filter(pk__in=held.item_ids).update(payload={"text": hostile})

    pages = [
        worker_client.get(reverse("web:worker:jobs")),
        worker_client.get(reverse("web:worker:job", args=[job.pk])),
        worker_client.get(reverse("web:worker:assignment", args=[held.pk])),
    ]

    for page in pages:
        assert hostile not in page.content.decode()
    assert pages[2].content.decode().count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 3


def test_gold_and_real_items_render_with_the_same_markup(worker_client, worker, requester) -> None:
    job = launched_job(
        requester, n_items=4, n_gold=4, items_per_task=1, overlap_min=1, overlap_max=1, gold_ratio=Decimal("0.5")
    )
    held = assignment_claim(job_id=job.pk, worker=worker)

    page = worker_client.get(reverse("web:worker:assignment", args=[held.pk])).content.decode()

    assert len(held.item_ids) == 2
    assert "gold" not in page.lower()
    assert page.count('<fieldset class="item"') == 2


def test_each_page_runs_a_fixed_number_of_queries_however_many_jobs(
    worker_client, worker, job, requester, django_assert_num_queries
) -> None:
    for number in range(3):  # more jobs, each with its requester: no query per row
        launched_job(RequesterFactory(), n_items=1, overlap_min=1, overlap_max=1, title=f"Other job {number}")
    held = assignment_claim(job_id=job.pk, worker=worker)

    # session, user, then: the jobs (requester joined) + the open tasks
    with django_assert_num_queries(4):
        worker_client.get(reverse("web:worker:jobs"))
    # the job, the open task on it, the qualifications needed
    with django_assert_num_queries(5):
        worker_client.get(reverse("web:worker:job", args=[job.pk]))
    # the assignment with its job, its items
    with django_assert_num_queries(4):
        worker_client.get(reverse("web:worker:assignment", args=[held.pk]))
    # the API's submit-and-claim, with session and user, and the ownership read before the form is built
    with django_assert_num_queries({"postgresql": 13, "sqlite": 20}[connection.vendor]):
        worker_client.post(reverse("web:worker:submit", args=[held.pk]), _answers(held))


def test_earnings_show_the_balance_work_per_job_and_day_and_rejections_with_their_reason(
    worker_client, worker, job, django_assert_num_queries
) -> None:
    first = assignment_claim(job_id=job.pk, worker=worker)
    assignment_submit(assignment_id=first.pk, worker=worker, answers=answers_for(first))
    second = assignment_claim(job_id=job.pk, worker=worker)
    assignment_submit(assignment_id=second.pk, worker=worker, answers=answers_for(second))
    assignment_approve(assignment_id=first.pk)
    assignment_reject(assignment_id=second.pk, by=job.requester, reason="<b>Too fast</b>")

    # session, user, balances, the per-day rows, payouts, rejections, their appeals, quality, profile, blocks
    with django_assert_num_queries(10):
        page = worker_client.get(reverse("web:worker:earnings")).content.decode()

    assert "Earned, ready to pay out: <strong>0.30 USD</strong>" in page
    assert "<td>Spot the cats</td><td>2</td><td>1</td><td>1</td><td>0.30 USD</td>" in page
    assert "&lt;b&gt;Too fast&lt;/b&gt;" in page
    assert "<td>Spot the cats</td><td>2</td><td>0 of 0</td>" in page


def test_earnings_show_the_workers_reputation_and_gold_record_over_every_job(worker_client, worker) -> None:
    WorkerProfile.objects.update_or_create(
        user=worker, defaults={"gold_answered": 50, "gold_correct": 45, "reputation": 0.8125}
    )

    page = worker_client.get(reverse("web:worker:earnings")).content.decode()

    assert "Reputation: <strong>0.81</strong>" in page
    assert "control answers right on every job: 45 of 50" in page


def test_earnings_never_show_another_workers_work(worker_client, job) -> None:
    other = WorkerFactory()
    theirs = assignment_claim(job_id=job.pk, worker=other)
    assignment_submit(assignment_id=theirs.pk, worker=other, answers=answers_for(theirs))

    page = worker_client.get(reverse("web:worker:earnings")).content.decode()

    assert "No work submitted yet." in page
    assert "Reputation: <strong>not yet</strong>" in page


def _rejected(job, worker) -> Assignment:
    held = assignment_claim(job_id=job.pk, worker=worker)
    assignment_submit(assignment_id=held.pk, worker=worker, answers=answers_for(held))
    return assignment_reject(assignment_id=held.pk, by=job.requester, reason="Too fast")


def test_a_worker_appeals_a_rejection_once_and_sees_the_appeal_instead_of_the_button(
    worker_client, worker, job
) -> None:
    rejected = _rejected(job, worker)
    url = reverse("web:worker:appeal", args=[rejected.pk])

    first = worker_client.post(url, {"message": "Every answer was right."}, follow=True)
    second = worker_client.post(url, {"message": "Again."}, follow=True)

    assert Dispute.objects.filter(assignment=rejected).count() == 1
    assert "Appeal filed" in first.content.decode()
    assert "Appeal: " in second.content.decode()
    assert url not in second.content.decode()


def test_an_appeal_without_a_message_files_nothing(worker_client, worker, job) -> None:
    rejected = _rejected(job, worker)

    worker_client.post(reverse("web:worker:appeal", args=[rejected.pk]), {"message": ""})

    assert not Dispute.objects.exists()


def test_a_worker_cannot_appeal_another_workers_rejection(worker_client, job) -> None:
    theirs = _rejected(job, WorkerFactory())

    response = worker_client.post(reverse("web:worker:appeal", args=[theirs.pk]), {"message": "Mine now."})

    assert response.status_code == 404
    assert not Dispute.objects.exists()


def test_the_appeal_form_needs_its_csrf_token(worker, job) -> None:
    rejected = _rejected(job, worker)
    client = Client(enforce_csrf_checks=True)
    client.force_login(worker)

    response = client.post(reverse("web:worker:appeal", args=[rejected.pk]), {"message": "Right."})

    assert response.status_code == 403
    assert not Dispute.objects.exists()


def test_a_payout_request_pays_out_everything_payable_once_however_often_it_is_sent(
    worker_client, worker, job, settings
) -> None:
    settings.PAYOUT_MINIMUM_CENTS = 10
    held = assignment_claim(job_id=job.pk, worker=worker)
    assignment_submit(assignment_id=held.pk, worker=worker, answers=answers_for(held))
    assignment_approve(assignment_id=held.pk)
    page = worker_client.get(reverse("web:worker:earnings")).content.decode()
    key = re.search(r'name="idempotency_key" value="([0-9a-f-]+)"', page).group(1)

    for _ in range(2):
        response = worker_client.post(reverse("web:worker:payout"), {"currency": "USD", "idempotency_key": key})

    assert response["Location"] == reverse("web:worker:earnings")
    payout = Payout.objects.get(worker=worker)
    assert (payout.amount, payout.currency) == (30, "USD")
    assert "Payout of 0.30 USD requested." in worker_client.get(response["Location"]).content.decode()


def test_a_payout_request_without_its_key_is_a_400(worker_client) -> None:
    response = worker_client.post(reverse("web:worker:payout"), {"currency": "USD"})

    assert response.status_code == 400
    assert not Payout.objects.exists()


def test_a_payout_below_the_minimum_is_refused_with_a_message(worker_client, worker, job) -> None:
    held = assignment_claim(job_id=job.pk, worker=worker)
    assignment_submit(assignment_id=held.pk, worker=worker, answers=answers_for(held))
    assignment_approve(assignment_id=held.pk)

    response = worker_client.post(
        reverse("web:worker:payout"), {"currency": "USD", "idempotency_key": str(uuid.uuid4())}, follow=True
    )

    assert not Payout.objects.exists()
    assert "Payout of" not in response.content.decode()
    assert list(response.context["messages"])[0].level_tag == "warning"


def test_workers_read_the_instructions_as_the_requester_previewed_them_sanitised_markdown(
    worker_client, worker, requester
) -> None:
    job = launched_job(
        requester,
        n_items=2,
        overlap_min=1,
        overlap_max=1,
        instructions="Pick **one**.\n\n<script>alert(1)</script> [guide](https://example.com/guide)",
    )
    held = assignment_claim(job_id=job.pk, worker=worker)

    for page in (reverse("web:worker:job", args=[job.pk]), reverse("web:worker:assignment", args=[held.pk])):
        html = worker_client.get(page).content.decode()
        assert "Pick <strong>one</strong>." in html, page
        assert "alert(1)" not in html  # the script dropped, with its content
        assert 'href="https://example.com/guide"' in html


def test_a_job_that_shows_pre_labels_opens_each_item_on_the_models_answer(requester, worker, worker_client) -> None:
    from marketplace.services.jobs import job_transition
    from marketplace.services.predictions import predictions_put
    from marketplace.services.uploads import upload_receive
    from tests.factories import JobFactory
    from tests.marketplace.helpers import csv_file, csv_rows, fund

    job = JobFactory(requester=requester, items_per_task=2, gold_ratio=0, prelabel_model="m1", overlap_min=1)
    upload_receive(job=job, user=requester, file=csv_file(csv_rows(2)), kind="items")
    guesses = ["dog", "cat"]
    items = list(Item.objects.filter(job=job).order_by("position"))
    predictions_put(
        job=job, predictions=[{"item": i.pk, "model": "m1", "answer": g} for i, g in zip(items, guesses, strict=True)]
    )
    fund(job)
    job_transition(job=job, action="launch")
    assignment = assignment_claim(job_id=job.pk, worker=worker)

    page = worker_client.get(reverse("web:worker:assignment", args=[assignment.pk])).content.decode()

    checked = re.findall(r'name="answer_(\d)" value="(\w+)" required checked', page)
    positions = {item_id: position for position, item_id in enumerate(assignment.item_ids)}
    expected = sorted((str(positions[i.pk]), g) for i, g in zip(items, guesses, strict=True))
    assert sorted(checked) == expected
    assert "A model's answer is filled in on every item" in page


def test_without_pre_labels_no_answer_is_filled_in(job, worker, worker_client) -> None:
    assignment = assignment_claim(job_id=job.pk, worker=worker)

    page = worker_client.get(reverse("web:worker:assignment", args=[assignment.pk])).content.decode()

    assert " checked" not in page and "A model's answer" not in page

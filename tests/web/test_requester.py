"""The requester's pages without a browser: who may open them, what the forms do through the services, escaping,
CSRF, and how many queries each page costs."""

import io
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from marketplace.models import (
    Assignment,
    Item,
    ItemResult,
    Job,
    JobStatus,
    MediaFile,
    Participation,
    ProgressSnapshot,
    ReviewStatus,
)
from marketplace.services.agreement import job_agreement
from marketplace.services.jobs import job_create
from marketplace.services.uploads import upload_receive
from payments.selectors import balance_list
from tests.factories import JobFactory, QualificationFactory, RequesterFactory, WorkerFactory
from tests.marketplace.helpers import csv_file, csv_rows, file_of, launched_job, work_on

pytestmark = pytest.mark.django_db

JOB_PAGES = ("job", "dashboard", "results", "review", "task-preview", "agreement")
JOB_POSTS = ("upload", "media", "deposit", "job-launch", "block", "unblock", "gold-review", "complain")


def url(name: str, *args: int) -> str:
    return reverse(f"web:requester:{name}", args=args)


def job_form(**overrides: object) -> dict[str, object]:
    return {
        "title": "Cats or dogs",
        "instructions": "Pick **one**.",
        "answer_type": "single_choice",
        "classes": "cat\ndog\n",
        "item_fields": "image_url",
        "overlap_min": 3,
        "overlap_max": 3,
        "items_per_task": 2,
        "reward_cents": 30,
        "gold_ratio": "0",
        "min_gold": 3,
        "gold_block_threshold": 0.6,
        "deadline": "",
        "confidence_target": 0.95,
        **overrides,
    }


def test_a_visitor_is_sent_to_log_in(client: Client) -> None:
    response = client.get(url("jobs"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_a_visitor_is_sent_to_log_in_from_every_job_page_the_workers_view_included(client: Client) -> None:
    job = JobFactory()

    for name in JOB_PAGES:
        response = client.get(url(name, job.pk))
        assert response.status_code == 302, name
        assert response["Location"].startswith(reverse("account_login")), name


def test_a_worker_cannot_open_any_requester_page(client: Client, requester) -> None:
    job = JobFactory(requester=requester)
    client.force_login(WorkerFactory())

    assert client.get(url("jobs")).status_code == 403
    assert client.get(url("job-new")).status_code == 403
    for name in JOB_PAGES:
        assert client.get(url(name, job.pk)).status_code == 403, name


def test_a_requester_never_sees_another_requesters_job(browser: Client) -> None:
    other = JobFactory(title="Someone else's secret job")

    listing = browser.get(url("jobs"))
    assert "secret" not in listing.content.decode()
    for name in JOB_PAGES:
        assert browser.get(url(name, other.pk)).status_code == 404, name
    for name in JOB_POSTS:
        assert browser.post(url(name, other.pk), {"worker": 1, "reason": "x", "amount": "1"}).status_code == 404
    other.refresh_from_db()
    assert other.status == JobStatus.DRAFT


def test_every_form_needs_the_csrf_token(requester) -> None:
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(requester)
    job = JobFactory(requester=requester)

    assert strict.post(url("job-new"), job_form()).status_code == 403
    assert strict.post(url("job-launch", job.pk)).status_code == 403
    assert strict.post(url("deposit", job.pk), {"amount": "5", "idempotency_key": "k"}).status_code == 403
    assert strict.post(url("media", job.pk), {"files": [file_of(png(), "a.png")]}).status_code == 403
    assert not Job.objects.filter(title="Cats or dogs").exists()
    assert not MediaFile.objects.exists()


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (12, 8), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


def test_a_job_whose_items_name_files_takes_them_on_its_page_and_a_bad_one_keeps_none(browser: Client, requester):
    job = JobFactory(requester=requester, item_schema={"fields": [{"name": "photo", "type": "image"}]})
    plain = JobFactory(requester=requester)

    assert "Upload the files" in browser.get(url("job", job.pk)).content.decode()
    assert "Upload the files" not in browser.get(url("job", plain.pk)).content.decode()
    refused = browser.post(
        url("media", job.pk), {"files": [file_of(png(), "a.png"), file_of(b"not a picture", "b.png")]}
    )
    assert refused.status_code == 400
    assert re.search(r"<td>b\.png</td><td>Not a supported image", refused.content.decode())
    assert not MediaFile.objects.exists()
    sent = browser.post(url("media", job.pk), {"files": [file_of(png(), "a.png"), file_of(png(), "d.png")]})
    assert sent.status_code == 302
    assert set(MediaFile.objects.filter(job=job).values_list("name", flat=True)) == {"a.png", "d.png"}
    assert "2 files stored." in browser.get(url("job", job.pk)).content.decode()


def test_posting_the_guided_form_creates_a_single_choice_draft(browser: Client, requester) -> None:
    response = browser.post(url("job-new"), job_form())

    job = Job.objects.get(requester=requester)
    assert response.status_code == 302 and response["Location"] == url("job", job.pk)
    assert job.status == JobStatus.DRAFT
    assert job.label_schema["classes"] == ["cat", "dog"]
    assert job.item_schema == {"fields": [{"name": "image_url", "type": "string"}]}
    assert (job.overlap_max, job.items_per_task, job.reward_cents) == (3, 2, 30)
    assert job.language == ""


@pytest.mark.parametrize(
    ("answer_type", "fields", "label_schema", "item_schema"),
    [
        ("multi_choice", {"classes": "red\ngreen"}, {"choices": ["red", "green"]}, None),
        ("text", {}, {}, None),
        ("number", {"number_min": "1", "number_max": "5", "number_step": "1"}, {"min": 1, "max": 5, "step": 1}, None),
        ("number", {"number_min": "0", "number_max": "2.5"}, {"min": 0, "max": 2.5}, None),
        ("pairwise", {"allow_tie": "on", "item_fields": "left, right"}, {"allow_tie": True}, ["left", "right"]),
        ("bbox", {"classes": "car\nperson", "item_fields": "photo:image"}, {"labels": ["car", "person"]}, ["photo"]),
        (
            "spans",
            {"classes": "PER\nLOC", "item_fields": "n:integer, doc:text_file"},
            {"labels": ["PER", "LOC"], "text_field": "doc"},
            ["n", "doc"],
        ),
    ],
)
def test_the_guided_form_builds_each_answer_types_schema(
    browser: Client, requester, answer_type, fields, label_schema, item_schema
) -> None:
    response = browser.post(url("job-new"), job_form(answer_type=answer_type, **fields))

    assert response.status_code == 302, response.content.decode()[-3000:]
    job = Job.objects.get(requester=requester)
    assert job.label_schema == {"type": answer_type, **label_schema}
    if item_schema:
        assert [f["name"] for f in job.item_schema["fields"]] == item_schema


def test_a_bad_item_field_type_is_shown_on_the_item_fields(browser: Client, requester) -> None:
    response = browser.post(url("job-new"), job_form(item_fields="photo:picture"))

    assert response.status_code == 400
    assert "must be one of" in response.content.decode()
    assert not Job.objects.filter(requester=requester).exists()


def test_the_guided_form_sets_the_language_workers_search_by(browser: Client, requester) -> None:
    browser.post(url("job-new"), job_form(language="pt-br"))

    assert Job.objects.get(requester=requester).language == "pt-br"


def test_the_guided_form_sets_the_claim_order_and_priority_needs_a_priority_column(browser: Client, requester) -> None:
    refused = browser.post(url("job-new"), job_form(claim_order="priority"))
    browser.post(url("job-new"), job_form(claim_order="priority", item_fields="image_url, priority:number"))

    assert refused.status_code == 400 and refused.context["form"].errors["claim_order"]
    assert Job.objects.get(requester=requester).claim_order == "priority"


def test_the_guided_form_sets_the_worker_model_and_another_answer_type_refuses_one(browser: Client, requester) -> None:
    refused = browser.post(url("job-new"), job_form(answer_type="text", worker_model="one_coin"))
    browser.post(url("job-new"), job_form(worker_model="auto"))
    browser.post(url("job-new"), job_form(title="Default"))

    assert refused.status_code == 400 and refused.context["form"].errors["worker_model"]
    assert Job.objects.get(requester=requester, title="Cats or dogs").worker_model == "auto"
    assert Job.objects.get(requester=requester, title="Default").worker_model == "dawid_skene"


def test_a_schema_the_service_refuses_is_shown_on_the_classes_field(browser: Client, requester) -> None:
    response = browser.post(url("job-new"), job_form(classes="cat\n"))

    assert response.status_code == 400
    assert response.context["form"].errors["classes"]
    assert not Job.objects.filter(requester=requester).exists()


def test_overlap_max_below_overlap_min_is_a_form_error_not_a_500(browser: Client) -> None:
    response = browser.post(url("job-new"), job_form(overlap_min=3, overlap_max=2))

    assert response.status_code == 400
    assert "overlap_max" in response.context["form"].errors


def test_instructions_are_sanitised_markdown_and_the_title_is_escaped(browser: Client, requester) -> None:
    job = JobFactory(
        requester=requester,
        title="<b>bold</b> title",
        instructions="**Look** <script>alert(1)</script>[x](javascript:alert(2))<img src=x onerror=alert(3)>",
    )

    html = browser.get(url("job", job.pk)).content.decode()

    assert "&lt;b&gt;bold&lt;/b&gt; title" in html
    assert "<strong>Look</strong>" in html
    assert "<script>alert" not in html and "javascript:" not in html and "onerror" not in html


def test_the_preview_renders_the_instructions_as_workers_see_them(browser: Client) -> None:
    response = browser.post(url("instructions-preview"), {"instructions": "# Hello\n<script>x()</script>"})

    assert "<h1>Hello</h1>" in response.content.decode()
    assert "<script>" not in response.content.decode()


def test_a_refused_file_lists_its_errors_by_row_and_field_and_keeps_nothing(browser: Client, requester) -> None:
    job = JobFactory(requester=requester, gold_ratio=0)
    bad = csv_file("external_id,image_url\na,https://example.com/a.jpg\nb,not a url\n")

    response = browser.post(url("upload", job.pk), {"file": bad, "kind": "items"})

    assert response.status_code == 400
    html = response.content.decode()
    table = re.search(r'<table aria-label="Errors in the file".*?</table>', html, re.S).group(0)
    assert re.search(r"<td>2</td><td>3</td><td>image_url</td><td>image_url must be an http\(s\) URL.</td>", table)
    assert not Item.objects.filter(job=job).exists()


def test_an_accepted_file_creates_items_and_the_cost_shows_the_shortfall(browser: Client, requester) -> None:
    job = JobFactory(requester=requester, gold_ratio=0, items_per_task=2, overlap_max=3, reward_cents=25)

    response = browser.post(url("upload", job.pk), {"file": csv_file(csv_rows(4)), "kind": "items"})
    page = browser.get(url("job", job.pk))

    assert response.status_code == 302
    assert Item.objects.filter(job=job).count() == 4
    quote = page.context["quote"]
    assert (quote.tasks, quote.assignments) == (2, 6)
    assert quote.shortfall_cents == quote.total_cents == 6 * (25 + quote.fee_cents)
    assert "Shortfall to deposit" in page.content.decode()


def test_a_deposit_then_launch_funds_the_escrow_and_activates_the_job(browser: Client, requester) -> None:
    job = JobFactory(requester=requester, gold_ratio=0, items_per_task=2)
    upload_receive(job=job, user=requester, file=csv_file(csv_rows(4)), kind="items")
    short = browser.get(url("job", job.pk)).context["quote"].shortfall_cents

    browser.post(url("deposit", job.pk), {"amount": str(Decimal(short) / 100), "idempotency_key": "k-1"})
    browser.post(url("deposit", job.pk), {"amount": str(Decimal(short) / 100), "idempotency_key": "k-1"})  # retried
    response = browser.post(url("job-launch", job.pk))

    job.refresh_from_db()
    assert response.status_code == 302 and response["Location"] == url("dashboard", job.pk)
    assert job.status == JobStatus.ACTIVE
    [usd] = balance_list(user=requester)
    assert (usd.available, usd.in_escrow) == (0, short)


def test_launching_without_funds_says_so_and_leaves_a_draft(browser: Client, requester) -> None:
    job = JobFactory(requester=requester, gold_ratio=0)
    upload_receive(job=job, user=requester, file=csv_file(csv_rows(4)), kind="items")

    response = browser.post(url("job-launch", job.pk), follow=True)

    job.refresh_from_db()
    assert job.status == JobStatus.DRAFT
    assert any(m.level_tag == "error" for m in response.context["messages"])


@pytest.fixture
def worked_job(requester, django_capture_on_commit_callbacks):
    job = launched_job(requester, n_items=4, items_per_task=2, overlap_min=2, overlap_max=2)
    good, spammer = WorkerFactory(email="good@example.com"), WorkerFactory(email="<i>spam</i>@example.com")
    for worker, answer in ((good, "cat"), (good, "cat"), (spammer, "dog"), (spammer, "dog")):
        work_on(job, worker, answer, django_capture_on_commit_callbacks)
    return job, good, spammer


def test_the_dashboard_draws_each_plot_with_one_mark_per_bar(browser: Client, worked_job) -> None:
    job, _, spammer = worked_job

    html = browser.get(url("dashboard", job.pk)).content.decode()

    svgs = re.findall(r'<svg role="img" aria-label="([^"]+)".*?</svg>', html, re.S)
    assert svgs == [
        "Progress",
        "Items done over time (UTC)",
        "Answers over time (UTC)",
        "Open assignments over time (UTC)",
        "Submissions per hour, last 24 hours",
        "Confidence of the labels",
        "Items per label",
        "Mean confidence per label",
        "Money (USD, minor units)",
    ]
    marks = [len(re.findall(r'class="mark"', s)) for s in re.findall(r"<svg.*?</svg>", html, re.S)]
    points = ProgressSnapshot.objects.filter(job=job).count()
    assert marks == [4, points, points, points, 24, 10, 3, 3, 2]
    assert re.search(r"<title>\d\d: 4</title>", html)  # this hour's four submissions
    assert f"Worker #{spammer.pk}" in html
    assert spammer.email not in html and "spam&lt;/i&gt;@" not in html  # by number, as in the API: never by e-mail


def test_the_agreement_page_shows_the_apis_figures_overall_and_per_class(browser: Client, worked_job) -> None:
    job, _, _ = worked_job

    html = browser.get(url("agreement", job.pk)).content.decode()

    figures = job_agreement(job=job)
    alpha = figures["krippendorff_alpha"]["value"]
    assert f'<th scope="row">All</th>\n      <td>{alpha:.3f}' in html
    assert all(f'<th scope="row">{label}</th>' in html for label in figures["per_class"])
    assert url("agreement", job.pk) in browser.get(url("dashboard", job.pk)).content.decode()


def test_the_review_page_names_workers_by_number_never_by_e_mail(browser: Client, worked_job) -> None:
    job, good, spammer = worked_job

    html = browser.get(url("review", job.pk)).content.decode()

    assert f"Worker #{good.pk}" in html and f"Worker #{spammer.pk}" in html
    assert good.email not in html and "spam&lt;/i&gt;@" not in html


def test_the_dashboard_costs_the_same_queries_for_two_workers_or_twelve(browser: Client, worked_job) -> None:
    job, _, _ = worked_job
    with CaptureQueriesContext(connection) as two:
        assert browser.get(url("dashboard", job.pk)).status_code == 200
    Participation.objects.bulk_create(Participation(job=job, worker=WorkerFactory()) for _ in range(10))

    with CaptureQueriesContext(connection) as twelve:
        html = browser.get(url("dashboard", job.pk)).content.decode()

    assert html.count("<td>Active</td>") == 12
    assert len(twelve) == len(two) <= 16


def test_blocking_a_worker_from_the_dashboard_goes_through_the_block_service(browser: Client, worked_job) -> None:
    job, good, spammer = worked_job

    browser.post(url("block", job.pk), {"worker": spammer.pk, "reason": "answers dog to everything"})

    participation = Participation.objects.get(job=job, worker=spammer)
    assert participation.blocked_at is not None
    assert participation.block_reason == "answers dog to everything"
    assert Participation.objects.get(job=job, worker=good).blocked_at is None


def test_a_block_without_a_reason_is_refused(browser: Client, worked_job) -> None:
    job, _, spammer = worked_job

    response = browser.post(url("block", job.pk), {"worker": spammer.pk, "reason": ""}, follow=True)

    assert Participation.objects.get(job=job, worker=spammer).blocked_at is None
    assert any(m.level_tag == "error" for m in response.context["messages"])


def test_review_approves_and_rejects_the_ticked_submissions(browser: Client, worked_job) -> None:
    job, good, spammer = worked_job
    good_ids = list(Assignment.objects.filter(job=job, worker=good).values_list("id", flat=True))
    spam_ids = list(Assignment.objects.filter(job=job, worker=spammer).values_list("id", flat=True))

    browser.post(url("review", job.pk), {"assignments": good_ids, "action": "approve"})
    browser.post(url("review", job.pk), {"assignments": spam_ids[:1], "action": "reject", "reason": "all dog"})

    reviews = dict(Assignment.objects.filter(job=job).values_list("id", "review_status"))
    assert {reviews[i] for i in good_ids} == {ReviewStatus.APPROVED}
    assert reviews[spam_ids[0]] == ReviewStatus.REJECTED
    assert reviews[spam_ids[1]] == ReviewStatus.PENDING


def test_rejecting_without_a_reason_is_a_form_error(browser: Client, worked_job) -> None:
    job, _, spammer = worked_job
    ids = list(Assignment.objects.filter(job=job, worker=spammer).values_list("id", flat=True))

    response = browser.post(url("review", job.pk), {"assignments": ids, "action": "reject", "reason": " "})

    assert response.status_code == 400
    assert not Assignment.objects.filter(job=job, review_status=ReviewStatus.REJECTED).exists()


def test_review_refuses_another_jobs_submission(
    browser: Client, worked_job, django_capture_on_commit_callbacks
) -> None:
    job, _, _ = worked_job
    other = launched_job(RequesterFactory(), n_items=2, items_per_task=2, overlap_min=1, overlap_max=1)
    theirs = work_on(other, WorkerFactory(), "cat", django_capture_on_commit_callbacks)

    response = browser.post(url("review", job.pk), {"assignments": [theirs.pk], "action": "approve"})

    assert response.status_code == 400
    theirs.refresh_from_db()
    assert theirs.review_status == ReviewStatus.PENDING


def test_results_list_each_item_with_its_answers_and_filter_by_worker_and_label(browser: Client, worked_job) -> None:
    job, good, _ = worked_job
    outsider = WorkerFactory()

    everything = browser.get(url("results", job.pk))
    by_good = browser.get(url("results", job.pk), {"worker": good.pk})
    by_outsider = browser.get(url("results", job.pk), {"worker": outsider.pk})
    label = everything.context["rows"][0][0].result.label
    by_label = browser.get(url("results", job.pk), {"label": label})

    assert len(everything.context["rows"]) == 4
    assert all(sorted(v for _, v in answers) == ["cat", "dog"] for _, _, answers in everything.context["rows"])
    assert len(by_good.context["rows"]) == 4 and by_outsider.context["rows"] == []
    assert by_label.context["rows"] and all(item.result.label == label for item, _, _ in by_label.context["rows"])


def test_the_export_link_downloads_the_csv_with_the_session(browser: Client, worked_job) -> None:
    job, _, _ = worked_job

    response = browser.get(reverse("job-results-export", args=[job.pk]) + "?format=csv")

    assert response.status_code == 200
    assert b"".join(response.streaming_content).decode().count("\n") == 5  # header + 4 items


def test_job_create_is_the_same_service_the_api_uses(requester) -> None:
    job = job_create(
        requester=requester, title="t", label_schema={"type": "single_choice", "classes": ["a", "b"]}, reward_cents=5
    )
    assert job.status == JobStatus.DRAFT


def test_a_flagged_gold_key_is_listed_and_corrected_from_the_dashboard(browser: Client, requester) -> None:
    job = JobFactory(requester=requester)
    gold = "image_url,gold_label\nhttps://example.com/g.jpg,cat\n"
    upload_receive(job=job, user=requester, file=csv_file(gold, "gold.csv"), kind="gold")
    item = Item.objects.get(job=job, is_gold=True)
    Item.objects.filter(pk=item.pk).update(gold_flagged_at=timezone.now())

    listed = browser.get(url("dashboard", job.pk))
    browser.post(url("gold-review", job.pk), {"item": item.pk, "gold_answer": "dog"})

    assert [i.pk for i in listed.context["flagged_gold"]] == [item.pk]
    item.refresh_from_db()
    assert (item.gold_answer, item.gold_flagged_at) == ("dog", None)
    assert item.gold_reviewed_at is not None


def test_a_gold_answer_outside_the_classes_is_refused_with_a_message(browser: Client, requester) -> None:
    job = JobFactory(requester=requester)
    upload_receive(
        job=job, user=requester, file=csv_file("image_url,gold_label\nhttps://e.com/g.jpg,cat\n"), kind="gold"
    )
    item = Item.objects.get(job=job, is_gold=True)

    response = browser.post(url("gold-review", job.pk), {"item": item.pk, "gold_answer": "wolf"}, follow=True)

    item.refresh_from_db()
    assert item.gold_answer == "cat"
    assert any(m.level_tag == "error" for m in response.context["messages"])


def test_a_complaint_is_filed_and_listed_with_its_state(browser: Client, worked_job) -> None:
    job, _, spammer = worked_job

    browser.post(url("complain", job.pk), {"worker": spammer.pk, "message": "Always <dog>"})
    page = browser.get(url("review", job.pk))

    [complaint] = page.context["disputes"]
    assert (complaint.kind, complaint.status, complaint.worker_id) == ("complaint", "open", spammer.pk)
    assert "Open" in page.content.decode()


def test_the_workers_table_shows_each_confusion_matrix_in_percent(browser: Client, worked_job) -> None:
    job, good, _ = worked_job
    Participation.objects.filter(job=job, worker=good).update(confusion=[[0.9, 0.1, 0], [0.25, 0.75, 0], [0, 0.5, 0.5]])

    html = browser.get(url("dashboard", job.pk)).content.decode()

    table = re.search(rf'<table class="heatmap" aria-label="Confusion of worker #{good.pk}">.*?</table>', html, re.S)
    assert re.findall(r"<td[^>]*>(\d+) %</td>", table.group(0)) == ["90", "10", "0", "25", "75", "0", "0", "50", "50"]


def test_the_dashboard_offers_the_moves_the_status_allows_and_pausing_works(browser: Client, requester) -> None:
    job = launched_job(requester, n_items=2, items_per_task=2)

    offered = browser.get(url("dashboard", job.pk)).context["actions"]
    browser.post(url("job-pause", job.pk))
    job.refresh_from_db()

    assert offered == ["pause", "cancel"]
    assert job.status == JobStatus.PAUSED
    assert browser.get(url("dashboard", job.pk)).context["actions"] == ["resume", "cancel"]


def test_the_results_pager_keeps_every_filter(browser: Client, requester) -> None:
    job = launched_job(requester, n_items=60, items_per_task=10)

    page = browser.get(url("results", job.pk), {"below": "0.9", "worker": "7", "label": "a&b"})

    assert page.context["query"] == "label=a%26b&below=0.9&worker=7"


def test_the_form_requires_the_qualifications_ticked_and_offers_only_usable_ones(browser: Client, requester) -> None:
    mine, foreign = QualificationFactory(owner=requester), QualificationFactory()

    offered = browser.get(url("job-new")).context["form"].fields["qualifications"].queryset
    browser.post(url("job-new"), job_form(qualifications=[mine.pk], confidence_target=0.9, min_reputation=0.5))
    refused = browser.post(url("job-new"), job_form(title="other", qualifications=[foreign.pk]))

    job = Job.objects.get(requester=requester)
    assert set(offered) == {mine}
    assert [r.qualification_id for r in job.requirements.all()] == [mine.pk]
    assert (job.confidence_target, job.min_reputation) == (0.9, 0.5)
    assert refused.status_code == 400 and "qualifications" in refused.context["form"].errors


def test_the_mean_confidence_per_label_is_the_average_over_the_items_given_that_label(
    browser: Client, worked_job
) -> None:
    job, _, _ = worked_job
    ItemResult.objects.filter(job=job).update(label="cat", confidence=0.6)
    ItemResult.objects.filter(pk=ItemResult.objects.filter(job=job).order_by("pk")[0].pk).update(confidence=1.0)

    charts = browser.get(url("dashboard", job.pk)).context["charts"]

    agreement = next(c for c in charts if c.name == "Mean confidence per label")
    assert [(b.label, b.value) for b in agreement.bars] == [("cat", 0.7), ("dog", 0.0), ("bird", 0.0)]


# Each page's queries, pinned: session, user, the job, then the page's own reads (a fixed number however many rows).
PAGE_QUERIES = {
    "jobs": 4,
    "job-new": 3,
    "job": 7,
    "dashboard": 15,  # the progress snapshots: one query; the models (annotators): one
    "results": 8,  # the latest aggregation: does it rank the compared items?
    "task-preview": 6,  # the items counted, then a page of them
    "agreement": 5,  # the job's answers (blocked workers a subquery), read on request
    "review": 7,
    "balance": 5,
    "webhooks": 3,
}


@pytest.mark.parametrize(("name", "exactly"), PAGE_QUERIES.items())
def test_each_requester_page_costs_a_pinned_number_of_queries(
    browser: Client, worked_job, name: str, exactly: int, django_assert_num_queries
) -> None:
    job, _, _ = worked_job
    target = url(name, job.pk) if name in JOB_PAGES else url(name)
    with django_assert_num_queries(exactly):
        assert browser.get(target).status_code == 200

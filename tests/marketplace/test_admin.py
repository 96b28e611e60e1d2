"""The admin works for every registered model: list (with search and filters), detail, and read-only money."""

from decimal import Decimal
from html.parser import HTMLParser

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import reverse

from marketplace.accounts.models import Session
from marketplace.models import Job, MicroTask
from marketplace.services.assignments import assignment_claim, assignment_submit
from marketplace.services.jobs import job_transition
from marketplace.services.uploads import upload_receive
from tests.factories import JobFactory, UserFactory, WorkerFactory
from tests.marketplace.helpers import answers_for, csv_file, csv_rows, fund, launched_job

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_with_data(client):
    staff = UserFactory(is_staff=True, is_superuser=True)
    job = launched_job(JobFactory().requester, n_items=4, n_gold=2, items_per_task=2)
    worker = WorkerFactory()
    assignment = assignment_claim(job_id=job.pk, worker=worker)
    assignment_submit(assignment_id=assignment.pk, worker=worker, answers=answers_for(assignment))
    client.force_login(staff)
    return client


@pytest.mark.parametrize("model", list(admin.site._registry), ids=lambda m: m._meta.label)
def test_every_admin_list_and_detail_page_renders(admin_client_with_data, model):
    prefix = f"admin:{model._meta.app_label}_{model._meta.model_name}"
    listing = admin_client_with_data.get(reverse(f"{prefix}_changelist"), {"q": "a"})
    assert listing.status_code == 200
    obj = model._default_manager.first()
    if obj is not None:
        assert admin_client_with_data.get(reverse(f"{prefix}_change", args=[obj.pk])).status_code == 200


def test_an_admin_cannot_edit_a_jobs_price_in_the_admin(admin_client_with_data):
    job = Job.objects.first()

    page = admin_client_with_data.get(reverse("admin:marketplace_job_change", args=[job.pk]))

    assert b'name="reward_cents"' not in page.content
    assert b'name="title"' in page.content


def test_every_model_of_the_project_has_an_admin_page_or_an_inline():
    from django.apps import apps

    inlined = {inline.model for model_admin in admin.site._registry.values() for inline in model_admin.inlines}
    ours = {"marketplace", "accounts", "workers", "qualification", "payments"}
    not_shown = {"accounts.Session"}  # its key is a login token: the user admin counts and ends sessions instead
    missing = [
        m._meta.label
        for m in apps.get_models()
        if m._meta.app_label in ours and m not in admin.site._registry and m not in inlined
    ]
    missing = [label for label in missing if label not in not_shown]

    assert missing == []


def test_an_admin_signs_a_user_out_of_every_session_without_seeing_a_token(client):
    staff, user, bystander = UserFactory(is_staff=True, is_superuser=True), UserFactory(), UserFactory()
    tokens = []
    for someone in (user, user, bystander):
        signed_in = Client()
        signed_in.force_login(someone)
        tokens.append(signed_in.session.session_key)
    client.force_login(staff)

    page = client.get(reverse("admin:accounts_user_change", args=[user.pk]))
    ended = client.post(
        reverse("admin:accounts_user_changelist"), {"action": "end_sessions", "_selected_action": [user.pk]}
    )

    assert page.status_code == 200 and b"Signed-in sessions" in page.content
    assert not any(token.encode() in page.content for token in tokens)
    assert ended.status_code == 302
    assert not Session.objects.filter(session_key__in=tokens[:2]).exists()
    assert Session.objects.filter(session_key=tokens[2], user=bystander).exists()


class ChangeForm(HTMLParser):
    """The values a browser would post from an admin change page: inputs, checked boxes, textareas, selections."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.data: dict[str, str] = {}
        self._textarea: str | None = None
        self._select: str | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        name = a.get("name")
        if tag == "input" and name and a.get("type") not in ("submit", "button", "checkbox", "file"):
            self.data[name] = a.get("value") or ""
        elif tag == "input" and name and a.get("type") == "checkbox" and "checked" in a:
            self.data[name] = a.get("value") or "on"
        elif tag == "textarea" and name:
            self._textarea, self.data[name] = name, ""
        elif tag == "select" and name:
            self._select = name
        elif tag == "option" and self._select and "selected" in a:
            self.data[self._select] = a.get("value") or ""

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.data[self._textarea] += data.removeprefix("\n") if not self.data[self._textarea] else data

    def handle_endtag(self, tag: str) -> None:
        if tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None


class TestJobChangeView:
    """The admin edits a job under the API's rules: what its status freezes is read-only, and a save goes through
    `job_update`."""

    FROZEN_WHILE_ACTIVE = {
        "overlap_min": "1",
        "overlap_max": "1",
        "items_per_task": "1",
        "gold_ratio": "0.5",
        "min_gold": "1",
        "gold_block_threshold": "1.0",
        "fast_answer_action": "block",
        "fee_rate": "0",
        "refunds": "7",
    }

    @pytest.fixture
    def staff_client(self, client):
        client.force_login(UserFactory(is_staff=True, is_superuser=True))
        return client

    def post(self, client, job, **changes):
        url = reverse("admin:marketplace_job_change", args=[job.pk])
        page = client.get(url)
        assert page.status_code == 200
        data = {**ChangeForm(page.content.decode()).data, **changes, "_save": "Save"}
        return page, client.post(url, data)

    def test_an_active_jobs_frozen_fields_cannot_be_changed_and_its_title_still_can(self, staff_client):
        job = launched_job(
            JobFactory().requester,
            n_items=10,
            n_gold=4,
            items_per_task=5,
            overlap_min=3,
            overlap_max=3,
            gold_ratio=Decimal("0.2"),
            min_gold=8,
        )
        before = Job.objects.values().get(pk=job.pk)

        page, saved = self.post(staff_client, job, title="Renamed", **self.FROZEN_WHILE_ACTIVE)

        assert saved.status_code == 302
        for name in self.FROZEN_WHILE_ACTIVE:
            assert f'name="{name}"'.encode() not in page.content
        after = Job.objects.values().get(pk=job.pk)
        assert after["title"] == "Renamed"
        unchanged = ["overlap_min", "overlap_max", "items_per_task", "gold_ratio", "min_gold", "gold_block_threshold"]
        unchanged += ["fast_answer_action", "fee_rate", "refunds", "reward_cents", "status"]
        assert {k: after[k] for k in unchanged} == {k: before[k] for k in unchanged}
        assert set(MicroTask.objects.filter(job=job).values_list("overlap_target", flat=True)) == {3}

    def test_a_paused_job_takes_the_block_rules_the_api_allows_then_through_the_service(self, staff_client):
        job = job_transition(job=launched_job(JobFactory().requester, n_items=2, items_per_task=2), action="pause")

        page, saved = self.post(staff_client, job, min_gold="9", gold_block_threshold="0.7", overlap_max="9")

        assert saved.status_code == 302 and b'name="min_gold"' in page.content
        job.refresh_from_db()
        assert (job.min_gold, job.gold_block_threshold, job.overlap_max) == (9, 0.7, 3)

    def test_a_job_launched_while_its_draft_form_was_open_refuses_the_save(self, staff_client):
        job = JobFactory(gold_ratio=0)
        upload_receive(job=job, user=job.requester, file=csv_file(csv_rows(2)), kind="items")
        url = reverse("admin:marketplace_job_change", args=[job.pk])
        data = {**ChangeForm(staff_client.get(url).content.decode()).data, "overlap_max": "9", "_save": "Save"}
        fund(job)
        job_transition(job=job, action="launch")

        saved = staff_client.post(url, data)

        job.refresh_from_db()
        assert saved.status_code == 302 and job.overlap_max == 3

    def test_a_drafts_overlap_is_edited_under_the_services_rules(self, staff_client):
        job = JobFactory()

        _, bad = self.post(staff_client, job, overlap_min="4", overlap_max="2")
        _, good = self.post(staff_client, job, overlap_min="2", overlap_max="4")

        job.refresh_from_db()
        assert bad.status_code == 200  # the form shows the error; nothing saved
        assert good.status_code == 302 and (job.overlap_min, job.overlap_max) == (2, 4)

    def test_a_save_the_service_refuses_changes_nothing_and_says_why(self, staff_client):
        job = JobFactory()

        _, refused = self.post(staff_client, job, title="Renamed", label_schema='{"type": "single_choice"}')

        job.refresh_from_db()
        assert refused.status_code == 302 and job.title != "Renamed"
        shown = staff_client.get(refused.url).content.decode()
        assert "Not saved:" in shown and "successfully" not in shown

    def test_the_worker_model_is_edited_while_the_job_runs_and_read_only_once_it_is_finished(self, staff_client):
        running = launched_job(JobFactory().requester, n_items=2, items_per_task=2)
        finished = job_transition(
            job=launched_job(JobFactory().requester, n_items=2, items_per_task=2), action="cancel"
        )

        page, saved = self.post(staff_client, running, worker_model="one_coin")
        frozen = staff_client.get(reverse("admin:marketplace_job_change", args=[finished.pk]))

        running.refresh_from_db()
        assert saved.status_code == 302 and b'name="worker_model"' in page.content
        assert running.worker_model == "one_coin"
        assert b'name="worker_model"' not in frozen.content and b"Full Dawid-Skene" in frozen.content

    def test_nobody_adds_a_job_in_the_admin(self, staff_client):
        assert staff_client.get(reverse("admin:marketplace_job_add")).status_code == 403

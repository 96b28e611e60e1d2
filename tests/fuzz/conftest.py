"""A small seeded marketplace for the API fuzz tests, signed-in users of every role, and the schema to fuzz.

The users sign in the way a script does (allauth headless login, `X-Session-Token`), and the ids of the seeded
objects are handed to schemathesis as dictionaries, so fuzzed path ids often hit real rows instead of 404ing.
"""

import io
import json
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from functools import cache
from typing import Any

import pytest
from django.db import connections
from django.test import Client
from PIL import Image
from werkzeug.test import Client as WerkzeugClient

from marketplace.accounts.models import Organisation, User
from marketplace.accounts.organisation_services import organisation_create
from marketplace.models import Assignment, Item, Job, Upload
from marketplace.services.assignments import assignment_claim
from marketplace.services.model_endpoints import model_endpoint_create
from marketplace.services.webhook_http import Attempt
from marketplace.services.webhooks import webhook_endpoint_create
from marketplace.wsgi import application
from qualification.models import Attempt as QualificationAttempt
from qualification.models import Grant, Qualification
from qualification.services.attempts import attempt_start
from qualification.services.grants import grant_manual
from qualification.services.qualifications import qualification_create
from tests.factories import PASSWORD, JobFactory, RequesterFactory, UserFactory, WorkerFactory
from tests.marketplace.helpers import launched_job

LOGIN = "/_allauth/app/v1/auth/login"
SCHEMA = {"type": "single_choice", "classes": ["cat", "dog", "bird"]}


@dataclass
class World:
    """Who is who, and the ids of what they own."""

    requester: User
    outsider: User
    worker: User
    other_worker: User
    staff: User
    job: Job
    draft_job: Job
    qualification: Qualification
    public_qualification: Qualification
    grant: Grant
    assignment: Assignment
    attempt: QualificationAttempt
    webhook_id: int
    model_endpoint_id: int = 0
    tokens: dict[str, str] = field(default_factory=dict)
    # Extra headers per role: "outsider_org" is the outsider acting for an organisation of their own.
    headers: dict[str, dict[str, str]] = field(default_factory=dict)

    def ids(self) -> dict[str, list[int]]:
        """Path parameter names -> ids of real rows, for schemathesis' dictionaries."""
        jobs = [self.job.pk, self.draft_job.pk]
        return {
            "job_id": jobs,
            "item_id": list(Item.objects.filter(job=self.job).order_by("id").values_list("id", flat=True)[:3]),
            "upload_id": list(Upload.objects.filter(job__in=jobs).values_list("id", flat=True)),
            "webhook_id": [self.webhook_id],
            "qualification_id": [self.qualification.pk, self.public_qualification.pk],
            "grant_id": [self.grant.pk],
            "assignment_id": [self.assignment.pk],
            "attempt_id": [self.attempt.pk],
            "user_id": [self.worker.pk, self.other_worker.pk, self.requester.pk],
            "organisation_id": list(Organisation.objects.values_list("id", flat=True)),
            "endpoint_id": [self.model_endpoint_id],
        }


@cache
def openapi_document() -> dict[str, Any]:
    """The schema as the app serves it at /api/schema/."""
    response = WerkzeugClient(application).get("/api/schema/?format=json", headers={"Host": "testserver"})
    assert response.status_code == 200, response.text
    return json.loads(response.text)


def _questions(n: int) -> list[dict]:
    return [
        {"payload": {"image_url": f"https://example.com/q{i}.jpg"}, "answer": ("cat", "dog")[i % 2]} for i in range(n)
    ]


def _token(email: str) -> str:
    response = Client().post(LOGIN, {"email": email, "password": PASSWORD}, content_type="application/json")
    assert response.status_code == 200, response.content
    return response.json()["meta"]["session_token"]


def tiny_png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (2, 2), (10, 20, 30)).save(out, format="PNG")
    return out.getvalue()


def seed_world() -> World:
    requester, outsider = RequesterFactory(), RequesterFactory()
    worker, other_worker = WorkerFactory(), WorkerFactory()
    staff = UserFactory(is_staff=True)
    job = launched_job(requester, n_items=6, n_gold=2, items_per_task=2, photo=tiny_png())
    draft_job = JobFactory(requester=requester)
    qualification = qualification_create(
        owner=requester, name="Cats and dogs", label_schema=SCHEMA, questions=_questions(6), questions_per_attempt=3
    )
    public_qualification = qualification_create(
        owner=outsider,
        name="Birds",
        label_schema=SCHEMA,
        questions=_questions(4),
        questions_per_attempt=2,
        is_public=True,
        pass_mark=Decimal("0.5"),
        valid_for=timedelta(days=30),
    )
    grant = grant_manual(qualification=qualification, worker=other_worker, score=0.9, reason="seeded", by=requester)
    attempt, _ = attempt_start(qualification_id=public_qualification.pk, worker=worker)
    assignment = assignment_claim(job_id=job.pk, worker=worker)
    webhook = webhook_endpoint_create(owner=requester, job=job, url="https://example.com/hooks")
    world = World(
        requester=requester,
        outsider=outsider,
        worker=worker,
        other_worker=other_worker,
        staff=staff,
        job=job,
        draft_job=draft_job,
        qualification=qualification,
        public_qualification=public_qualification,
        grant=grant,
        assignment=assignment,
        attempt=attempt,
        webhook_id=webhook.pk,
    )
    for role in ("requester", "outsider", "worker", "other_worker", "staff"):
        world.tokens[role] = _token(getattr(world, role).email)
    world.model_endpoint_id = model_endpoint_create(job=job, model="m1", url="https://example.com/predict").pk
    outsider_organisation = organisation_create(owner=outsider, name="Outsider Labs")
    world.tokens["outsider_org"] = world.tokens["outsider"]
    world.headers["outsider_org"] = {"HTTP_X_ORGANISATION": str(outsider_organisation.pk)}
    return world


@pytest.fixture
def no_webhook_traffic(monkeypatch, settings):
    """Fuzzed webhook URLs point anywhere: record every delivery as failed without resolving or connecting."""
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    monkeypatch.setattr(
        "marketplace.services.webhook_delivery._post", lambda delivery: Attempt(None, "Not sent: fuzz test.", 0)
    )


@pytest.fixture
def world(settings, monkeypatch, no_webhook_traffic) -> World:
    settings.ALLOWED_HOSTS = ["localhost", "testserver"]  # schemathesis' WSGI client calls as `localhost`
    # The engine's thread opens its own connection: closing it after each request lets the test database go.
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)
    return seed_world()

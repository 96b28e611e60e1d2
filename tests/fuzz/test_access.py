"""What schemathesis cannot tell: whose object is whose. Every operation of the schema that names someone's object
is called by everyone else (another requester, a worker, staff without the requester role, another worker), and
must answer 403 or 404 and change nothing.

The operations come from the served schema, so a new endpoint under `/jobs/{job_id}/` or `/work/assignments/...`
is covered without a line here.
"""

import re
from typing import Any

import pytest
from django.http import HttpResponse
from django.test import Client

from marketplace.models import Assignment, Item, Job, MediaFile, Upload, WebhookEndpoint
from payments.models import Transaction
from qualification.models import Attempt, Grant, Qualification, Question
from tests.fuzz.conftest import World, openapi_document, seed_world

pytestmark = pytest.mark.django_db

WRITES = ("post", "put", "patch", "delete")


@pytest.fixture
def world(no_webhook_traffic) -> World:
    return seed_world()


def operations(path_pattern: str) -> list[tuple[str, str]]:
    """(method, path template) of every operation whose path matches `path_pattern`."""
    paths = openapi_document()["paths"]
    return sorted(
        (method, path)
        for path, item in paths.items()
        if re.search(path_pattern, path)
        for method in item
        if method in ("get", *WRITES)
    )


REQUESTER_OBJECTS = r"^/api/v1/(jobs/\{job_id\}|webhooks/\{webhook_id\}|uploads/\{upload_id\})"
QUALIFICATION_OBJECTS = r"^/api/v1/qualifications/\{qualification_id\}"
WORKER_OBJECTS = r"^/api/v1/work/(assignments/\{assignment_id\}|attempts/\{attempt_id\})"


def url(world: World, path: str) -> str:
    ids = {
        "job_id": world.job.pk,
        "item_id": Item.objects.filter(job=world.job).values_list("id", flat=True).first(),
        "webhook_id": world.webhook_id,
        "endpoint_id": world.model_endpoint_id,
        "upload_id": Upload.objects.filter(job=world.job).values_list("id", flat=True).first(),
        "qualification_id": world.qualification.pk,
        "grant_id": world.grant.pk,
        "assignment_id": world.assignment.pk,
        "attempt_id": world.attempt.pk,
        "worker_id": world.assignment.worker_id,
        "name": "p.png",  # the job's media file
        "position": 0,
        "field": "photo",
    }
    return re.sub(r"\{(\w+)\}", lambda m: str(ids[m.group(1)]), path)


def request(world: World, role: str, method: str, path: str) -> HttpResponse:
    client = Client(HTTP_X_SESSION_TOKEN=world.tokens[role], **world.headers.get(role, {}))
    # An honest-looking body, so an endpoint that validated before checking ownership would be caught succeeding.
    body = {
        "reason": "let me in",
        "message": "let me in",
        "title": "Mine now",
        "url": "https://example.com/x",
        "answers": [{"position": 0, "answer": "cat"}],
        "score": 1,
    }
    return getattr(client, method)(url(world, path), body, content_type="application/json")


def call(world: World, role: str, method: str, path: str) -> int:
    return request(world, role, method, path).status_code


def snapshot(world: World) -> dict[str, Any]:
    """Everything another user might try to read into or change."""
    return {
        "jobs": list(Job.objects.order_by("id").values()),
        "items": Item.objects.count(),
        "uploads": Upload.objects.count(),
        "media": MediaFile.objects.count(),
        "webhooks": list(WebhookEndpoint.objects.order_by("id").values()),
        "qualifications": list(Qualification.objects.order_by("id").values()),
        "questions": Question.objects.count(),
        "grants": list(Grant.objects.order_by("id").values()),
        "assignments": list(Assignment.objects.order_by("id").values()),
        "attempts": list(Attempt.objects.order_by("id").values()),
        "transactions": Transaction.objects.count(),
    }


def test_the_schema_names_the_objects_these_tests_cover():
    assert len(operations(REQUESTER_OBJECTS)) >= 20
    assert len(operations(QUALIFICATION_OBJECTS)) >= 4
    assert len(operations(WORKER_OBJECTS)) >= 4


@pytest.mark.parametrize("role", ["outsider", "outsider_org", "worker", "staff"])
def test_nobody_but_the_requester_reads_or_changes_their_jobs_uploads_and_webhooks(world, role):
    before = snapshot(world)

    answers = {(method, path): call(world, role, method, path) for method, path in operations(REQUESTER_OBJECTS)}

    # Another requester (or another organisation) is told nothing exists; a user without the role is refused before
    # any lookup.
    allowed = {404} if role.startswith("outsider") else {403}
    assert {op: status for op, status in answers.items() if status not in allowed} == {}
    assert snapshot(world) == before


@pytest.mark.parametrize("role", ["outsider", "outsider_org", "worker"])
def test_nobody_but_the_owner_manages_a_private_qualification_or_its_grants(world, role):
    before = snapshot(world)

    answers = {(method, path): call(world, role, method, path) for method, path in operations(QUALIFICATION_OBJECTS)}

    allowed = {404} if role.startswith("outsider") else {403}
    assert {op: status for op, status in answers.items() if status not in allowed} == {}
    assert snapshot(world) == before


@pytest.mark.parametrize("role", ["other_worker", "requester"])
def test_nobody_but_the_worker_reads_or_submits_their_assignment_or_attempt(world, role):
    before = snapshot(world)

    answers = {(method, path): call(world, role, method, path) for method, path in operations(WORKER_OBJECTS)}

    allowed = {404} if role == "other_worker" else {403}
    assert {op: status for op, status in answers.items() if status not in allowed} == {}
    assert snapshot(world) == before


def test_the_owner_does_reach_every_one_of_those_objects(world):
    """The other tests would pass on an API that refused everyone: the owners get through to each object."""
    reads = [("requester", path) for method, path in operations(REQUESTER_OBJECTS) if method == "get"]
    reads += [("requester", path) for method, path in operations(QUALIFICATION_OBJECTS) if method == "get"]
    reads += [("worker", path) for method, path in operations(WORKER_OBJECTS) if method == "get"]

    answers = {path: request(world, role, "get", path) for role, path in reads}

    # 200, or an answer about the object itself (a job not aggregated yet answers 404 `not_aggregated`).
    refused = {p: r.status_code for p, r in answers.items() if r.status_code != 200 and r.json()["code"] == "not_found"}
    assert refused == {}
    assert not [p for p, r in answers.items() if r.status_code in (401, 403)]


def test_lists_show_each_user_only_their_own(world):
    other = seed_world()  # a second marketplace: its requester, workers and objects are strangers here

    def ids(role: str, path: str) -> set[int]:
        response = Client(HTTP_X_SESSION_TOKEN=world.tokens[role], **world.headers.get(role, {})).get(path)
        assert response.status_code == 200, (path, response.content)
        body = response.json()
        return {row["id"] for row in (body["results"] if isinstance(body, dict) else body)}

    assert ids("requester", "/api/v1/jobs/") == {world.job.pk, world.draft_job.pk}
    assert ids("outsider", "/api/v1/jobs/") == set()
    assert ids("outsider", "/api/v1/webhooks/") == set()
    assert ids("outsider_org", "/api/v1/jobs/") == set()
    assert ids("outsider_org", "/api/v1/webhooks/") == set()
    public = {world.public_qualification.pk, other.public_qualification.pk}
    assert ids("outsider", "/api/v1/qualifications/?include_others=true") == public
    assert ids("worker", "/api/v1/work/assignments/") == {world.assignment.pk}
    assert ids("other_worker", "/api/v1/work/assignments/") == set()
    assert ids("outsider", "/api/v1/payments/transactions/") == set()


def test_a_public_qualification_shows_others_its_settings_but_never_its_questions(world):
    path = f"/api/v1/qualifications/{world.public_qualification.pk}/"

    response = Client(HTTP_X_SESSION_TOKEN=world.tokens["requester"]).get(path)

    assert response.status_code == 200
    assert response.json()["questions"] is None
    assert call(world, "requester", "patch", path) == 403  # readable, so no use hiding it: not manageable
    assert call(world, "requester", "post", f"{path}questions/") == 403
    assert Question.objects.filter(qualification=world.public_qualification).count() == 4

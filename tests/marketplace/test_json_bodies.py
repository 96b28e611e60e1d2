"""JSON the database cannot store, or that breaks the parser, is a 400 naming the field wherever JSON comes in: API
bodies (the project's parser), JSON sent as text in a form field, and allauth's headless endpoints."""

import json

import pytest
from django.test import Client

from marketplace.models import Job
from qualification.models import Qualification, Question
from tests.factories import PASSWORD, QualificationFactory, UserFactory
from tests.hostile import JSON_VALUES

pytestmark = pytest.mark.django_db
SCHEMA = '{"type": "single_choice", "classes": ["cat", %s]}'


def job_body(**texts: str) -> str:
    """A job as JSON text, with some members given as raw JSON text (values no encoder writes)."""
    members = {"title": '"Cats"', "reward_cents": "5", "label_schema": SCHEMA % '"dog"', **texts}
    return "{" + ", ".join(f'"{name}": {text}' for name, text in members.items()) + "}"


def assert_refused(response, field: str, code: str = "invalid") -> dict:
    assert response.status_code == 400, response.content[:300]
    body = response.json()
    assert set(body) == {"code", "message", "extra", "request_id"} and body["code"] == code
    if field:
        assert list(body["extra"]["fields"]) == [field]
    return body


@pytest.mark.parametrize("name", JSON_VALUES)
def test_a_json_body_with_a_value_the_database_cannot_store_is_a_400_naming_the_field(requester_api, name):
    in_schema = requester_api.post(
        "/api/v1/jobs/", job_body(label_schema=SCHEMA % JSON_VALUES[name]), content_type="application/json"
    )
    in_text = requester_api.post(
        "/api/v1/jobs/", job_body(instructions=JSON_VALUES[name]), content_type="application/json"
    )

    assert_refused(in_schema, "label_schema")
    assert_refused(in_text, "instructions")
    assert not Job.objects.exists()


def test_a_label_schema_nested_2000_deep_and_a_class_name_with_a_nul_are_refused(requester_api):
    deep = requester_api.post(
        "/api/v1/jobs/", job_body(label_schema="[" * 2000 + "]" * 2000), content_type="application/json"
    )
    nul = requester_api.post(
        "/api/v1/jobs/",
        {"title": "Cats", "reward_cents": 5, "label_schema": {"type": "single_choice", "classes": ["c\x00t", "dog"]}},
        format="json",
    )

    message = assert_refused(deep, "label_schema")["extra"]["fields"]["label_schema"][0]
    assert "nested deeper than 32" in message
    assert (
        "label_schema.classes[0] contains a NUL"
        in assert_refused(nul, "label_schema")["extra"]["fields"]["label_schema"][0]
    )
    assert not Job.objects.exists()


def test_a_key_with_a_nul_is_refused_without_echoing_it(requester_api):
    response = requester_api.post(
        "/api/v1/jobs/", '{"title": "Cats", "bad\\u0000key": 1}', content_type="application/json"
    )

    body = assert_refused(response, "bad\\u0000key")
    assert "\x00" not in response.content.decode()
    assert "is a key that contains a NUL" in body["extra"]["fields"]["bad\\u0000key"][0]


def test_a_json_body_over_the_upload_limit_is_refused_before_it_is_parsed(requester_api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000

    response = requester_api.post(
        "/api/v1/jobs/", job_body(instructions=json.dumps("x" * 2000)), content_type="application/json"
    )

    assert_refused(response, "", code="parse_error")
    assert not Job.objects.exists()


@pytest.mark.parametrize("name", ["nul-escape", "lone-surrogate-escape", "nan", "nested-2000-deep"])
def test_json_sent_as_text_in_a_form_field_is_held_to_the_same_rule(requester_api, requester, name):
    qualification = QualificationFactory(owner=requester)
    job = requester_api.post(
        "/api/v1/jobs/",
        {"title": "Cats", "reward_cents": 5, "label_schema": SCHEMA % JSON_VALUES[name]},
        format="multipart",
    )
    question = requester_api.post(
        f"/api/v1/qualifications/{qualification.pk}/questions/",
        {"questions[0]payload": f'{{"image_url": {JSON_VALUES[name]}}}', "questions[0]answer": '"cat"'},
        format="multipart",
    )

    assert_refused(job, "label_schema")
    assert question.status_code == 400, question.content[:300]
    assert "questions" in question.json()["extra"]["fields"]
    assert not Job.objects.exists()
    assert not Question.objects.filter(qualification=qualification).exists()


@pytest.mark.parametrize("body_format", ["json", "multipart"])
def test_a_text_over_a_million_characters_is_refused_in_json_and_in_forms(requester_api, body_format):
    body = {"title": "Cats", "reward_cents": 5, "label_schema": SCHEMA % '"dog"', "instructions": "x" * 1_000_001}
    if body_format == "json":
        body["label_schema"] = json.loads(body["label_schema"])

    response = requester_api.post("/api/v1/jobs/", body, format=body_format)

    message = assert_refused(response, "instructions")["extra"]["fields"]["instructions"][0]
    assert "longer than 1,000,000 characters" in message
    assert not Job.objects.exists()


def test_a_form_field_holding_storable_json_still_works(requester_api):
    response = requester_api.post(
        "/api/v1/jobs/",
        {"title": "Cats", "reward_cents": 5, "label_schema": SCHEMA % '"d\\u00f6g"'},
        format="multipart",
    )

    assert response.status_code == 201, response.content
    assert Job.objects.get().label_schema["classes"] == ["cat", "d\u00f6g"]


def test_the_qualification_api_refuses_the_same_values(requester_api):
    body = {
        "name": "Cats",
        "label_schema": {"type": "single_choice", "classes": ["cat", "dog"]},
        "questions": [{"payload": {"image_url": "https://example.com/a\x00.jpg"}, "answer": "cat"}],
    }

    response = requester_api.post("/api/v1/qualifications/", body, format="json")

    assert_refused(response, "questions")
    assert not Qualification.objects.exists()


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ('{"email": "a@example.com", "password": ' + "[" * 2000 + "]" * 2000 + "}", "password"),
        ('{"email": "a@example.com", "password": "\\ud800"}', "password"),
        ('{"email": "a@example.com", "password": ' + "9" * 5000 + "}", "password"),
        ('{"email": "a\\u0000@example.com", "password": "x"}', "email"),
    ],
    ids=["deep", "lone-surrogate", "5000-digits", "nul"],
)
@pytest.mark.parametrize("endpoint", ["/_allauth/app/v1/auth/login", "/_allauth/browser/v1/auth/signup"])
def test_allauths_headless_endpoints_refuse_them_too_in_allauths_error_shape(body, param, endpoint):
    response = Client(raise_request_exception=False).post(endpoint, body, content_type="application/json")

    assert response.status_code == 400, response.content[:300]
    errors = response.json()["errors"]
    assert response.json()["status"] == 400
    assert errors[0]["param"] == param and errors[0]["code"] == "invalid"


def test_allauth_still_signs_people_in(db):
    user = UserFactory()

    response = Client().post(
        "/_allauth/app/v1/auth/login", {"email": user.email, "password": PASSWORD}, content_type="application/json"
    )

    assert response.status_code == 200

"""The bugs the API fuzzing found, each pinned by a plain test."""

import pytest
from django.test import Client

from marketplace.models import JobQualification
from tests.fuzz.conftest import World, openapi_document, seed_world

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(no_webhook_traffic) -> World:
    return seed_world()


def as_(world: World, role: str) -> Client:
    return Client(HTTP_X_SESSION_TOKEN=world.tokens[role])


def assert_error_shape(response, status: int, code: str) -> None:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"code", "message", "extra", "request_id"} and body["code"] == code


def test_a_patch_that_replaces_requirements_without_min_score_takes_the_default_instead_of_failing(world):
    body = {"required_qualifications": [{"qualification": world.qualification.pk}]}

    response = as_(world, "requester").patch(
        f"/api/v1/jobs/{world.draft_job.pk}/", body, content_type="application/json"
    )

    assert response.status_code == 200, response.content
    assert response.json()["required_qualifications"] == [{"qualification": world.qualification.pk, "min_score": 0.0}]
    assert list(JobQualification.objects.filter(job=world.draft_job).values_list("min_score", flat=True)) == [0.0]


def test_results_of_items_not_yet_aggregated_are_null_as_the_schema_says(world):
    response = as_(world, "requester").get(f"/api/v1/jobs/{world.job.pk}/results/")

    assert response.status_code == 200
    first = response.json()["results"][0]
    assert (first["label"], first["confidence"], first["answer_count"]) == (None, None, None)
    result = openapi_document()["components"]["schemas"]["Result"]["properties"]
    assert all(result[name]["nullable"] for name in ("label", "confidence", "answer_count"))


def test_an_api_url_that_matches_no_route_answers_404_in_the_error_shape(world):
    for path in ("/api/v1/jobs/not-a-number/", "/api/v1/no-such-thing/"):
        assert_error_shape(as_(world, "requester").get(path), 404, "not_found")
    assert "text/html" in Client().get("/no-such-page/")["Content-Type"]  # outside the API, Django's page


def test_banning_an_unknown_user_or_twice_answers_in_the_error_shape(world):
    staff = as_(world, "staff")
    ban = f"/api/v1/admin/workers/{world.worker.pk}/ban/"

    assert staff.post(ban, {"reason": "spam"}, content_type="application/json").status_code == 201
    assert_error_shape(staff.post(ban, {"reason": "spam"}, content_type="application/json"), 409, "already_banned")
    assert_error_shape(
        staff.post("/api/v1/admin/workers/999999/ban/", {"reason": "x"}, content_type="application/json"),
        404,
        "not_found",
    )


def test_a_form_body_with_too_many_fields_is_a_400_in_the_error_shape(world, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 10
    body = "&".join(f"f{i}=x" for i in range(11))

    response = as_(world, "requester").patch("/api/v1/me/", body, content_type="application/x-www-form-urlencoded")

    assert_error_shape(response, 400, "parse_error")


def test_the_schema_documents_the_framework_answers_of_every_operation():
    paths = openapi_document()["paths"]
    operations = {(method, path): op for path, item in paths.items() for method, op in item.items()}

    for (method, path), op in operations.items():
        assert {"401", "403"} <= set(op["responses"]), (method, path)
        if "{" in path:
            assert "404" in op["responses"], (method, path)
        if "requestBody" in op:
            assert "400" in op["responses"], (method, path)
    throttled = [
        ("post", "/api/v1/work/jobs/{job_id}/claim/"),
        ("post", "/api/v1/work/qualifications/{qualification_id}/attempts/"),
    ]
    assert all("429" in operations[op]["responses"] for op in throttled)
    error = {"$ref": "#/components/schemas/Error"}
    assert operations[("get", "/api/v1/me/")]["responses"]["401"]["content"]["application/json"]["schema"] == error


def test_a_body_in_a_media_type_no_parser_reads_is_a_documented_415(world):
    unban = f"/api/v1/admin/workers/{world.worker.pk}/unban/"

    response = as_(world, "staff").generic("POST", unban, b"--x\r\n\r\nreason\r\n--x--", content_type="multipart/mixed")

    assert_error_shape(response, 415, "unsupported_media_type")
    assert "415" in openapi_document()["paths"]["/api/v1/admin/workers/{user_id}/unban/"]["post"]["responses"]

"""Every request carries an id: taken from `X-Request-ID` when the client or proxy sent a valid one, made up
otherwise; returned in the response header, in every error body, and in every log line written for the request."""

import json
import re
import time
import uuid

import pytest
from celery import shared_task
from celery.contrib.testing.worker import start_worker
from django.core.cache import cache
from django_guid import clear_guid, get_guid, set_guid

from marketplace.celery import app as celery_app
from tests.production.live import VENV_BIN, clean_env, fetch, free_port, live_server

HEX_ID = re.compile(r"^[0-9a-f]{32}$")


@pytest.mark.django_db
def test_an_incoming_request_id_comes_back_in_the_header_and_the_error_body(api):
    incoming = str(uuid.uuid4())

    response = api.get("/api/v1/jobs/", HTTP_X_REQUEST_ID=incoming)  # anonymous: 401 (or 403)

    assert response.status_code in (401, 403)
    assert response["X-Request-ID"] == incoming
    assert response.json()["request_id"] == incoming


@pytest.mark.django_db
def test_a_request_without_an_id_gets_a_new_one_each_time(api):
    first = api.get("/api/v1/no-such-endpoint/")
    second = api.get("/api/v1/no-such-endpoint/")

    assert first.status_code == second.status_code == 404
    assert HEX_ID.match(first["X-Request-ID"])
    assert first["X-Request-ID"] != second["X-Request-ID"]
    assert first.json() == {
        "code": "not_found",
        "message": "Not found.",
        "extra": {},
        "request_id": first["X-Request-ID"],
    }


@pytest.mark.django_db
def test_a_request_id_that_is_not_a_uuid_is_replaced_not_echoed(api):
    response = api.get("/api/v1/jobs/", HTTP_X_REQUEST_ID="x\r\nSet-Cookie: a=b")

    assert HEX_ID.match(response["X-Request-ID"])


@pytest.mark.django_db
def test_a_validation_error_body_carries_the_request_id_beside_its_fields(requester_api):
    response = requester_api.post("/api/v1/jobs/", {"title": ""}, HTTP_X_REQUEST_ID="0" * 32)

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid" and "title" in body["extra"]["fields"]
    assert body["request_id"] == "0" * 32


def test_every_log_line_of_a_request_carries_its_id_in_a_live_server(tmp_path):
    """gunicorn with JSON logs: Django's own line about the 404 names the request id the client sent."""
    port = free_port()
    env = clean_env(
        SECRET_KEY="test-only-secret",
        ALLOWED_HOSTS="127.0.0.1",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        LOG_FORMAT="json",
    )
    command = [VENV_BIN / "gunicorn", "marketplace.wsgi", "-w", "1", "-b", f"127.0.0.1:{port}"]
    incoming = uuid.uuid4().hex
    with live_server(command, env, port, tmp_path / "gunicorn.log") as server:
        answer = fetch(f"{server.url}/api/v1/no-such-endpoint/", headers={"X-Request-ID": incoming})
        server.process.terminate()
        server.process.wait(timeout=15)
    assert answer.status == 404

    entries = [json.loads(line) for line in server.output().splitlines() if line.startswith("{")]
    about_it = [e for e in entries if "no-such-endpoint" in e["message"]]
    assert about_it, server.output()
    assert all(e["request_id"] == incoming for e in about_it)
    assert all("request_id" in e for e in entries)  # lines outside a request say so ("-")


@shared_task(name="tests.production.remember_request_id")
def remember_request_id(key: str) -> None:
    cache.set(key, get_guid() or "-", 60)


@pytest.mark.django_db(transaction=True)
def test_a_task_enqueued_during_a_request_runs_under_the_requests_id_in_a_real_worker(settings):
    assert settings.REDIS_URL, "this test needs the real broker: run it with REDIS_URL set (make test does)"
    celery_app.conf.task_always_eager = False
    try:
        with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
            set_guid("feedfacefeedfacefeedfacefeedface")  # as the middleware does for a request
            remember_request_id.delay("request-id-seen")
            clear_guid()
            deadline = time.monotonic() + 30
            while cache.get("request-id-seen") is None and time.monotonic() < deadline:
                time.sleep(0.1)
    finally:
        celery_app.conf.task_always_eager = True

    assert cache.get("request-id-seen") == "feedfacefeedfacefeedfacefeedface"

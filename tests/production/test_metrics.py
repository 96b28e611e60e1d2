"""Prometheus metrics at /metrics: requests and latencies per route, claims and submits by outcome, Celery queue
depth and task failures; closed in production unless the scraper shows the token."""

import re

import pytest
from celery import shared_task
from django.conf import settings

from marketplace.celery import app
from tests.factories import WorkerFactory
from tests.marketplace.helpers import launched_job

TOKEN = "scrape-me-0123456789"


@pytest.fixture
def scrape(client, settings):
    settings.METRICS_TOKEN = TOKEN

    def read() -> str:
        response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/plain")
        return response.content.decode()

    return read


def value(text: str, name: str, **labels: str) -> float:
    """The sample `name{labels}` of an exposition text; 0 when it is absent."""
    for line in text.splitlines():
        match = re.match(r"^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$", line)
        if not match or match[1] != name:
            continue
        found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match[2] or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(match[3])
    return 0.0


def test_metrics_are_closed_in_production_without_the_token(client, settings):
    settings.METRICS_TOKEN = TOKEN

    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403


def test_metrics_are_not_served_at_all_in_production_when_no_token_is_set(client, settings):
    settings.METRICS_TOKEN = ""

    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 404


@pytest.mark.django_db
def test_requests_are_counted_and_timed_per_route_method_and_status(scrape, client):
    route = "api/v1/jobs/<int:job_id>/"
    before = scrape()

    status = str(client.get("/api/v1/jobs/1/").status_code)  # anonymous: refused
    after = scrape()

    def delta(name: str, **labels: str) -> float:
        return value(after, name, route=route, method="GET", **labels) - value(
            before, name, route=route, method="GET", **labels
        )

    assert status in ("401", "403")
    assert delta("crowdmarket_http_requests_total", status=status) == 1
    assert delta("crowdmarket_http_request_duration_seconds_count") == 1


@pytest.mark.django_db
def test_claims_and_submits_are_counted_by_outcome(scrape, api, requester):
    job = launched_job(requester, n_items=2, items_per_task=2, overlap_min=1, overlap_max=1)
    worker = api.as_user(WorkerFactory())
    before = scrape()

    claimed = worker.post(f"/api/v1/work/jobs/{job.pk}/claim/").json()
    answers = [{"position": item["position"], "answer": "cat"} for item in claimed["items"]]
    assert worker.post(f"/api/v1/work/assignments/{claimed['id']}/submit/", {"answers": answers}).status_code == 200
    refused = worker.post(f"/api/v1/work/jobs/{job.pk}/claim/")  # the job's only task is done: it completed
    assert (refused.status_code, refused.json()["code"]) == (403, "not_eligible")
    after = scrape()

    def delta(name: str, outcome: str) -> float:
        return value(after, name, outcome=outcome) - value(before, name, outcome=outcome)

    assert delta("crowdmarket_claims_total", "assigned") == 1
    assert delta("crowdmarket_submits_total", "accepted") == 1
    assert delta("crowdmarket_claims_total", "not_eligible") == 1


@shared_task(name="tests.production.always_fails")
def always_fails() -> None:
    raise RuntimeError("this task fails on purpose")


def test_celery_task_failures_are_counted(scrape):
    before = value(scrape(), "crowdmarket_celery_task_failures_total", task="tests.production.always_fails")

    always_fails.apply(throw=False)  # runs it here, through Celery's tracer and its signals, as a worker would

    after = value(scrape(), "crowdmarket_celery_task_failures_total", task="tests.production.always_fails")
    assert after - before == 1


@pytest.mark.filterwarnings("ignore::celery.exceptions.AlwaysEagerIgnored")  # send_task always publishes: wanted
def test_the_depth_of_each_celery_queue_is_read_from_the_broker(scrape):
    queue = settings.CELERY_TASK_DEFAULT_QUEUE
    with app.connection_for_write() as connection:
        connection.default_channel.client.delete(queue)
        for _ in range(3):
            app.send_task("tests.production.never_run", connection=connection, queue=queue)
        try:
            text = scrape()
        finally:
            connection.default_channel.client.delete(queue)

    assert value(text, "crowdmarket_celery_queue_length", queue=queue) == 3
    assert value(text, "crowdmarket_celery_broker_up") == 1

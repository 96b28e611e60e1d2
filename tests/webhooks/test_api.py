"""The webhooks API: requesters manage their own endpoints and read their delivery log; nobody else sees them."""

import pytest

from marketplace.models import WebhookDelivery, WebhookEndpoint
from marketplace.services.webhooks import MAX_ENDPOINTS_PER_SCOPE, webhook_emit, webhook_verify
from tests.factories import JobFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def job(requester):
    return JobFactory(requester=requester)


@pytest.fixture
def endpoint(make_endpoint, requester, job) -> WebhookEndpoint:
    return make_endpoint(requester, job)


def test_a_requester_registers_a_job_endpoint_and_sees_its_secret_only_once(requester_api, receiver, job):
    created = requester_api.post(f"/api/v1/jobs/{job.pk}/webhooks/", {"url": receiver.url}, format="json")

    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["secret"].startswith("whsec_") and len(body["secret"]) > 40
    assert (body["job"], body["url"], body["events"], body["is_active"]) == (job.pk, receiver.url, [], True)
    endpoint = WebhookEndpoint.objects.get(pk=body["id"])
    assert endpoint.secret == body["secret"]
    shown = requester_api.get(f"/api/v1/webhooks/{endpoint.pk}/").json()
    assert "secret" not in shown
    assert shown["secret_hint"] == f"whsec_…{body['secret'][-4:]}"
    listed = requester_api.get(f"/api/v1/jobs/{job.pk}/webhooks/").json()["results"]
    assert [e["id"] for e in listed] == [endpoint.pk] and "secret" not in listed[0]


def test_an_account_wide_endpoint_has_no_job_and_lists_with_the_others(requester_api, receiver, endpoint):
    created = requester_api.post(
        "/api/v1/webhooks/", {"url": receiver.url, "events": ["job.completed", "results.updated"]}, format="json"
    )

    assert created.status_code == 201, created.json()
    assert (created.json()["job"], created.json()["events"]) == (None, ["job.completed", "results.updated"])
    everything = requester_api.get("/api/v1/webhooks/").json()["results"]
    assert {e["id"] for e in everything} == {endpoint.pk, created.json()["id"]}
    account_wide = requester_api.get("/api/v1/webhooks/", {"account_wide": "true"}).json()["results"]
    assert [e["id"] for e in account_wide] == [created.json()["id"]]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "ftp://example.com/hook"}, "url"),
        ({"url": "not a url"}, "url"),
        ({"url": "https://example.com/hook", "events": ["job.exploded"]}, "events"),
        ({"url": "https://example.com/hook", "events": ["ping"]}, "events"),
    ],
)
def test_a_bad_url_or_event_is_refused(requester_api, job, body, field):
    response = requester_api.post(f"/api/v1/jobs/{job.pk}/webhooks/", body, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid" and field in response.json()["extra"]["fields"]
    assert not WebhookEndpoint.objects.exists()


def test_the_number_of_endpoints_per_job_is_capped(requester_api, job, make_endpoint, requester):
    for _ in range(MAX_ENDPOINTS_PER_SCOPE):
        make_endpoint(requester, job)

    response = requester_api.post(f"/api/v1/jobs/{job.pk}/webhooks/", {"url": "https://example.com/"}, format="json")

    assert response.status_code == 409 and response.json()["code"] == "webhook_limit_reached"


def test_a_requester_changes_url_events_and_active_flag_then_deletes_the_endpoint(requester_api, endpoint):
    changed = requester_api.patch(
        f"/api/v1/webhooks/{endpoint.pk}/",
        {"url": "https://example.com/new", "events": ["assignment.submitted"], "is_active": False},
        format="json",
    )

    assert changed.status_code == 200, changed.json()
    endpoint.refresh_from_db()
    assert (endpoint.url, endpoint.events, endpoint.is_active) == (
        "https://example.com/new",
        ["assignment.submitted"],
        False,
    )
    assert requester_api.delete(f"/api/v1/webhooks/{endpoint.pk}/").status_code == 204
    assert not WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()


def test_rotating_the_secret_shows_the_new_one_and_signs_with_it(
    requester_api, endpoint, receiver, django_capture_on_commit_callbacks
):
    old = endpoint.secret

    rotated = requester_api.post(f"/api/v1/webhooks/{endpoint.pk}/rotate-secret/")

    assert rotated.status_code == 200
    new = rotated.json()["secret"]
    assert new != old and rotated.json()["secret_rotated_at"]
    with django_capture_on_commit_callbacks(execute=True):
        webhook_emit(job=endpoint.job_id, event="job.completed", data={})
    [request] = receiver.requests
    assert webhook_verify(secret=new, header=request.headers["X-Crowdmarket-Signature"], body=request.body)
    assert not webhook_verify(secret=old, header=request.headers["X-Crowdmarket-Signature"], body=request.body)


@pytest.mark.django_db(transaction=True)  # the ping goes out when the request's transaction really commits
def test_the_test_call_sends_a_ping_now_and_logs_it(requester_api, endpoint, receiver):
    response = requester_api.post(f"/api/v1/webhooks/{endpoint.pk}/test/")

    assert response.status_code == 202
    assert (response.json()["event_type"], response.json()["status"]) == ("ping", "delivered")  # tasks run in-process
    [request] = receiver.requests
    assert request.headers["X-Crowdmarket-Event"] == "ping"
    assert request.json["data"] == {"endpoint": endpoint.pk, "message": "Hello from crowdmarket."}
    assert webhook_verify(secret=endpoint.secret, header=request.headers["X-Crowdmarket-Signature"], body=request.body)
    log = requester_api.get(f"/api/v1/webhooks/{endpoint.pk}/deliveries/").json()
    assert log["count"] == 1
    entry = log["results"][0]
    assert (entry["event_type"], entry["status"], entry["attempts"], entry["last_status_code"]) == (
        "ping",
        "delivered",
        1,
        200,
    )


def test_the_delivery_log_shows_failures_newest_first_and_pages(
    requester_api, endpoint, receiver, django_capture_on_commit_callbacks, send_due_retries
):
    receiver.fail_next(*[500] * 6)
    with django_capture_on_commit_callbacks(execute=True):
        webhook_emit(job=endpoint.job_id, event="assignment.expired", data={"assignment": 1})
    send_due_retries()
    with django_capture_on_commit_callbacks(execute=True):
        webhook_emit(job=endpoint.job_id, event="job.completed", data={})

    page = requester_api.get(f"/api/v1/webhooks/{endpoint.pk}/deliveries/", {"page_size": 1}).json()

    assert page["count"] == 2 and page["next"]
    [newest] = page["results"]
    assert (newest["event_type"], newest["status"], newest["attempts"]) == ("job.completed", "delivered", 1)
    older = requester_api.get(page["next"]).json()["results"][0]
    assert (older["event_type"], older["status"], older["attempts"]) == ("assignment.expired", "failed", 6)
    assert (older["last_status_code"], older["last_error"]) == (500, "HTTP 500")
    failed = requester_api.get(f"/api/v1/webhooks/{endpoint.pk}/deliveries/", {"status": "failed"}).json()
    assert [d["id"] for d in failed["results"]] == [older["id"]]


def test_the_lists_cost_a_fixed_number_of_queries(
    requester_api, requester, job, make_endpoint, django_assert_max_num_queries
):
    endpoints = [make_endpoint(requester, job) for _ in range(5)]
    WebhookDelivery.objects.bulk_create(
        WebhookDelivery(
            endpoint=endpoints[0],
            job=job,
            event_id=f"00000000-0000-0000-0000-00000000000{i}",
            event_type="job.completed",
            payload={},
        )
        for i in range(8)
    )

    with django_assert_max_num_queries(4):
        assert len(requester_api.get(f"/api/v1/jobs/{job.pk}/webhooks/").json()["results"]) == 5
    with django_assert_max_num_queries(3):
        assert len(requester_api.get("/api/v1/webhooks/").json()["results"]) == 5
    with django_assert_max_num_queries(3):
        assert len(requester_api.get(f"/api/v1/webhooks/{endpoints[0].pk}/deliveries/").json()["results"]) == 8


def test_another_requester_can_neither_see_nor_create_webhooks_on_a_job_they_do_not_own(
    outsider_api, job, endpoint, receiver
):
    assert outsider_api.get(f"/api/v1/jobs/{job.pk}/webhooks/").status_code == 404
    created = outsider_api.post(f"/api/v1/jobs/{job.pk}/webhooks/", {"url": receiver.url}, format="json")
    assert created.status_code == 404 and created.json()["code"] == "not_found"
    base = f"/api/v1/webhooks/{endpoint.pk}"
    assert outsider_api.get(f"{base}/").status_code == 404
    assert outsider_api.patch(f"{base}/", {"is_active": False}, format="json").status_code == 404
    assert outsider_api.delete(f"{base}/").status_code == 404
    assert outsider_api.post(f"{base}/rotate-secret/").status_code == 404
    assert outsider_api.post(f"{base}/test/").status_code == 404
    assert outsider_api.get(f"{base}/deliveries/").status_code == 404
    assert outsider_api.get("/api/v1/webhooks/").json()["results"] == []
    endpoint.refresh_from_db()
    assert endpoint.is_active and WebhookEndpoint.objects.count() == 1
    assert receiver.requests == []


def test_a_user_without_the_requester_role_is_turned_away(api, worker, receiver):
    client = api.as_user(worker)

    assert client.get("/api/v1/webhooks/").status_code == 403
    assert client.post("/api/v1/webhooks/", {"url": receiver.url}, format="json").status_code == 403

"""A requester's model as a worker: the platform POSTs a job's items, in signed batches, to the model's endpoint (a
real HTTP server on loopback here) and stores its answers as that model version's predictions; items uploaded later
are sent too; a failed attempt is retried with backoff; answers the job's type refuses fail the batch, none stored."""

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone

from marketplace.models import Item, ModelRequest, Prediction
from marketplace.services import model_endpoints
from marketplace.services.model_endpoints import model_endpoint_create, model_request_send, model_requests_requeue
from marketplace.services.uploads import upload_receive
from marketplace.services.webhooks import webhook_verify
from tests.factories import JobFactory, WorkerFactory
from tests.marketplace.helpers import csv_file, csv_rows

pytestmark = pytest.mark.django_db


@dataclass
class Model:
    """Answers each batch: `answer` on every item (or `reply`'s body), after the scripted status codes."""

    url: str = ""
    bodies: list[dict] = field(default_factory=list)
    signatures: list[str] = field(default_factory=list)
    codes: list[int] = field(default_factory=list)
    answer: str = "cat"
    reply: bytes | None = None


@pytest.fixture
def model(settings) -> Iterator[Model]:
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True  # the model lives on loopback
    state = Model()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 -- the http.server API
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            state.bodies.append(body)
            state.signatures.append(self.headers["X-Crowdmarket-Signature"])
            code = state.codes.pop(0) if state.codes else 200
            answer = (
                state.reply
                or json.dumps(
                    {"predictions": [{"item": i["item"], "answer": state.answer, "score": 0.8} for i in body["items"]]}
                ).encode()
            )
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(answer if code == 200 else b"{}")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/predict"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()


@pytest.fixture
def job(requester):
    job = JobFactory(requester=requester, items_per_task=1, gold_ratio=0)
    upload_receive(job=job, user=requester, file=csv_file(csv_rows(5)), kind="items")
    return job


def test_every_item_is_sent_in_signed_batches_and_the_answers_stored(job, model, monkeypatch, callbacks):
    monkeypatch.setattr(model_endpoints, "BATCH", 2)
    with callbacks(execute=True):
        endpoint = model_endpoint_create(job=job, model="resnet-v3", url=model.url)

    assert [len(body["items"]) for body in model.bodies] == [2, 2, 1]
    sent = [item["external_id"] for body in model.bodies for item in body["items"]]
    assert sent == [f"img-{n}" for n in range(1, 6)] and model.bodies[0]["model"] == "resnet-v3"
    assert model.bodies[0]["items"][0]["fields"] == {"image_url": "https://example.com/1.jpg"}
    for body, signature in zip(model.bodies, model.signatures, strict=True):
        raw = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
        assert webhook_verify(secret=endpoint.secret, header=signature, body=raw, tolerance=300)
    stored = Prediction.objects.filter(job=job, model="resnet-v3")
    assert sorted(stored.values_list("answer", flat=True)) == ["cat"] * 5
    assert set(ModelRequest.objects.values_list("status", flat=True)) == {"done"}


def test_items_uploaded_later_are_sent_too(job, model, requester, callbacks):
    with callbacks(execute=True):
        model_endpoint_create(job=job, model="m1", url=model.url)
        upload_receive(job=job, user=requester, file=csv_file(csv_rows(2, start=10)), kind="items")

    assert Prediction.objects.filter(job=job, model="m1").count() == Item.objects.filter(job=job).count() == 7


def test_a_failed_attempt_is_retried_when_due(job, model, callbacks):
    model.codes = [503]
    with callbacks(execute=True):
        model_endpoint_create(job=job, model="m1", url=model.url)
    request = ModelRequest.objects.get()
    assert (request.status, request.attempts, request.last_status_code) == ("pending", 1, 503)
    assert request.next_attempt_at > timezone.now()

    ModelRequest.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    with callbacks(execute=True):
        assert model_requests_requeue() == 1

    request.refresh_from_db()
    assert (request.status, request.attempts) == ("done", 2)
    assert Prediction.objects.filter(model="m1").count() == 5
    assert model_request_send(request_id=request.pk) == "skipped"  # done once, never sent again


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (None, "Predictions refused"),  # an answer the job's classes do not have
        (b"not json", "not JSON"),
        (json.dumps({"predictions": [{"item": 10**9, "answer": "cat"}]}).encode(), "not in the request"),
    ],
)
def test_answers_the_job_refuses_fail_the_batch_and_nothing_is_stored(job, model, callbacks, reply, reason):
    model.answer, model.reply = "zebra", reply
    with callbacks(execute=True):
        model_endpoint_create(job=job, model="m1", url=model.url)

    request = ModelRequest.objects.get()
    assert request.status == "failed" and reason in request.last_error
    assert not Prediction.objects.exists()


def test_a_private_address_is_refused_unless_allowed(job, model, settings, callbacks):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    with callbacks(execute=True):
        model_endpoint_create(job=job, model="m1", url=model.url)

    request = ModelRequest.objects.get()
    assert request.status == "pending" and "non-public address" in request.last_error and not model.bodies


def test_endpoints_are_the_requesters_alone_and_the_secret_is_shown_once(requester_api, outsider_api, api, job, model):
    path = f"/api/v1/jobs/{job.pk}/model-endpoints/"

    created = requester_api.post(path, {"model": "m1", "url": model.url}, format="json")
    listed = requester_api.get(path).json()["results"]
    endpoint_id = created.json()["id"]

    assert created.status_code == 201 and len(created.json()["secret"]) > 20
    assert "secret" not in listed[0] and listed[0]["requests"]["pending"] + listed[0]["requests"]["done"] == 1
    assert outsider_api.get(path).status_code == 404
    assert outsider_api.delete(f"{path}{endpoint_id}/").status_code == 404
    assert api.as_user(WorkerFactory()).post(path, {"model": "m2", "url": model.url}).status_code == 403
    stopped = requester_api.delete(f"{path}{endpoint_id}/")
    assert stopped.status_code == 200 and stopped.json()["is_active"] is False
    bad = requester_api.post(path, {"model": "has space", "url": model.url}, format="json")
    assert bad.status_code == 400 and "model" in bad.json()["extra"]["fields"]

"""A real HTTP receiver on 127.0.0.1 for webhook tests: it records every request and answers with scripted codes."""

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone

from marketplace.models import WebhookDelivery, WebhookEndpoint
from marketplace.services.webhooks import MAX_ATTEMPTS, webhook_deliveries_requeue, webhook_endpoint_create


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    received_at: float = field(default_factory=time.monotonic)

    @property
    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Answers each POST with the next scripted status code (then 200), after `delay` seconds."""

    url: str = ""
    requests: list[Received] = field(default_factory=list)
    script: list[int] = field(default_factory=list)
    delay: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail_next(self, *codes: int) -> None:
        self.script.extend(codes)

    def events(self, event_type: str | None = None) -> list[dict]:
        return [r.json for r in self.requests if event_type is None or r.json["type"] == event_type]

    def wait_for(self, count: int, seconds: float = 10) -> list[Received]:
        deadline = time.monotonic() + seconds
        while len(self.requests) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.requests


@pytest.fixture
def receiver(settings) -> Iterator[Receiver]:
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True  # the receiver lives on loopback
    settings.WEBHOOK_TIMEOUT_SECONDS = 2.0
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 -- the http.server API
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if state.delay:
                time.sleep(state.delay)
            with state.lock:
                state.requests.append(Received(self.path, dict(self.headers.items()), body))
                code = state.script.pop(0) if state.script else 200
            try:
                self.send_response(code)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
            except (BrokenPipeError, ConnectionResetError):
                pass  # the sender timed out and hung up

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def make_endpoint(receiver):
    def make(owner, job=None, **fields) -> WebhookEndpoint:
        return webhook_endpoint_create(owner=owner, job=job, url=fields.pop("url", receiver.url), **fields)

    return make


@pytest.fixture
def send_due_retries(django_capture_on_commit_callbacks):
    """Play the sweeper (beat, every 10 s) with no waiting: each round makes every pending retry due now and sends
    it. Stops when a round sends nothing."""

    def run(rounds: int = MAX_ATTEMPTS) -> None:
        for _ in range(rounds):
            pending = WebhookDelivery.objects.filter(
                status=WebhookDelivery.Status.PENDING, next_attempt_at__isnull=False
            )
            pending.update(next_attempt_at=timezone.now())
            with django_capture_on_commit_callbacks(execute=True):
                if not webhook_deliveries_requeue():
                    return

    return run

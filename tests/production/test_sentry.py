"""Sentry is optional: with SENTRY_DSN set, errors reach it tagged with the request id; without it, the SDK stays
off and nothing leaves the machine."""

import gzip
import json
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.production.live import ROOT, VENV_BIN, clean_env, free_port

REPORT_AN_ERROR = """
import logging
from django_guid import set_guid
import sentry_sdk
set_guid("0123456789abcdef0123456789abcdef")
logging.getLogger("crowdmarket").error("the sky is falling")
print("active" if sentry_sdk.get_client().is_active() else "inactive")
sentry_sdk.flush(timeout=10)
"""


class _Sentry(BaseHTTPRequestHandler):
    received: list[bytes]

    def do_POST(self) -> None:  # noqa: N802 -- the http.server API
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        self.received.append(body)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def fake_sentry():
    received: list[bytes] = []
    handler = type("Handler", (_Sentry,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], received
    server.shutdown()
    server.server_close()


def _report(**env: str) -> str:
    environment = clean_env(SECRET_KEY="test-only-secret", DATABASE_URL="sqlite:///:memory:", **env)
    command = [VENV_BIN / "python", "manage.py", "shell", "-c", REPORT_AN_ERROR]
    done = subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True, check=True)
    return done.stdout.strip().splitlines()[-1]  # what the script printed last


def test_an_error_reaches_sentry_tagged_with_the_request_id_when_a_dsn_is_set(fake_sentry):
    port, received = fake_sentry

    assert _report(SENTRY_DSN=f"http://public@127.0.0.1:{port}/1") == "active"

    events = [json.loads(line) for body in received for line in body.splitlines() if b'"the sky is falling"' in line]
    assert len(events) == 1
    assert events[0]["tags"]["request_id"] == "0123456789abcdef0123456789abcdef"


def test_without_a_dsn_the_sdk_stays_off(fake_sentry):
    port, received = fake_sentry

    assert _report() == "inactive"
    assert received == []

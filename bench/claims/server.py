"""The service under gunicorn on a loopback port, and the login check through allauth's headless API."""

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.claims.common import PASSWORD, ROOT


@contextmanager
def gunicorn(workers: int, threads: int, access_log: str | None = None) -> Iterator[tuple[int, subprocess.Popen]]:
    """Serve the app on a free loopback port; the server's process group is stopped on the way out, always.
    `access_log`: a file for gunicorn's access log, one line per request: method, path, status and the time the
    worker spent on it in microseconds (the server time, without the wait for a free worker)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", int(os.environ.get("BENCH_PORT", "0"))))  # BENCH_PORT: a port of your own
        port = probe.getsockname()[1]
    kind = ["--worker-class", "gthread", "--threads", str(threads)] if threads > 1 else ["--worker-class", "sync"]
    command = [str(Path(sys.executable).parent / "gunicorn"), "marketplace.wsgi", "-b", f"127.0.0.1:{port}"]
    log = tempfile.NamedTemporaryFile("w+", prefix="bench-claims-", suffix=".log", delete=False)  # noqa: SIM115
    logging = ["--access-logfile", access_log, "--access-logformat", "%(m)s %(U)s %(s)s %(D)s"] if access_log else []
    server = subprocess.Popen(
        [*command, "-w", str(workers), *kind, "--log-level", "warning", *logging],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_until_up(port, server, log.name)
        yield port, server
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()
        print(f"\n(server stopped; its log, with any server errors: {log.name})")


def wait_until_up(port: int, server: subprocess.Popen, log: str) -> None:
    for _ in range(300):
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited with {server.returncode}; see {log}")
        try:
            status, _ = request(
                http.client.HTTPConnection("127.0.0.1", port, timeout=5), "GET", "/api/v1/me/", None, {}
            )
        except OSError:
            time.sleep(0.1)
            continue
        if status >= 500:
            raise SystemExit(f"the server answers {status}; see {log}")
        return
    raise SystemExit(f"gunicorn did not answer within 30 s; see {log}")


def request(conn: http.client.HTTPConnection, method: str, path: str, body: Any, headers: dict) -> tuple[int, Any]:
    conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
    response = conn.getresponse()
    data = response.read()
    is_json = response.getheader("Content-Type", "").startswith("application/json")
    return response.status, json.loads(data) if is_json else {"body": data[:200]}


def check_login(port: int, email: str) -> str:
    """Log in through allauth's headless API, as an app would, and check the token opens the API."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    body, headers = {"email": email, "password": PASSWORD}, {"Content-Type": "application/json"}
    status, data = request(conn, "POST", "/_allauth/app/v1/auth/login", body, headers)
    if status != 200:
        raise SystemExit(f"login through /_allauth/app/v1/auth/login failed: {status} {data}")
    token = data["meta"]["session_token"]
    status, _ = request(conn, "GET", "/api/v1/me/", None, {"X-Session-Token": token})
    if status != 200:
        raise SystemExit(f"the login's session token does not open /api/v1/me/: {status}")
    return token

"""Real server processes for tests that must see what a user sees: a port from the range this suite may use, a
process started and stopped by its own PID, and its output kept for the assertion messages."""

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
# Live servers listen on a port of this range (LIVE_SERVER_PORTS, "first-last"): parallel runs on one machine each
# keep to their own range.
PORTS = os.environ.get("LIVE_SERVER_PORTS", "16470-16489")


def free_port() -> int:
    first, last = (int(n) for n in PORTS.split("-"))
    for port in range(first, last + 1):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"No free port in {PORTS} for a live server.")


def clean_env(**overrides: str) -> dict[str, str]:
    """The environment of a fresh deployment: this test run's settings left out, `overrides` put in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST_"))}
    for name in ("DATABASE_URL", "REDIS_URL", "CELERY_TASK_ALWAYS_EAGER", "DEBUG", "SECRET_KEY", "STATIC_ROOT"):
        env.pop(name, None)
    return {**env, **overrides}


@dataclass
class Server:
    url: str
    process: subprocess.Popen
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def live_server(
    command: list[str], env: Mapping[str, str], port: int, log: Path, timeout: float = 60
) -> Iterator[Server]:
    """Start `command` (which listens on `port`), wait until it answers HTTP, and stop it by PID afterwards."""
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=dict(env), stdout=out, stderr=subprocess.STDOUT)
    server = Server(f"http://127.0.0.1:{port}", process, log)
    try:
        _wait_until_up(server, timeout)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_up(server: Server, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"The server exited ({server.process.returncode}):\n{server.output()}")
        try:
            urllib.request.urlopen(f"{server.url}/health/", timeout=2)  # noqa: S310 -- loopback
            return
        except urllib.error.HTTPError:
            return  # it answers: whatever the health check says
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"The server did not answer within {timeout} s:\n{server.output()}")


@dataclass
class Answer:
    status: int
    headers: Mapping[str, str]
    body: bytes


def fetch(url: str, headers: Mapping[str, str] | None = None) -> Answer:
    request = urllib.request.Request(url, headers=dict(headers or {}))  # noqa: S310 -- loopback
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return Answer(response.status, response.headers, response.read())
    except urllib.error.HTTPError as error:
        return Answer(error.code, error.headers, error.read())

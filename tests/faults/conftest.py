"""Fault tests: real processes (Redis servers, Celery workers, ingest runs) started, stopped and killed by PID.

They never touch the shared services' processes: each private Redis runs on a port of `FAULTS_PORTS` (default
16420-16439) and is stopped by its own PID. Run them with `make faults`; `make test` leaves them out.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import pytest
import redis
from django.db import connection

from marketplace.cache import cache_outages_forget
from marketplace.celery import app as celery_app

ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")


def _free_port() -> int:
    first, _, last = os.environ.get("FAULTS_PORTS", "16420-16439").partition("-")
    for port in range(int(first), int(last or first) + 1):
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in FAULTS_PORTS={os.environ.get('FAULTS_PORTS', '16420-16439')}")


def wait_until(condition: Callable[[], T], seconds: float, what: str, every: float = 0.1) -> T:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(every)
    raise AssertionError(f"after {seconds:g} s still not: {what}")


@dataclass
class PrivateRedis:
    """A redis-server of our own (no persistence: a restart loses every key, as the shared one must never do)."""

    port: int = field(default_factory=_free_port)
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary, "the fault tests need redis-server on PATH"
        args = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        wait_until(lambda: self._pings(client), 10, f"redis-server on port {self.port} answers")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()  # SIGKILL, by PID: as abrupt as a crash
            self.process.wait(timeout=10)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    @staticmethod
    def _pings(client: redis.Redis) -> bool:
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def broker_at(url: str) -> Iterator[None]:
    """Send this process's Celery tasks to the broker at `url` instead of running them in place."""
    # The app reads Django's settings under the CELERY_ namespace: `conf.broker_url = ...` would be shadowed.
    conf, keys = celery_app.conf, ("CELERY_BROKER_URL", "CELERY_TASK_ALWAYS_EAGER")
    saved = [conf[key] for key in keys]
    conf.update(dict(zip(keys, (url, False), strict=True)))
    celery_app._after_fork()  # drop the connections pooled for the previous broker
    try:
        yield
    finally:
        conf.update(dict(zip(keys, saved, strict=True)))
        celery_app._after_fork()


@pytest.fixture
def cache_at(settings):
    """Point the default cache at a Redis URL (its outage memory reset before and after)."""

    def point(url: str) -> None:
        settings.CACHES = {
            "default": {
                "BACKEND": "marketplace.cache.RedisCache",
                "LOCATION": url,
                "OPTIONS": {"socket_connect_timeout": 1.0, "socket_timeout": 1.0},
            }
        }
        cache_outages_forget()

    yield point
    cache_outages_forget()


@pytest.fixture
def child_env(settings) -> dict[str, str]:
    """The environment of a child process that works on this test's database and media folder."""
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    return {
        **os.environ,
        "DATABASE_URL": url,
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "SECRET_KEY": "test-only-secret",
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "marketplace.settings",
    }


def start_child(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    """A child process in its own process group (so that killing it kills its pool too), its output in `log`."""
    out = log.open("wb")
    return subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def stop_child(process: subprocess.Popen, sig: int = signal.SIGTERM, seconds: float = 20) -> None:
    if process.poll() is None:
        os.killpg(process.pid, sig)
        try:
            process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


PYTHON = sys.executable

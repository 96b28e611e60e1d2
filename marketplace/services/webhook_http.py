"""Sending one webhook attempt over HTTP(S): no redirects followed, no private addresses (unless allowed), and a
total deadline (WEBHOOK_TIMEOUT_SECONDS) on the whole attempt, not only on each socket operation."""

import contextlib
import ipaddress
import socket
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from functools import partial
from http.client import HTTPConnection, HTTPException, HTTPSConnection
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings


@dataclass(frozen=True)
class Attempt:
    status_code: int | None
    error: str
    elapsed_ms: int
    body: bytes = b""  # the first `read` bytes of a 2xx answer (what the caller asked to read)

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def http_post(*, url: str, body: bytes, headers: dict[str, str], read: int = 1024) -> Attempt:
    """POST `body` to `url` once, within WEBHOOK_TIMEOUT_SECONDS in all, reading at most `read` bytes of the answer.
    Never raises: a refused address, a connection error or the deadline is an Attempt with no status code and the
    reason."""
    seconds = settings.WEBHOOK_TIMEOUT_SECONDS
    started = time.perf_counter()
    status_code, error, answer = None, "", b""
    deadline = _Deadline(seconds)
    try:
        _refuse_private_address(url)
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        with deadline, _opener(deadline).open(request, timeout=seconds) as response:
            status_code = response.status
            answer = response.read(read)
    except urllib.error.HTTPError as exc:
        status_code, error = exc.code, f"HTTP {exc.code}"
    except (HTTPException, OSError, ValueError) as exc:  # URLError and TimeoutError are OSErrors
        status_code, error = None, _failure(exc, deadline.expired, seconds)
    return Attempt(status_code, error, int((time.perf_counter() - started) * 1000), answer)


def _failure(exc: Exception, expired: bool, seconds: float) -> str:
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc  # a connect error arrives wrapped
    if expired or isinstance(reason, TimeoutError):
        return f"Timed out after {seconds:g} s."
    if isinstance(exc, urllib.error.URLError):
        return f"Connection failed: {exc.reason}"
    return f"{type(exc).__name__}: {exc}"


def _refuse_private_address(url: str) -> None:
    """Requesters choose the URL: unless WEBHOOK_ALLOW_PRIVATE_URLS, refuse hosts that resolve to loopback,
    private, link-local or reserved addresses (the server's own network, cloud metadata services).

    The name is resolved again when connecting, so a host that changes its answer in between is not caught."""
    if settings.WEBHOOK_ALLOW_PRIVATE_URLS:
        return
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    for *_, sockaddr in socket.getaddrinfo(parts.hostname, port, proto=socket.IPPROTO_TCP):
        if not ipaddress.ip_address(sockaddr[0]).is_global:
            raise ValueError(f"{parts.hostname} resolves to a non-public address.")


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer, not an instruction: following it could lead the POST to an address we refuse."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class _Deadline:
    """The end of one attempt, WEBHOOK_TIMEOUT_SECONDS after it starts, whatever the receiver does.

    A socket timeout bounds each read, not the attempt: a receiver that sends a byte just inside it every time holds
    the attempt, and the worker process, as long as it likes. At the deadline a timer thread shuts the attempt's
    socket down, which ends the read that waits on it."""

    def __init__(self, seconds: float) -> None:
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> "_Deadline":
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()

    def watch(self, sock: socket.socket) -> socket.socket:
        with self._lock:
            self._sockets.append(sock)
            if self.expired:
                _shut(sock)
        return sock

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                _shut(sock)


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed
        socket.socket.shutdown(sock, socket.SHUT_RDWR)  # the plain socket's: a TLS one would try to say goodbye


class _Watched:
    """An HTTP(S) connection whose socket is shut down at the attempt's deadline: the TCP socket as soon as it is
    connected (a TLS handshake may trickle too), then the TLS socket that takes its place."""

    def __init__(self, *args: Any, deadline: _Deadline, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline = deadline
        create = self._create_connection  # type: ignore[has-type]
        self._create_connection = lambda *a, **k: self._deadline.watch(create(*a, **k))

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]
        self._deadline.watch(self.sock)  # type: ignore[attr-defined]


class _WatchedHTTP(_Watched, HTTPConnection):
    pass


class _WatchedHTTPS(_Watched, HTTPSConnection):
    pass


class _DeadlineHandler:
    """Opens http and https URLs through watched connections (the stock handlers otherwise, proxies included)."""

    def __init__(self, deadline: _Deadline) -> None:
        super().__init__()
        self._deadline = deadline

    def do_open(self, http_class: type, req: urllib.request.Request, **kwargs: Any) -> Any:
        watched = _WatchedHTTPS if issubclass(http_class, HTTPSConnection) else _WatchedHTTP
        return super().do_open(partial(watched, deadline=self._deadline), req, **kwargs)  # type: ignore[misc]


class _DeadlineHTTP(_DeadlineHandler, urllib.request.HTTPHandler):  # type: ignore[misc]  # do_open widens the stubs' signature
    pass


class _DeadlineHTTPS(_DeadlineHandler, urllib.request.HTTPSHandler):  # type: ignore[misc]  # do_open widens the stubs' signature
    pass


def _opener(deadline: _Deadline) -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(_NoRedirects, _DeadlineHTTP(deadline), _DeadlineHTTPS(deadline))

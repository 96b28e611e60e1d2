"""The simulator's HTTP client: the same requests, byte for byte, to the in-process WSGI app or to a real server.

`InProcessTransport` hands each request to Django's test `Client`, which runs the project's WSGI handler: URL
routing, middleware, authentication, throttles, serializers and the exception handler all run as under a server;
only the socket is missing. `UrlTransport` sends the same bytes to a running server with `urllib`. Requests and
bodies are built once, here (JSON and multipart are encoded by hand), so both transports carry identical requests.
"""

import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

from django.test import Client

MAX_WAIT = 180.0  # seconds a request may spend waiting out rate limits


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: bytes
    content_type: str
    retry_after: float | None = None  # seconds, from a 429's Retry-After header

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class ApiError(Exception):
    """An answer outside the expected statuses, with the API's error `code` (or the HTTP status if not JSON)."""

    def __init__(self, method: str, path: str, response: HttpResponse) -> None:
        body = _json_or_none(response)
        self.status = response.status
        self.code = str(body.get("code")) if isinstance(body, dict) and "code" in body else f"http_{response.status}"
        self.extra: dict[str, Any] = body.get("extra", {}) if isinstance(body, dict) else {}
        self.body = body if body is not None else response.body[:300].decode(errors="replace")
        super().__init__(f"{method} {path} -> {response.status} {self.code}: {self.body}")


def _json_or_none(response: HttpResponse) -> Any:
    if "json" not in response.content_type:
        return None
    try:
        return response.json()
    except ValueError:
        return None


class Transport(Protocol):
    requests: int

    def send(self, method: str, path: str, body: bytes, headers: dict[str, str], address: str) -> HttpResponse: ...


class InProcessTransport:
    """Django's test `Client` on the project's own WSGI handler. Cookies are dropped after every call, so the only
    credential a request carries is the `X-Session-Token` header, as with a script against a real server. Each
    simulated user calls from their own address (`REMOTE_ADDR`), as a real crowd does, which per-IP limits such as
    allauth's sign-up rate see."""

    def __init__(self) -> None:
        self._client = Client()
        self.requests = 0

    def send(self, method: str, path: str, body: bytes, headers: dict[str, str], address: str) -> HttpResponse:
        headers = dict(headers)
        content_type = headers.pop("Content-Type", "application/octet-stream")
        response = self._client.generic(
            method, path, data=body, content_type=content_type, headers=headers, REMOTE_ADDR=address
        )
        self._client.cookies.clear()
        self.requests += 1
        content = b"".join(response.streaming_content) if response.streaming else response.content
        return HttpResponse(response.status_code, content, response.get("Content-Type", ""), _seconds(response))


class UrlTransport:
    """A running server at `base_url` (e.g. http://127.0.0.1:8000), through `urllib`. Every request comes from this
    machine's address: per-IP limits (allauth's sign-up rate) pace the run, and `ApiClient` waits them out."""

    def __init__(self, base_url: str, timeout: float = 60.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.requests = 0

    def send(self, method: str, path: str, body: bytes, headers: dict[str, str], address: str) -> HttpResponse:
        request = urllib.request.Request(self.base_url + path, data=body or None, method=method, headers=headers)
        self.requests += 1
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:  # noqa: S310 -- http(s) only
                return HttpResponse(answer.status, answer.read(), answer.headers.get("Content-Type", ""))
        except urllib.error.HTTPError as error:
            content_type = error.headers.get("Content-Type", "")
            return HttpResponse(error.code, error.read(), content_type, _seconds(error.headers))


def _seconds(headers: Any) -> float | None:
    value = headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def encode_json(data: Any) -> tuple[bytes, str]:
    return json.dumps(data).encode(), "application/json"


def encode_multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes, str]]) -> tuple[bytes, str]:
    """A multipart/form-data body: `fields` as text parts, `files` as (filename, content, content type)."""
    boundary = f"----crowdmarket-sim-{uuid.uuid4().hex}"
    parts: list[bytes] = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    for name, (filename, content, content_type) in files.items():
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n"
        )
        parts.append(head.encode() + content + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


@dataclass
class ApiClient:
    """One user's view of the API: every call carries their session token."""

    transport: Transport
    address: str = "127.0.0.1"
    token: str = ""
    user_id: int = 0
    email: str = ""
    headers: dict[str, str] = field(default_factory=dict)

    def call(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        multipart: tuple[bytes, str] | None = None,
        headers: dict[str, str] | None = None,
        expect: tuple[int, ...] = (200, 201, 202, 204),
    ) -> HttpResponse:
        body, content_type = multipart or (encode_json(json_body) if json_body is not None else (b"", ""))
        sent = {"Accept": "application/json", **self.headers, **(headers or {})}
        if self.token:
            sent["X-Session-Token"] = self.token
        if content_type:
            sent["Content-Type"] = content_type
        response = self._send_paced(method, path, body, sent)
        if response.status not in expect:
            raise ApiError(method, path, response)
        return response

    def _send_paced(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> HttpResponse:
        """Send; on 429 (a rate limit) wait as long as the server asks (`Retry-After`, or the error's `extra.wait`)
        and try again, for up to MAX_WAIT seconds in all."""
        waited = 0.0
        while True:
            response = self.transport.send(method, path, body, headers, self.address)
            if response.status != 429 or waited >= MAX_WAIT:
                return response
            pause = response.retry_after or _extra_wait(response) or 5.0
            time.sleep(pause)
            waited += pause

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.call("GET", path, **kwargs).json()

    def post(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        return self.call("POST", path, json_body=body if body is not None else {}, **kwargs).json()

    def pages(self, path: str) -> Iterator[dict[str, Any]]:
        """Every row of a paginated list, following `next` links."""
        url: str | None = path + ("&" if "?" in path else "?") + "page_size=500"
        while url:
            page = self.get(url)
            yield from page["results"]
            url = _path_of(page["next"]) if page.get("next") else None


def _extra_wait(response: HttpResponse) -> float | None:
    body = _json_or_none(response)
    wait = body.get("extra", {}).get("wait") if isinstance(body, dict) else None
    return float(wait) if wait else None


def _path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def signup(transport: Transport, *, email: str, password: str, address: str, **roles: bool) -> ApiClient:
    """Sign up through allauth's headless app API (`roles`: is_requester, is_worker) and return a client holding
    the new session token."""
    return _authenticate(transport, "signup", {"email": email, "password": password, **roles}, address)


def login(transport: Transport, *, email: str, password: str, address: str) -> ApiClient:
    return _authenticate(transport, "login", {"email": email, "password": password}, address)


def _authenticate(transport: Transport, action: str, body: dict[str, Any], address: str) -> ApiClient:
    anonymous = ApiClient(transport, address=address)
    answer = anonymous.call("POST", f"/_allauth/app/v1/auth/{action}", json_body=body, expect=(200,)).json()
    token, user_id = answer["meta"]["session_token"], answer["data"]["user"]["id"]
    return ApiClient(transport, address=address, token=token, user_id=user_id, email=body["email"])

"""How the client reaches the API: `httpx` over the network, or in process through any WSGI app (httpx's
`WSGITransport`: the same requests, no socket; the demo and tests use it)."""

import time
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True)
class ApiError(Exception):
    """An answer outside 2xx: the HTTP status, the API's error `code` (or `http_<status>`), its message and `extra`
    (e.g. `extra["errors"]` lists an upload's bad rows with their row, line and field)."""

    status: int
    code: str
    message: str
    extra: dict[str, Any]

    def __str__(self) -> str:
        return f"{self.status} {self.code}: {self.message}" + (f" {self.extra}" if self.extra else "")

    @classmethod
    def of(cls, response: httpx.Response) -> "ApiError":
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and "code" in body:
            return cls(response.status_code, str(body["code"]), str(body.get("message", "")), body.get("extra") or {})
        return cls(response.status_code, f"http_{response.status_code}", response.text[:300], {})


def http_client(
    base_url: str,
    *,
    api_key: str | None = None,
    session_token: str | None = None,
    wsgi_app: Any = None,
    remote_addr: str = "127.0.0.1",
    timeout: float = 60.0,
    max_wait: float = 0.0,
) -> httpx.Client:
    """An `httpx.Client` for the API at `base_url`, authenticated with an API key (`Authorization: Api-Key`) or a
    session token (`X-Session-Token`); with `wsgi_app`, requests go to that app in process (no server, no socket),
    from `remote_addr`. With `max_wait`, a rate-limited request (429) is sent again once the server says it may be,
    for up to `max_wait` seconds in all (`PacedTransport`)."""
    headers = {"Accept": "application/json"}
    if api_key:
        headers["Authorization"] = f"Api-Key {api_key}"
    if session_token:
        headers["X-Session-Token"] = session_token
    transport: httpx.BaseTransport | None = None
    if wsgi_app is not None:
        transport = httpx.WSGITransport(app=wsgi_app, remote_addr=remote_addr)
    if max_wait > 0:
        transport = PacedTransport(transport or httpx.HTTPTransport(), max_wait=max_wait)
    return httpx.Client(base_url=base_url, headers=headers, timeout=timeout, transport=transport)


class PacedTransport(httpx.BaseTransport):
    """Waits out rate limits: on a 429, sleeps as long as the server asks (its `Retry-After` header, or the error's
    `extra.wait`; 5 s if neither says) and sends the same request again, until `max_wait` seconds have been spent
    waiting; then the 429 is the answer."""

    def __init__(self, inner: httpx.BaseTransport, *, max_wait: float) -> None:
        self.inner, self.max_wait = inner, max_wait

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()  # the body as bytes, to send again
        waited = 0.0
        while True:
            response = self.inner.handle_request(request)
            if response.status_code != 429 or waited >= self.max_wait:
                return response
            response.read()
            pause = _retry_after(response)
            response.close()
            time.sleep(pause)
            waited += pause

    def close(self) -> None:
        self.inner.close()


def _retry_after(response: httpx.Response) -> float:
    """Seconds to wait before sending again, as the 429 says (5 if it does not)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    extra = body.get("extra") if isinstance(body, dict) else None
    for said in (response.headers.get("Retry-After"), extra.get("wait") if isinstance(extra, dict) else None):
        try:
            if said is not None and float(said) > 0:
                return float(said)
        except (TypeError, ValueError):
            continue
    return 5.0

"""How the client reaches the API: `httpx` over the network, or in process through any WSGI app (httpx's
`WSGITransport`: the same requests, no socket; the demo and tests use it)."""

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
) -> httpx.Client:
    """An `httpx.Client` for the API at `base_url`, authenticated with an API key (`Authorization: Api-Key`) or a
    session token (`X-Session-Token`); with `wsgi_app`, requests go to that app in process (no server, no socket),
    from `remote_addr`."""
    headers = {"Accept": "application/json"}
    if api_key:
        headers["Authorization"] = f"Api-Key {api_key}"
    if session_token:
        headers["X-Session-Token"] = session_token
    transport = httpx.WSGITransport(app=wsgi_app, remote_addr=remote_addr) if wsgi_app is not None else None
    return httpx.Client(base_url=base_url, headers=headers, timeout=timeout, transport=transport)

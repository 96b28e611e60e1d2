"""How the simulated users reach the API: each through a `marketplace.client.Client` of their own, the client any
requester or worker script uses, calling from their own address.

In process (`wsgi_app`: the project's WSGI application), httpx's `WSGITransport` hands each request to it: URL
routing, middleware, authentication, throttles, serializers and the exception handler all run as under a server;
only the socket is missing, and each user's address is the request's `REMOTE_ADDR`, which per-IP limits such as
allauth's sign-up rate see. Against a running server (`base_url` alone) the same requests go over the network, all
from this machine's address: the clients wait out the 429s that per-IP limits then answer (up to MAX_WAIT seconds
a request). Cookies are refused, so the only credential a request carries is its `X-Session-Token` header, as with
a script.
"""

from http.cookiejar import DefaultCookiePolicy
from typing import Any

import httpx

from marketplace.client import Client, http_client

MAX_WAIT = 180.0  # seconds a request may spend waiting out rate limits


class Network:
    """Makes the simulated users' clients, and counts the requests they send."""

    def __init__(self, base_url: str, *, wsgi_app: Any = None) -> None:
        self.base_url, self.wsgi_app = base_url, wsgi_app
        self.requests = 0

    def client(self, address: str) -> Client:
        """A client, not yet signed in (see `Client.signup` and `Client.login`), calling from `address`."""
        http = http_client(self.base_url, wsgi_app=self.wsgi_app, remote_addr=address, max_wait=MAX_WAIT)
        http.cookies.jar.set_policy(DefaultCookiePolicy(allowed_domains=[]))
        http.event_hooks["request"].append(self._count)
        return Client(http=http)

    def _count(self, request: httpx.Request) -> None:
        self.requests += 1

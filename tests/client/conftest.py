import httpx
from django.test import Client as DjangoClient

from marketplace.client import Client


class DjangoTestTransport(httpx.BaseTransport):
    """httpx requests handed to Django's test client: the project's whole WSGI stack in process, inside the test's
    transaction (Django's client keeps the database connection open across requests, as a plain WSGI call does not)."""

    def __init__(self) -> None:
        self.django = DjangoClient()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        content_type = headers.pop("content-type", "application/octet-stream")
        path = request.url.raw_path.decode()
        answer = self.django.generic(
            request.method, path, data=request.read(), content_type=content_type, headers=headers
        )
        self.django.cookies.clear()
        content = b"".join(answer.streaming_content) if answer.streaming else answer.content
        return httpx.Response(answer.status_code, headers=dict(answer.items()), content=content)


def in_process(api_key: str) -> Client:
    http = httpx.Client(
        base_url="http://testserver", headers={"Authorization": f"Api-Key {api_key}"}, transport=DjangoTestTransport()
    )
    return Client(http=http)

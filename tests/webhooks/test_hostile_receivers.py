"""A receiver's answer is the receiver's text: whatever it sends back, the attempt is recorded, never a crash."""

import socket
import threading
from collections.abc import Iterator

import pytest

from marketplace.models import WebhookDelivery
from marketplace.services.webhooks import webhook_deliver, webhook_emit, webhook_endpoint_create
from tests.factories import JobFactory


@pytest.fixture
def raw_receiver(settings) -> Iterator[str]:
    """An HTTP 'server' that answers its first connection with a status line holding a NUL; yields its URL."""
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(10)

    def answer() -> None:
        try:
            connection, _ = server.accept()
        except OSError:
            return
        with connection:
            connection.recv(65536)
            connection.sendall(b"HTTP/1.1 2\x000 OK\r\n\r\n")

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}/hooks"
    finally:
        server.close()
        thread.join(timeout=5)


@pytest.mark.django_db
def test_a_status_line_with_a_nul_is_recorded_as_a_failed_attempt_with_its_error_escaped(
    raw_receiver, requester, django_capture_on_commit_callbacks
):
    job = JobFactory(requester=requester)
    webhook_endpoint_create(owner=requester, job=job, url=raw_receiver)
    with django_capture_on_commit_callbacks(execute=False):
        [delivery] = webhook_emit(job=job, event="job.completed", data={})

    outcome = webhook_deliver(delivery_id=delivery.pk)

    delivery = WebhookDelivery.objects.get(pk=delivery.pk)
    assert outcome.retry_in is not None
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    assert "BadStatusLine" in delivery.last_error and "\\u0000" in delivery.last_error
    assert "\x00" not in delivery.last_error

"""A slow receiver costs one attempt at most WEBHOOK_TIMEOUT_SECONDS in all, and webhooks wait in their own queue,
so that no receiver can hold up payouts or other work."""

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from marketplace.celery import app as celery_app
from marketplace.models import WebhookDelivery
from marketplace.services.webhooks import webhook_deliver, webhook_emit
from tests.factories import JobFactory

TRICKLE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


@pytest.fixture
def trickler() -> Iterator[tuple[str, list[float]]]:
    """A receiver that reads the request, then answers one byte every 2 s (each read gets a byte in time)."""
    server = socket.create_server(("127.0.0.1", 0))
    hung_up: list[float] = []

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            conn.recv(65536)
            for byte in TRICKLE[:8]:  # 16 s of trickle, then it gives up too
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    break
                time.sleep(2)
            hung_up.append(time.monotonic())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}/hooks", hung_up
    server.close()


@pytest.mark.django_db
def test_a_receiver_trickling_a_byte_every_two_seconds_is_cut_at_the_deadline(
    trickler, make_endpoint, requester, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_TIMEOUT_SECONDS = 3.0
    url, _ = trickler
    job = JobFactory(requester=requester)
    make_endpoint(requester, job, url=url)
    with django_capture_on_commit_callbacks(execute=False):
        [delivery] = webhook_emit(job=job, event="job.completed", data={})

    started = time.monotonic()
    outcome = webhook_deliver(delivery_id=delivery.pk)
    elapsed = time.monotonic() - started

    assert 2.9 <= elapsed < 5.0  # without the deadline: 16 s, as long as the receiver trickles
    assert (outcome.status, outcome.retry_in) == ("pending", 10)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, None)
    assert delivery.last_error == "Timed out after 3 s."
    assert delivery.last_response_ms < 5000


def queue_of(task_name: str) -> str:
    return celery_app.amqp.router.route({}, task_name)["queue"].name


def test_webhooks_wait_in_their_own_queue_and_money_in_the_main_one():
    assert queue_of("marketplace.tasks.webhook_deliver_task") == "webhooks"
    assert queue_of("payments.tasks.payout_send_task") == "crowdmarket"
    assert queue_of("marketplace.tasks.upload_ingest_task") == "crowdmarket"
    queues = celery_app.amqp.queues.values()
    assert {queue.name for queue in queues} == {"crowdmarket", "webhooks"}
    # A binding each: with one routing key for both, an AMQP broker would deliver a message routed to one to both.
    assert len({(queue.exchange.name, queue.routing_key) for queue in queues}) == 2


@pytest.mark.django_db
def test_a_delivery_is_not_retried_by_a_task_waiting_in_the_worker(
    receiver, make_endpoint, requester, django_capture_on_commit_callbacks
):
    """The retry is a due time in the database, sent by the sweeper: a worker never holds a countdown task, which
    a broker restart could lose or (celery 5.7.0) kill the worker over."""
    job = JobFactory(requester=requester)
    make_endpoint(requester, job)
    receiver.fail_next(500)

    with django_capture_on_commit_callbacks(execute=True):
        [delivery] = webhook_emit(job=job, event="job.completed", data={})

    assert len(receiver.requests) == 1  # no retry in place
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    assert WebhookDelivery.objects.get(pk=delivery.pk).next_attempt_at is not None

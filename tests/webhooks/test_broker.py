"""Through the real broker: an event enqueued on commit goes through Redis to a Celery worker; each failed attempt's
retry waits in the database (its backoff shortened here) until the sweeper, playing beat, sends it to the worker
again, until the receiver takes the event."""

import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.db import transaction

from marketplace.celery import app as celery_app
from marketplace.models import WebhookDelivery
from marketplace.services.webhooks import webhook_deliveries_requeue, webhook_emit
from tests.factories import JobFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def celery_worker(settings):
    assert settings.REDIS_URL, "this test needs the real broker: run it with REDIS_URL set (make test does)"
    # Under its CELERY_ namespace: `conf.task_always_eager = False` is shadowed by the Django setting, and the
    # task would run in place, never through the broker.
    celery_app.conf.update(CELERY_TASK_ALWAYS_EAGER=False)
    try:
        with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=30) as worker:
            yield worker
    finally:
        celery_app.conf.update(CELERY_TASK_ALWAYS_EAGER=True)


def wait_for_status(delivery_id: int, status: str, seconds: float = 20, sweep: bool = False) -> WebhookDelivery:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        delivery = WebhookDelivery.objects.get(pk=delivery_id)
        if delivery.status == status:
            return delivery
        if sweep:
            webhook_deliveries_requeue()
        time.sleep(0.05)
    raise AssertionError(f"delivery {delivery_id} still {delivery.status} after {seconds}s")


def test_a_worker_retries_through_the_broker_with_backoff_until_the_receiver_takes_the_event(
    celery_worker, receiver, make_endpoint, requester, monkeypatch
):
    monkeypatch.setattr("marketplace.services.webhook_delivery.BACKOFF_SECONDS", (0.5, 0.5, 0.5, 0.5, 0.5))
    job = JobFactory(requester=requester)
    make_endpoint(requester, job)
    receiver.fail_next(500, 500)

    with transaction.atomic():
        [delivery] = webhook_emit(job=job, event="job.completed", data={})
        time.sleep(0.3)
        assert receiver.requests == []  # nothing leaves before the commit

    delivery = wait_for_status(delivery.pk, "delivered", sweep=True)
    assert (delivery.attempts, delivery.last_status_code) == (3, 200)
    sent_at = [r.received_at for r in receiver.requests]
    assert len(sent_at) == 3
    assert all(later - earlier >= 0.4 for earlier, later in zip(sent_at, sent_at[1:], strict=False))

"""Delivery against a real HTTP receiver on 127.0.0.1: signing, retries, idempotency, and rolled-back events."""

import socket
import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from marketplace.models import WebhookDelivery
from marketplace.services.webhooks import (
    MAX_ATTEMPTS,
    webhook_deliver,
    webhook_deliveries_requeue,
    webhook_emit,
    webhook_endpoint_rotate_secret,
    webhook_endpoint_update,
    webhook_verify,
)
from marketplace.tasks import webhook_deliver_task
from tests.factories import JobFactory

DATA = {"note": "hello"}


def emit(job, event="job.completed"):
    return webhook_emit(job=job, event=event, data=DATA)


def _emit_without_sending(job, django_capture_on_commit_callbacks) -> WebhookDelivery:
    with django_capture_on_commit_callbacks(execute=False):
        [delivery] = emit(job)
    return delivery


@pytest.mark.django_db
def test_a_delivery_arrives_signed_with_the_endpoint_secret(
    receiver, make_endpoint, requester, django_capture_on_commit_callbacks
):
    job = JobFactory(requester=requester)
    endpoint = make_endpoint(requester, job)

    with django_capture_on_commit_callbacks(execute=True):
        [delivery] = emit(job)

    [request] = receiver.requests
    headers = {k.lower(): v for k, v in request.headers.items()}
    assert webhook_verify(secret=endpoint.secret, header=headers["x-crowdmarket-signature"], body=request.body)
    assert not webhook_verify(secret="whsec_wrong", header=headers["x-crowdmarket-signature"], body=request.body)
    assert headers["x-crowdmarket-event"] == "job.completed"
    assert headers["x-crowdmarket-delivery"] == str(delivery.pk)
    assert headers["content-type"] == "application/json"
    body = request.json
    assert body == {
        "id": str(delivery.event_id),
        "type": "job.completed",
        "created": body["created"],
        "job": job.pk,
        "data": DATA,
    }
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code, delivery.last_error) == (
        "delivered",
        1,
        200,
        "",
    )
    assert delivery.delivered_at is not None and delivery.last_response_ms is not None


@pytest.mark.django_db(transaction=True)
def test_a_receiver_that_fails_twice_gets_the_event_on_the_third_try(
    receiver, make_endpoint, requester, send_due_retries
):
    job = JobFactory(requester=requester)
    make_endpoint(requester, job)
    receiver.fail_next(500, 503)

    with transaction.atomic():
        [delivery] = emit(job)
    assert len(receiver.requests) == 1  # sent after commit; the retries wait in the database until due
    send_due_retries()

    assert len(receiver.requests) == 3
    assert len({r.json["id"] for r in receiver.requests}) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 3, 200)
    assert delivery.next_attempt_at is None


@pytest.mark.django_db(transaction=True)
def test_an_event_from_a_rolled_back_transaction_is_never_sent(receiver, make_endpoint, requester):
    job = JobFactory(requester=requester)
    make_endpoint(requester, job)

    with pytest.raises(RuntimeError), transaction.atomic():
        emit(job)
        assert WebhookDelivery.objects.count() == 1
        raise RuntimeError("the domain change failed")

    assert receiver.requests == []
    assert not WebhookDelivery.objects.exists()


@pytest.mark.django_db
def test_a_delivery_fails_for_good_after_the_last_attempt(
    receiver, make_endpoint, requester, django_capture_on_commit_callbacks, send_due_retries
):
    job = JobFactory(requester=requester)
    make_endpoint(requester, job)
    receiver.fail_next(*[500] * (MAX_ATTEMPTS + 2))

    with django_capture_on_commit_callbacks(execute=True):
        [delivery] = emit(job)
    send_due_retries(rounds=MAX_ATTEMPTS + 2)

    assert len(receiver.requests) == MAX_ATTEMPTS == 6
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("failed", 6, 500)
    assert delivery.last_error == "HTTP 500"
    assert delivery.next_attempt_at is None and delivery.delivered_at is None


@pytest.mark.django_db
def test_running_the_delivery_task_twice_sends_once(
    receiver, make_endpoint, requester, django_capture_on_commit_callbacks
):
    job = JobFactory(requester=requester)
    make_endpoint(requester, job)
    delivery = _emit_without_sending(job, django_capture_on_commit_callbacks)

    first = webhook_deliver_task.apply(args=[delivery.pk]).get()
    second = webhook_deliver_task.apply(args=[delivery.pk]).get()

    assert (first, second) == ("delivered", "skipped")
    assert len(receiver.requests) == 1
    delivery.refresh_from_db()
    assert delivery.attempts == 1


@pytest.mark.django_db(transaction=True)
def test_two_workers_racing_for_the_same_delivery_send_it_once(receiver, make_endpoint, requester):
    job = JobFactory(requester=requester)
    make_endpoint(requester, job)
    receiver.delay = 0.3  # the first sender is still waiting on the receiver when the second one tries
    with transaction.atomic(), pytest.MonkeyPatch.context() as patch:
        patch.setattr("marketplace.services.webhook_events.webhook_delivery_enqueue", lambda delivery_id: None)
        [delivery] = emit(job)
    outcomes = []

    def send() -> None:
        try:
            outcomes.append(webhook_deliver(delivery_id=delivery.pk).status)
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["delivered", "skipped"]
    assert len(receiver.requests) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("delivered", 1)


@pytest.mark.django_db
def test_a_timeout_is_a_failed_attempt_retried_after_ten_seconds(
    receiver, make_endpoint, requester, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.2
    receiver.delay = 1.0
    job = JobFactory(requester=requester)
    make_endpoint(requester, job)
    delivery = _emit_without_sending(job, django_capture_on_commit_callbacks)

    outcome = webhook_deliver(delivery_id=delivery.pk)

    assert (outcome.status, outcome.retry_in) == ("pending", 10)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, None)
    assert delivery.last_error == "Timed out after 0.2 s."
    assert timedelta(seconds=10) <= delivery.next_attempt_at - delivery.last_attempt_at < timedelta(seconds=11)


@pytest.mark.django_db
def test_a_refused_connection_is_a_failed_attempt(
    receiver, make_endpoint, requester, django_capture_on_commit_callbacks
):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    job = JobFactory(requester=requester)
    make_endpoint(requester, job, url=f"http://127.0.0.1:{closed_port}/hooks")
    delivery = _emit_without_sending(job, django_capture_on_commit_callbacks)

    assert webhook_deliver(delivery_id=delivery.pk).retry_in == 10

    delivery.refresh_from_db()
    assert (delivery.status, delivery.last_status_code) == ("pending", None)
    assert delivery.last_error.startswith("Connection failed")


@pytest.mark.django_db
def test_a_redirect_is_not_followed_but_counted_as_a_failed_attempt(
    receiver, make_endpoint, requester, django_capture_on_commit_callbacks
):
    job = JobFactory(requester=requester)
    make_endpoint(requester, job)
    delivery = _emit_without_sending(job, django_capture_on_commit_callbacks)
    receiver.fail_next(302)

    webhook_deliver(delivery_id=delivery.pk)

    assert len(receiver.requests) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.last_status_code, delivery.last_error) == ("pending", 302, "HTTP 302")


@pytest.mark.django_db
def test_a_receiver_on_a_private_address_is_refused_in_production(
    receiver, make_endpoint, requester, settings, django_capture_on_commit_callbacks
):
    job = JobFactory(requester=requester)
    make_endpoint(requester, job)
    delivery = _emit_without_sending(job, django_capture_on_commit_callbacks)
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False

    webhook_deliver(delivery_id=delivery.pk)

    assert receiver.requests == []
    delivery.refresh_from_db()
    assert "non-public address" in delivery.last_error


@pytest.mark.django_db
def test_an_endpoint_switched_off_before_delivery_gets_nothing(
    receiver, make_endpoint, requester, django_capture_on_commit_callbacks
):
    job = JobFactory(requester=requester)
    endpoint = make_endpoint(requester, job)
    delivery = _emit_without_sending(job, django_capture_on_commit_callbacks)
    webhook_endpoint_update(endpoint=endpoint, is_active=False)

    assert webhook_deliver(delivery_id=delivery.pk).status == "failed"

    assert receiver.requests == []
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("failed", 0)


@pytest.mark.django_db
def test_a_retry_after_a_secret_rotation_is_signed_with_the_new_secret(
    receiver, make_endpoint, requester, django_capture_on_commit_callbacks
):
    job = JobFactory(requester=requester)
    endpoint = make_endpoint(requester, job)
    old_secret = endpoint.secret
    receiver.fail_next(500)
    delivery = _emit_without_sending(job, django_capture_on_commit_callbacks)
    webhook_deliver(delivery_id=delivery.pk)

    endpoint = webhook_endpoint_rotate_secret(endpoint=endpoint)
    webhook_deliver(delivery_id=delivery.pk)

    retry = receiver.requests[1]
    header = retry.headers["X-Crowdmarket-Signature"]
    assert webhook_verify(secret=endpoint.secret, header=header, body=retry.body)
    assert not webhook_verify(secret=old_secret, header=header, body=retry.body)


@pytest.mark.django_db
def test_the_sweeper_sends_a_delivery_whose_task_was_lost_and_leaves_fresh_ones_alone(
    receiver, make_endpoint, requester, django_capture_on_commit_callbacks
):
    job = JobFactory(requester=requester)
    make_endpoint(requester, job)
    lost = _emit_without_sending(job, django_capture_on_commit_callbacks)
    WebhookDelivery.objects.filter(pk=lost.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    fresh = _emit_without_sending(job, django_capture_on_commit_callbacks)

    with django_capture_on_commit_callbacks(execute=True):
        assert webhook_deliveries_requeue() == 1

    assert [r.json["id"] for r in receiver.requests] == [str(lost.event_id)]
    fresh.refresh_from_db()
    assert fresh.status == "pending"
    with django_capture_on_commit_callbacks(execute=True):
        assert webhook_deliveries_requeue() == 0  # the delivered one is done; the fresh one is not overdue yet

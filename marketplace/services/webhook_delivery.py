"""Webhook delivery: one signed attempt at a time, retried with backoff, and the sweeper that re-enqueues what is due.

`webhook_deliver` (run by `webhook_deliver_task`) never holds a transaction while it waits on the network: it claims
the row with a conditional UPDATE (pending → sending, whose row count must be 1), POSTs, then records the outcome
with another single UPDATE. Two runs of the same task send once; a delivered row is never sent again.
"""

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from marketplace.models import WebhookDelivery, WebhookEvent
from marketplace.services.commit import after_commit
from marketplace.services.webhook_http import Attempt, http_post
from marketplace.services.webhook_signing import webhook_sign
from qualification import storable

BACKOFF_SECONDS: tuple[int, ...] = (10, 60, 5 * 60, 30 * 60, 2 * 60 * 60)
MAX_ATTEMPTS = len(BACKOFF_SECONDS) + 1
# A row left in 'sending' this long belongs to a sender that died mid-attempt: it may be claimed again.
SENDING_LEASE = timedelta(minutes=5)
# A new delivery is enqueued on commit; the sweeper enqueues it this long after it was created if it is still
# pending (its task was lost). A retry is enqueued by the sweeper when it falls due, and again every REQUEUE_EVERY
# while it stays pending (its task lost too).
REQUEUE_GRACE = timedelta(minutes=2)
REQUEUE_EVERY = timedelta(minutes=2)
USER_AGENT = "crowdmarket-webhooks/1"
Status = WebhookDelivery.Status


def webhook_delivery_enqueue(delivery_id: int) -> None:
    """Ask a worker to deliver, once the surrounding transaction commits."""
    from marketplace.tasks import webhook_deliver_task  # noqa: PLC0415 -- tasks import this module

    # A broker that is down at commit time must not turn a committed submit into a 500; the row stays pending and
    # the sweeper (webhook_deliveries_requeue) enqueues it later.
    after_commit(webhook_deliver_task.delay, delivery_id)


# --- Delivering ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeliveryOutcome:
    status: str  # the delivery's status after this run, or "skipped" when there was nothing to do
    retry_in: int | None = None  # seconds until the next attempt, when one is due


def webhook_deliver(*, delivery_id: int) -> DeliveryOutcome:
    """Make one attempt at a delivery, unless it is delivered, failed, or being sent by someone else.

    Never inside a transaction: the claim and the record are single UPDATEs, and the POST waits between them.
    Returns when to try again (BACKOFF_SECONDS), or None once the delivery is delivered or has failed for good.
    """
    delivery = WebhookDelivery.objects.select_related("endpoint").filter(pk=delivery_id).first()
    if delivery is None or delivery.status in (Status.DELIVERED, Status.FAILED):
        return DeliveryOutcome("skipped")
    if not delivery.endpoint.is_active and delivery.event_type != WebhookEvent.PING:
        WebhookDelivery.objects.filter(pk=delivery_id, status=Status.PENDING).update(
            status=Status.FAILED, last_error="The endpoint was deactivated before delivery.", next_attempt_at=None
        )
        return DeliveryOutcome(Status.FAILED)
    attempt_number = _claim(delivery_id)
    if attempt_number is None:
        return DeliveryOutcome("skipped")
    return _record(delivery_id, attempt_number, _post(delivery))


def _claim(delivery_id: int) -> int | None:
    """pending (or abandoned mid-send) → sending, counting the attempt. Returns its number, or None if another
    sender holds the row or it is already done."""
    now = timezone.now()
    claimable = Q(status=Status.PENDING) | Q(status=Status.SENDING, last_attempt_at__lt=now - SENDING_LEASE)
    claimed = WebhookDelivery.objects.filter(claimable, pk=delivery_id).update(
        status=Status.SENDING, attempts=F("attempts") + 1, last_attempt_at=now
    )
    if claimed != 1:
        return None
    return WebhookDelivery.objects.filter(pk=delivery_id).values_list("attempts", flat=True).get()


def _record(delivery_id: int, attempt_number: int, attempt: Attempt) -> DeliveryOutcome:
    now = timezone.now()
    fields: dict[str, Any] = {
        "last_status_code": attempt.status_code,
        "last_error": storable.clip(attempt.error, 500),  # the receiver chose some of its text
        "last_response_ms": attempt.elapsed_ms,
        "next_attempt_at": None,
    }
    retry_in = None
    if attempt.ok:
        fields.update(status=Status.DELIVERED, delivered_at=now)
    elif attempt_number >= MAX_ATTEMPTS:
        fields.update(status=Status.FAILED)
    else:
        retry_in = BACKOFF_SECONDS[attempt_number - 1]
        fields.update(status=Status.PENDING, next_attempt_at=now + timedelta(seconds=retry_in))
    # Only our own claim is ours to finish: a sender that outlived its lease must not overwrite a newer attempt.
    mine = WebhookDelivery.objects.filter(pk=delivery_id, status=Status.SENDING, attempts=attempt_number)
    if mine.update(**fields) != 1:
        return DeliveryOutcome("skipped")
    return DeliveryOutcome(fields["status"], retry_in)


def _post(delivery: WebhookDelivery) -> Attempt:
    """POST the signed payload once, within WEBHOOK_TIMEOUT_SECONDS in all; any answer outside 2xx, the deadline or
    a connection error is a failed attempt."""
    body = json.dumps(delivery.payload, sort_keys=True, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Crowdmarket-Event": delivery.event_type,
        "X-Crowdmarket-Delivery": str(delivery.pk),
        "X-Crowdmarket-Signature": webhook_sign(secret=delivery.endpoint.secret, timestamp=int(time.time()), body=body),
    }
    return http_post(url=delivery.endpoint.url, body=body, headers=headers)


# --- Sweeping -----------------------------------------------------------------------------------------------------


def webhook_deliveries_requeue(*, limit: int = 500) -> int:
    """Enqueue the retries that are due (beat runs this every 10 s: retries wait in the database, never in a
    worker), first attempts whose task was lost (a broker down at commit), and deliveries left 'sending' past the
    lease. Each is pushed back REQUEUE_EVERY, so a stopped worker does not make the sweeper flood the queue. A
    duplicate task is harmless: the claim sends once.
    """
    now = timezone.now()
    due = Q(status=Status.PENDING) & (
        Q(next_attempt_at__lte=now) | Q(next_attempt_at__isnull=True, created_at__lt=now - REQUEUE_GRACE)
    )
    stuck = Q(status=Status.SENDING, last_attempt_at__lt=now - SENDING_LEASE) & (
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lt=now)
    )
    return rows_requeue(WebhookDelivery.objects.all(), due | stuck, webhook_delivery_enqueue, limit=limit)


def rows_requeue(rows: QuerySet[Any], condition: Q, enqueue: Callable[[int], None], *, limit: int) -> int:
    """Enqueue the rows of an outbox (webhook deliveries, model requests) that `condition` says are due, oldest first,
    each pushed back REQUEUE_EVERY; rows another sweeper holds are skipped. Returns how many."""
    now = timezone.now()
    with transaction.atomic():
        ids = list(
            rows.select_for_update(skip_locked=True)
            .filter(condition)
            .order_by("id")
            .values_list("id", flat=True)[:limit]
        )
        rows.filter(pk__in=ids).update(next_attempt_at=now + REQUEUE_EVERY)
        for row_id in ids:
            enqueue(row_id)
    return len(ids)

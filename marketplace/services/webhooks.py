"""Webhooks: requesters' endpoints, events emitted inside domain transactions, and signed delivery with retries.

An event is recorded, not sent, by the transaction that produced it: `webhook_emit` writes one `WebhookDelivery`
row per matching endpoint and asks for delivery with `transaction.on_commit`. A rolled-back transaction takes its
rows with it and never enqueues anything, so an event that did not happen is never announced.

Delivery (`webhook_deliver`, run by `webhook_deliver_task`) never holds a transaction while it waits on the network:
it claims the row with a conditional UPDATE (pending → sending, whose row count must be 1), POSTs, then records
the outcome with another single UPDATE. Two runs of the same task send once; a delivered row is never sent again.
A failed attempt is retried after 10 s, 1 min, 5 min, 30 min and 2 h; after the sixth attempt the delivery fails.
A retry waits as a due time on its row (`next_attempt_at`), not as a countdown task in a worker: the sweeper enqueues
it when due (beat, every 10 s), so a broker or worker restart loses none. Webhook tasks have their own queue
(`webhooks`), so slow receivers never hold up payouts; each attempt ends WEBHOOK_TIMEOUT_SECONDS after it starts.

Signature: `X-Crowdmarket-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" under the secret>`.
"""

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import uuid4

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, F, IntegerField, Q, QuerySet, Subquery
from django.utils import timezone

from marketplace.accounts.models import User
from marketplace.errors import NotFound, WebhookLimitReached
from marketplace.models import (
    SUBSCRIBABLE_EVENTS,
    Answer,
    Assignment,
    AssignmentStatus,
    Job,
    JobAggregate,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from marketplace.prepared import Param, PreparedQuery, attnames
from marketplace.services.commit import after_commit
from marketplace.services.webhook_http import Attempt, http_post
from qualification import storable

BACKOFF_SECONDS: tuple[int, ...] = (10, 60, 5 * 60, 30 * 60, 2 * 60 * 60)
MAX_ATTEMPTS = len(BACKOFF_SECONDS) + 1
MAX_ENDPOINTS_PER_SCOPE = 10
# A row left in 'sending' this long belongs to a sender that died mid-attempt: it may be claimed again.
SENDING_LEASE = timedelta(minutes=5)
# A new delivery is enqueued on commit; the sweeper enqueues it this long after it was created if it is still
# pending (its task was lost). A retry is enqueued by the sweeper when it falls due, and again every REQUEUE_EVERY
# while it stays pending (its task lost too).
REQUEUE_GRACE = timedelta(minutes=2)
REQUEUE_EVERY = timedelta(minutes=2)
SECRET_PREFIX = "whsec"
USER_AGENT = "crowdmarket-webhooks/1"
Status = WebhookDelivery.Status


# --- Signing ------------------------------------------------------------------------------------------------------


def webhook_secret_new() -> str:
    return f"{SECRET_PREFIX}_{secrets.token_urlsafe(32)}"


def webhook_sign(*, secret: str, timestamp: int, body: bytes | str) -> str:
    """The `X-Crowdmarket-Signature` value: `t=<timestamp>,v1=<hex HMAC-SHA256 of "<timestamp>.<body>">`."""
    raw = body.encode() if isinstance(body, str) else body
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + raw, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def webhook_verify(
    *, secret: str, header: str, body: bytes | str, tolerance: int = 300, now: float | None = None
) -> bool:
    """Whether `header` signs `body` under `secret`, made at most `tolerance` seconds from `now` (replay guard).

    Compares in constant time; accepts a header carrying several `v1=` signatures, and ignores unknown schemes.
    """
    timestamp, signatures = None, []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1":
            signatures.append(value)
    if timestamp is None or not signatures:
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = webhook_sign(secret=secret, timestamp=timestamp, body=body).partition(",v1=")[2]
    return any(hmac.compare_digest(expected, signature) for signature in signatures)


# --- Endpoints ----------------------------------------------------------------------------------------------------


def webhook_endpoint_list(*, owner: User, job: Job | None = None) -> QuerySet[WebhookEndpoint]:
    """The owner's endpoints, or only those of `job` (which the caller already checked is theirs)."""
    endpoints = WebhookEndpoint.objects.filter(owner=owner).order_by("-id")
    return endpoints.filter(job=job) if job is not None else endpoints


def webhook_endpoint_get(*, owner: User, endpoint_id: int) -> WebhookEndpoint:
    """The owner's endpoint; anyone else's is indistinguishable from a missing one (404)."""
    endpoint = webhook_endpoint_list(owner=owner).filter(pk=endpoint_id).first()
    if endpoint is None:
        raise NotFound("No such webhook endpoint.")
    return endpoint


def webhook_delivery_list(*, endpoint: WebhookEndpoint) -> QuerySet[WebhookDelivery]:
    return WebhookDelivery.objects.filter(endpoint=endpoint).order_by("-id")


def _clean_events(events: list[str] | None) -> list[str]:
    unknown = sorted(set(events or []) - set(SUBSCRIBABLE_EVENTS))
    if unknown:
        raise ValidationError({"events": f"Unknown event types: {', '.join(unknown)}."})
    return sorted(set(events or []))


@transaction.atomic
def webhook_endpoint_create(
    *, owner: User, url: str, job: Job | None = None, events: list[str] | None = None, description: str = ""
) -> WebhookEndpoint:
    """Register an endpoint for one of the owner's jobs, or account-wide (`job` None), with a new secret.

    Up to MAX_ENDPOINTS_PER_SCOPE per job (or account-wide); the owner row is locked so two creates cannot both
    take the last place."""
    if job is not None and job.requester_id != owner.pk:
        raise NotFound("No such job.")
    User.objects.select_for_update().filter(pk=owner.pk).first()
    if WebhookEndpoint.objects.filter(owner=owner, job=job).count() >= MAX_ENDPOINTS_PER_SCOPE:
        raise WebhookLimitReached(limit=MAX_ENDPOINTS_PER_SCOPE)
    endpoint = WebhookEndpoint(
        owner=owner,
        job=job,
        url=url,
        events=_clean_events(events),
        description=description,
        secret=webhook_secret_new(),
    )
    endpoint.full_clean()
    endpoint.save()
    return endpoint


@transaction.atomic
def webhook_endpoint_update(*, endpoint: WebhookEndpoint, **fields: Any) -> WebhookEndpoint:
    """Change the URL, subscribed events, description or active flag. Deliveries already recorded keep going to
    the endpoint as it is when they are sent; an inactive endpoint gets nothing more."""
    allowed = {"url", "events", "description", "is_active"}
    if set(fields) - allowed:
        raise ValidationError({"non_field_errors": f"Only {', '.join(sorted(allowed))} may change."})
    locked = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    if "events" in fields:
        fields["events"] = _clean_events(fields["events"])
    for name, value in fields.items():
        setattr(locked, name, value)
    locked.full_clean()
    locked.save()
    return locked


def webhook_endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    """Remove the endpoint and its delivery log; pending deliveries are dropped with it."""
    endpoint.delete()


@transaction.atomic
def webhook_endpoint_rotate_secret(*, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    """Replace the secret. Deliveries are signed when sent, so even retries of older events carry the new one."""
    locked = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    locked.secret, locked.secret_rotated_at = webhook_secret_new(), timezone.now()
    locked.save(update_fields=["secret", "secret_rotated_at", "updated_at"])
    return locked


@transaction.atomic(durable=True)
def webhook_send_test(*, endpoint: WebhookEndpoint) -> WebhookDelivery:
    """Send a `ping` event to this endpoint only (even an inactive one: that is how a requester checks it)."""
    data = {"endpoint": endpoint.pk, "message": "Hello from crowdmarket."}
    payload = _payload(WebhookEvent.PING, endpoint.job_id, data)
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint,
        job_id=endpoint.job_id,
        event_id=payload["id"],
        event_type=WebhookEvent.PING,
        payload=payload,
    )
    _enqueue_on_commit(delivery.pk)
    return delivery


# --- Emitting events ----------------------------------------------------------------------------------------------


def webhook_emit(
    *, job: Job | int, event: str, data: Mapping[str, Any] | Callable[[], Mapping[str, Any]]
) -> list[WebhookDelivery]:
    """Record `event` about `job` (a Job or its id) for every active endpoint subscribed to it, and deliver each
    after the surrounding transaction commits.

    Call it inside the domain transaction that makes the event true. `data` may be a callable, evaluated only when
    some endpoint wants the event (one indexed query otherwise). It must never carry gold flags or gold answers.
    """
    if event not in SUBSCRIBABLE_EVENTS:
        raise ValueError(f"Unknown webhook event {event!r}.")
    job_id = job if isinstance(job, int) else job.pk
    endpoints = [endpoint for endpoint in _active_endpoints(job_id) if endpoint.wants(event)]
    if not endpoints:
        return []
    payload = _payload(event, job_id, dict(data() if callable(data) else data))
    deliveries = WebhookDelivery.objects.bulk_create(
        WebhookDelivery(endpoint=e, job_id=job_id, event_id=payload["id"], event_type=event, payload=payload)
        for e in endpoints
    )
    for delivery in deliveries:
        _enqueue_on_commit(delivery.pk)
    return deliveries


def _endpoints_for(job: int | Param) -> QuerySet[WebhookEndpoint]:
    return _endpoints(job_id=job, owner_id=Subquery(Job.objects.filter(pk=job).values("requester_id")))


def _endpoints(*, job_id: Any, owner_id: Any) -> QuerySet[WebhookEndpoint]:
    """Active endpoints of the job, or account-wide ones of its owner (values or expressions)."""
    return WebhookEndpoint.objects.filter(Q(job_id=job_id) | Q(job__isnull=True, owner_id=owner_id), is_active=True)


def webhook_endpoints_exist(*, job_id: Any, owner_id: Any) -> Exists:
    """An expression (for an annotation): does any active endpoint listen to this job? `job_id` and `owner_id` are
    expressions of the outer query, e.g. `OuterRef("job_id")`. Lets a hot path skip `webhook_emit`'s lookup."""
    return Exists(_endpoints(job_id=job_id, owner_id=owner_id))


# Asked on every submit, so prepared once per process (see marketplace.prepared).
_ACTIVE_ENDPOINTS = PreparedQuery(
    lambda: _endpoints_for(Param("job", IntegerField())).order_by().values_list(*attnames(WebhookEndpoint))
)


def _active_endpoints(job_id: int) -> list[WebhookEndpoint]:
    return _ACTIVE_ENDPOINTS.instances(WebhookEndpoint, job=job_id)


def _payload(event: str, job_id: int | None, data: dict[str, Any]) -> dict[str, Any]:
    return {"id": str(uuid4()), "type": event, "created": timezone.now().isoformat(), "job": job_id, "data": data}


def _enqueue_on_commit(delivery_id: int) -> None:
    from marketplace.tasks import webhook_deliver_task  # noqa: PLC0415 -- tasks import this module

    # A broker that is down at commit time must not turn a committed submit into a 500; the row stays pending and
    # the sweeper (webhook_deliveries_requeue) enqueues it later.
    after_commit(webhook_deliver_task.delay, delivery_id)


def webhook_assignment_data(assignment: Assignment) -> dict[str, Any]:
    """What a requester learns about an assignment event: ids, times, and for a submission its answers to the
    real items. Gold items, gold answers and gold scores are left out."""
    data: dict[str, Any] = {
        "assignment": assignment.pk,
        "task": assignment.task_id,
        "worker": assignment.worker_id,
        "status": assignment.status,
        "created_at": assignment.created_at.isoformat(),
    }
    if assignment.status == AssignmentStatus.SUBMITTED:
        data["submitted_at"] = assignment.submitted_at.isoformat() if assignment.submitted_at else None
        answers = Answer.objects.filter(assignment=assignment, is_gold=False).order_by("item_id")
        data["answers"] = [
            {"item": item_id, "external_id": external_id, "answer": value}
            for item_id, external_id, value in answers.values_list("item_id", "item__external_id", "value")
        ]
    elif assignment.closed_at is not None:
        data["closed_at"] = assignment.closed_at.isoformat()
    return data


def webhook_job_data(job: Job) -> dict[str, Any]:
    return {"status": job.status, "finished_at": job.finished_at.isoformat() if job.finished_at else None}


def webhook_results_data(aggregate: JobAggregate) -> dict[str, Any]:
    return {
        "n_items": aggregate.n_items,
        "n_answers": aggregate.n_answers,
        "converged": aggregate.converged,
        "computed_at": aggregate.computed_at.isoformat() if aggregate.computed_at else None,
        "results_url": f"/api/v1/jobs/{aggregate.job_id}/results/",
    }


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
    with transaction.atomic():
        ids = list(
            WebhookDelivery.objects.select_for_update(skip_locked=True)
            .filter(due | stuck)
            .order_by("id")
            .values_list("id", flat=True)[:limit]
        )
        WebhookDelivery.objects.filter(pk__in=ids).update(next_attempt_at=now + REQUEUE_EVERY)
        for delivery_id in ids:
            _enqueue_on_commit(delivery_id)
    return len(ids)

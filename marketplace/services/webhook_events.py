"""Webhook events: recorded inside the domain transaction that makes them true, delivered after it commits; and
the data each event carries (never a gold flag or a gold answer)."""

from collections.abc import Callable, Mapping
from typing import Any
from uuid import uuid4

from django.db import transaction
from django.utils import timezone

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
from marketplace.selectors_webhooks import webhook_endpoint_active_list
from marketplace.services.webhook_delivery import webhook_delivery_enqueue


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
    endpoints = [endpoint for endpoint in webhook_endpoint_active_list(job_id=job_id) if endpoint.wants(event)]
    if not endpoints:
        return []
    payload = _payload(event, job_id, dict(data() if callable(data) else data))
    deliveries = WebhookDelivery.objects.bulk_create(
        WebhookDelivery(endpoint=e, job_id=job_id, event_id=payload["id"], event_type=event, payload=payload)
        for e in endpoints
    )
    for delivery in deliveries:
        webhook_delivery_enqueue(delivery.pk)
    return deliveries


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
    webhook_delivery_enqueue(delivery.pk)
    return delivery


def _payload(event: str, job_id: int | None, data: dict[str, Any]) -> dict[str, Any]:
    return {"id": str(uuid4()), "type": event, "created": timezone.now().isoformat(), "job": job_id, "data": data}


# --- What each event says -----------------------------------------------------------------------------------------


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

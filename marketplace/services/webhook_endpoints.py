"""Webhook endpoints: a requester registers, changes, rotates the secret of and removes their receivers. The reads
(list, get, delivery log) are in `marketplace.selectors_webhooks`."""

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from marketplace.accounts.models import User
from marketplace.errors import NotFound, WebhookLimitReached
from marketplace.models import SUBSCRIBABLE_EVENTS, Job, WebhookEndpoint
from marketplace.services.webhook_signing import webhook_secret_new

MAX_ENDPOINTS_PER_SCOPE = 10


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

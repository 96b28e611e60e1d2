"""Webhook reads: a requester's endpoints and delivery log (scoped to their owner), and the endpoints listening to a
job, which `webhook_emit` and the claim's lock query ask on the hot path."""

from typing import Any

from django.db.models import Exists, IntegerField, Q, QuerySet, Subquery

from marketplace.accounts.models import User
from marketplace.errors import NotFound
from marketplace.models import Job, WebhookDelivery, WebhookEndpoint
from marketplace.prepared import Param, PreparedQuery, attnames


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


def _endpoints_for(job: int | Param) -> QuerySet[WebhookEndpoint]:
    owner = Job.objects.filter(pk=job).values("requester_id")  # type: ignore[misc]  # a Param: a prepared query's
    return _endpoints(job_id=job, owner_id=Subquery(owner))


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


def webhook_endpoint_active_list(*, job_id: int) -> list[WebhookEndpoint]:
    """The active endpoints of the job and its owner's account-wide ones, whatever events they subscribe to."""
    return _ACTIVE_ENDPOINTS.instances(WebhookEndpoint, job=job_id)

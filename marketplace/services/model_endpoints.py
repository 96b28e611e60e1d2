"""A requester's model as a worker: the platform sends each item of a job to the model's HTTPS endpoint and stores the
answers as that model version's predictions (validated like any; a model is then an annotator of the job).

Requests go in batches of `BATCH` items, one `ModelRequest` row each, created in the transaction that creates the
endpoint (every item of the job) or the items (an upload, a continuous job's next batch), and sent after it commits.
A request is sent as a webhook delivery is (`webhook_delivery`): claimed by a conditional UPDATE (pending → sending),
POSTed outside any transaction with the same guard against private addresses and the same deadline
(`webhook_http`), signed as webhooks are (`X-Crowdmarket-Signature` over the body with the endpoint's secret), then
recorded; retried with the same backoff, swept by beat. The body::

    {"job": 12, "model": "resnet-v3", "items": [{"item": 345, "external_id": "img-1", "fields": {...}}, ...]}

and the endpoint answers 200 with ``{"predictions": [{"item": 345, "answer": "cat", "score": 0.93}, ...]}``
(any subset of the items; the answer in the job's answer type). Predictions it sends that are refused (an answer
the type does not take, an item not in the request) fail the request with the reasons, none stored: the model's
answer, not the network, was wrong, so it is not retried.
"""

import json
import time
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from marketplace.errors import NotFound, PredictionsRejected
from marketplace.models import Item, Job, ModelEndpoint, ModelRequest, Upload
from marketplace.services.aggregation import aggregation_enqueue_if_answered
from marketplace.services.commit import after_commit
from marketplace.services.predictions import predictions_put
from marketplace.services.webhook_delivery import (
    BACKOFF_SECONDS,
    MAX_ATTEMPTS,
    REQUEUE_EVERY,
    SENDING_LEASE,
    rows_requeue,
)
from marketplace.services.webhook_http import http_post
from marketplace.services.webhook_signing import webhook_secret_new, webhook_sign
from qualification import storable

BATCH = 100
MAX_ANSWER_BYTES = 5_000_000
USER_AGENT = "crowdmarket-models/1"
Status = ModelRequest.Status


@transaction.atomic
def model_endpoint_create(*, job: Job, model: str, url: str) -> ModelEndpoint:
    """Register the endpoint and ask it about every item of the job (gold too: a model is graded on gold)."""
    endpoint = ModelEndpoint(job=job, model=model, url=url, secret=webhook_secret_new())
    endpoint.full_clean()
    endpoint.save()
    _ask(endpoint, Item.objects.filter(job=job).order_by("pk").values_list("pk", flat=True))
    return endpoint


def model_endpoint_deactivate(*, job: Job, endpoint_id: int) -> ModelEndpoint:
    """Stop asking: its requests not sent yet fail; its predictions stay."""
    with transaction.atomic():
        endpoint = ModelEndpoint.objects.select_for_update().filter(job=job, pk=endpoint_id).first()
        if endpoint is None:
            raise NotFound("No such model endpoint.")
        endpoint.is_active = False
        endpoint.save(update_fields=["is_active"])
        endpoint.requests.filter(status=Status.PENDING).update(
            status=Status.FAILED, last_error="The endpoint was deactivated.", finished_at=timezone.now()
        )
    return endpoint


def model_requests_for_upload(*, job: Job, upload: Upload) -> int:
    """An upload's new items: one request per batch to each active endpoint of the job, in the caller's
    transaction (one query when the job has none). Returns the requests made."""
    endpoints = list(ModelEndpoint.objects.filter(job=job, is_active=True))
    if not endpoints:
        return 0
    item_ids = list(Item.objects.filter(upload=upload).order_by("pk").values_list("pk", flat=True))
    return sum(_ask(endpoint, item_ids) for endpoint in endpoints)


def _ask(endpoint: ModelEndpoint, item_ids: Any) -> int:
    ids = list(item_ids)
    requests = ModelRequest.objects.bulk_create(
        ModelRequest(endpoint=endpoint, item_ids=ids[start : start + BATCH]) for start in range(0, len(ids), BATCH)
    )
    for request in requests:
        _enqueue(request.pk)
    return len(requests)


def _enqueue(request_id: int) -> None:
    from marketplace.tasks import model_request_send_task  # noqa: PLC0415 -- tasks import this module

    after_commit(model_request_send_task.delay, request_id)


def model_request_send(*, request_id: int) -> str:
    """One attempt at a request, unless it is done, failed, or being sent by someone else; returns its status."""
    request = ModelRequest.objects.select_related("endpoint__job").filter(pk=request_id).first()
    if request is None or request.status in (Status.DONE, Status.FAILED):
        return "skipped"
    now = timezone.now()
    claimable = Q(status=Status.PENDING) | Q(status=Status.SENDING, last_attempt_at__lt=now - SENDING_LEASE)
    if not ModelRequest.objects.filter(claimable, pk=request_id).update(
        status=Status.SENDING, attempts=F("attempts") + 1, last_attempt_at=now
    ):
        return "skipped"
    attempt_number = request.attempts + 1
    endpoint = request.endpoint
    body = json.dumps(_body(request), sort_keys=True, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Crowdmarket-Request": str(request.pk),
        "X-Crowdmarket-Signature": webhook_sign(secret=endpoint.secret, timestamp=int(time.time()), body=body),
    }
    attempt = http_post(url=endpoint.url, body=body, headers=headers, read=MAX_ANSWER_BYTES)
    fields: dict[str, Any] = {"last_status_code": attempt.status_code, "next_attempt_at": None}
    if attempt.ok:
        error = _store(request, attempt.body)
        fields.update(status=Status.FAILED if error else Status.DONE, last_error=error, finished_at=timezone.now())
    elif attempt_number >= MAX_ATTEMPTS:
        fields.update(status=Status.FAILED, last_error=storable.clip(attempt.error, 500), finished_at=timezone.now())
    else:
        retry_at = timezone.now() + timedelta(seconds=BACKOFF_SECONDS[attempt_number - 1])
        fields.update(status=Status.PENDING, last_error=storable.clip(attempt.error, 500), next_attempt_at=retry_at)
    ModelRequest.objects.filter(pk=request.pk, status=Status.SENDING, attempts=attempt_number).update(**fields)
    return str(fields["status"])


def _body(request: ModelRequest) -> dict[str, Any]:
    items = Item.objects.filter(pk__in=request.item_ids).order_by("pk").values_list("pk", "external_id", "payload")
    return {
        "job": request.endpoint.job_id,
        "model": request.endpoint.model,
        "items": [{"item": pk, "external_id": external_id, "fields": payload} for pk, external_id, payload in items],
    }


def _store(request: ModelRequest, answer: bytes) -> str:
    """Store the answer's predictions; the reason it cannot, or "" once stored."""
    try:
        predictions = json.loads(answer)["predictions"]
        asked = set(request.item_ids)
        rows = [
            {"item": p["item"], "model": request.endpoint.model, "answer": p["answer"], "score": p.get("score")}
            for p in predictions
        ]
    except (ValueError, KeyError, TypeError):
        return 'The answer is not JSON of the form {"predictions": [{"item", "answer", "score"}, ...]}.'
    stray = [row["item"] for row in rows if row["item"] not in asked]
    if stray:
        return f"Predictions for items not in the request: {stray[:10]}."
    if not rows:
        return ""
    try:
        predictions_put(job=request.endpoint.job, predictions=rows)
    except PredictionsRejected as refused:
        return storable.clip(f"Predictions refused: {refused.extra.get('errors', [])[:5]}", 500)
    aggregation_enqueue_if_answered(job_id=request.endpoint.job_id)
    return ""


def model_requests_requeue(*, limit: int = 500) -> int:
    """Beat: enqueue the retries that are due and the requests whose task was lost or whose sender died."""
    now = timezone.now()
    due = Q(status=Status.PENDING) & (
        Q(next_attempt_at__lte=now) | Q(next_attempt_at__isnull=True, created_at__lt=now - REQUEUE_EVERY)
    )
    stuck = Q(status=Status.SENDING, last_attempt_at__lt=now - SENDING_LEASE)
    return rows_requeue(ModelRequest.objects.all(), due | stuck, _enqueue, limit=limit)

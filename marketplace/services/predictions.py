"""Models' predictions on items: stored per item and model version, validated like any answer.

A requester sends predictions in bulk (`predictions_put`), naming items by id or by their external id; one bad
prediction refuses the whole request (400 listing each, by its index and field), nothing kept. Sending a prediction
again for the same item and model replaces it, so a retried request changes nothing. A job may show one model's
predictions to workers as pre-labels (`Job.prelabel_model`): then every item, gold included, must carry one before
the job launches, so that no item stands out by having none. Every model version with predictions is an annotator
in the job's aggregation (`services/model_annotators.py`): new predictions on a job with answers ask for a run (the
API does, through `aggregation.aggregation_enqueue_if_answered`).
"""

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from marketplace.errors import PredictionsRejected, UploadNotAccepted
from marketplace.models import FINISHED_STATUSES, Item, Job, Prediction
from marketplace.models.predictions import MODEL_NAME
from marketplace.schemas import SchemaValueError, parse_label_schema

MAX_PER_REQUEST = 10_000


@transaction.atomic(durable=True)
def predictions_put(*, job: Job, predictions: Sequence[Mapping[str, Any]]) -> int:
    """Store (or replace) the predictions; returns how many. `PredictionsRejected` lists every bad one."""
    if job.status in FINISHED_STATUSES:
        raise UploadNotAccepted(f"A {job.status} job takes no predictions.")
    if not predictions or len(predictions) > MAX_PER_REQUEST:
        raise PredictionsRejected(errors=[_error(None, "predictions", f"Send 1 to {MAX_PER_REQUEST} predictions.")])
    schema = parse_label_schema(job.label_schema)
    items = _items(job, predictions)
    rows, errors, seen = [], [], set()
    for index, prediction in enumerate(predictions):
        problem = _problem(prediction, items, schema)
        if problem:
            errors.append(_error(index, *problem))
            continue
        item_id = items[_reference(prediction)]
        assert item_id is not None  # _problem refused an ambiguous external id
        if (item_id, prediction["model"]) in seen:
            errors.append(_error(index, "model", "This item has another prediction of this model in the request."))
            continue
        seen.add((item_id, prediction["model"]))
        rows.append(
            Prediction(
                job=job,
                item_id=item_id,
                model=prediction["model"],
                answer=schema.clean_answer(prediction["answer"]),
                score=prediction.get("score"),
            )
        )
    if errors:
        raise PredictionsRejected(errors=errors[:100], truncated=len(errors) > 100)
    Prediction.objects.bulk_create(
        rows,
        batch_size=2000,
        update_conflicts=True,
        unique_fields=["item", "model"],
        update_fields=["answer", "score", "updated_at"],
    )
    return len(rows)


def _error(index: int | None, field: str, message: str) -> dict[str, Any]:
    return {"index": index, "field": field, "message": message}


def _reference(prediction: Mapping[str, Any]) -> tuple[str, Any]:
    return ("item", prediction["item"]) if "item" in prediction else ("external_id", prediction.get("external_id"))


def _items(job: Job, predictions: Sequence[Mapping[str, Any]]) -> dict[tuple[str, Any], int | None]:
    """Each reference the request makes, to its item id (None: ambiguous external id)."""
    ids = [p["item"] for p in predictions if isinstance(p, Mapping) and isinstance(p.get("item"), int)]
    external = [
        p["external_id"] for p in predictions if isinstance(p, Mapping) and isinstance(p.get("external_id"), str)
    ]
    found: dict[tuple[str, Any], int | None] = {
        ("item", pk): pk for pk in Item.objects.filter(job=job, pk__in=ids).values_list("id", flat=True)
    }
    by_external = defaultdict(list)
    for pk, ext in Item.objects.filter(job=job, external_id__in=external).values_list("id", "external_id"):
        by_external[ext].append(pk)
    found |= {("external_id", ext): pks[0] if len(pks) == 1 else None for ext, pks in by_external.items()}
    return found


def _problem(prediction: Any, items: dict[tuple[str, Any], int | None], schema: Any) -> tuple[str, str] | None:
    if not isinstance(prediction, Mapping):
        return "prediction", "Each prediction is an object."
    if ("item" in prediction) == ("external_id" in prediction):
        return "item", "Name the item by `item` (its id) or by `external_id`, not both."
    reference = _reference(prediction)
    if reference not in items:
        return reference[0], "No such item in this job."
    if items[reference] is None:
        return "external_id", "Several items of the job have this external_id: name the item by its id."
    model = prediction.get("model")
    try:
        MODEL_NAME(model if isinstance(model, str) else "")
    except ValidationError:
        return "model", "A model version: 1 to 100 letters, digits and _.:/+- (e.g. resnet50-v3)."
    score = prediction.get("score")
    if score is not None and (isinstance(score, bool) or not isinstance(score, int | float) or not 0 <= score <= 1):
        return "score", "A score is a number from 0 to 1, or null."
    if "answer" not in prediction:
        return "answer", "Missing answer."
    try:
        schema.clean_answer(prediction["answer"])
    except SchemaValueError as exc:
        return "answer", str(exc)
    return None


def prelabels_missing(*, job: Job) -> int:
    """How many of the job's items (gold included) have no prediction of its pre-label model."""
    if not job.prelabel_model:
        return 0
    return Item.objects.filter(job=job).exclude(predictions__model=job.prelabel_model).count()

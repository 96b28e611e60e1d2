"""Models as annotators: each model version's predictions enter a job's aggregation as the answers of one more
annotator, whose weight is earned like a worker's (from gold and from agreement with the crowd), never assumed.

A model is not a worker: it has no assignment, so it never counts toward an item's human overlap (`answer_count`
and the overlap targets count people), is never paid, and has no participation, so gold never blocks it. Its
predictions take part on the items people answered and on gold items (where its quality is learned); an item only a
model has labelled gets no result. In the engine's arrays a model is a worker whose id is negative
(`-1 - index`, in the order of `models`), which no user id is.
"""

from dataclasses import dataclass
from typing import Any

import numpy as np

from marketplace.models import ModelQuality, Prediction


@dataclass(frozen=True)
class ModelAnswers:
    """Predictions as answer rows `(item_id, worker_id, answer)`, the model of worker id `-1 - i` being `models[i]`."""

    rows: list[tuple[int, int, Any]]
    models: list[str]


def model_answers(*, job_id: int, answered: set[int], gold: set[int]) -> ModelAnswers:
    """The job's predictions on items people answered and on gold items, one annotator per model version."""
    found = (
        Prediction.objects.filter(job_id=job_id).order_by("model", "item_id").values_list("item_id", "model", "answer")
    )
    models = sorted({model for _, model, _ in found})
    code = {model: -1 - i for i, model in enumerate(models)}
    rows = [
        (item_id, code[model], answer) for item_id, model, answer in found if item_id in answered or item_id in gold
    ]
    return ModelAnswers(rows, models)


def is_model(worker_id: int) -> bool:
    return worker_id < 0


def model_quality_store(
    *,
    job_id: int,
    models: list[str],
    worker_ids: list[int],
    accuracy: np.ndarray,
    counts: np.ndarray,
    confusions: np.ndarray | None = None,
) -> None:
    """Store what the run learned of each model (`worker_ids[w]`, `accuracy[w]`, `counts[w]`: the run's workers);
    a model left out of this run (no prediction counted) keeps no row."""
    rows = []
    for w, worker_id in enumerate(worker_ids):
        if not is_model(worker_id) or not counts[w]:
            continue
        confusion = np.round(confusions[w], 4).tolist() if confusions is not None else None
        accurate = float(accuracy[w])
        rows.append(
            ModelQuality(
                job_id=job_id,
                model=models[-1 - worker_id],
                predictions=int(counts[w]),
                estimated_accuracy=round(accurate, 6) if np.isfinite(accurate) else None,
                confusion=confusion,
            )
        )
    ModelQuality.objects.filter(job_id=job_id).exclude(model__in=[row.model for row in rows]).delete()
    ModelQuality.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["job", "model"],
        update_fields=["predictions", "estimated_accuracy", "confusion", "updated_at"],
    )

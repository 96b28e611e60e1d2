"""Models as annotators: each model version's predictions enter a job's aggregation as the answers of one more
annotator, whose weight is earned like a worker's (from gold and from agreement with the crowd), never assumed.

A model is not a worker: it has no assignment, so it never counts toward an item's human overlap (`answer_count`
and the overlap targets count people), is never paid, and has no participation, so gold never blocks it. Its
predictions take part on the items people answered and on gold items (where its quality is learned); an item only a
model has labelled gets no result. In the engine's arrays a model is a worker whose id is negative
(`-1 - index`, in the order of `models`), which no user id is.

A model version whose predictions carry scores enters as several annotators, one per score band
(`marketplace.aggregation.score_bands`): the weight of its sure and of its doubtful predictions is each earned, so
the score counts for what it proved to be worth on this job and no more. What is stored and reported is per model
version: its bands' quality, weighted by their predictions.
"""

from dataclasses import dataclass
from typing import Any

import numpy as np

from marketplace.aggregation.score_bands import annotator_names
from marketplace.models import ModelQuality, Prediction


@dataclass(frozen=True)
class ModelAnswers:
    """Predictions as answer rows `(item_id, worker_id, answer)`, the model of worker id `-1 - i` being `models[i]`."""

    rows: list[tuple[int, int, Any]]
    models: list[str]  # the model version of each annotator (a version with score bands appears once per band)


def model_answers(*, job_id: int, answered: set[int], gold: set[int]) -> ModelAnswers:
    """The job's predictions on items people answered and on gold items, one annotator per model version and score
    band (the bands cut at the quantiles of the version's scores on these items)."""
    found = [
        (item_id, model, answer, score)
        for item_id, model, answer, score in Prediction.objects.filter(job_id=job_id)
        .order_by("model", "item_id")
        .values_list("item_id", "model", "answer", "score")
        if item_id in answered or item_id in gold
    ]
    names = annotator_names([model for _, model, _, _ in found], [score for *_, score in found])
    annotators = sorted(set(zip(names, (model for _, model, _, _ in found), strict=True)))
    code = {name: -1 - i for i, (name, _) in enumerate(annotators)}
    rows = [(item_id, code[name], answer) for (item_id, _, answer, _), name in zip(found, names, strict=True)]
    return ModelAnswers(rows, [model for _, model in annotators])


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
    """Store what the run learned of each model version (`worker_ids[w]`, `accuracy[w]`, `counts[w]`: the run's
    workers), its annotators' (score bands') figures weighted by their predictions; a model left out of this run (no
    prediction counted) keeps no row."""
    bands: dict[str, list[int]] = {}
    for w, worker_id in enumerate(worker_ids):
        if is_model(worker_id) and counts[w]:
            bands.setdefault(models[-1 - worker_id], []).append(w)
    rows = []
    for model, mine in bands.items():
        weights = np.asarray(counts, dtype=float)[mine]
        accurate = np.asarray(accuracy, dtype=float)[mine]
        known = np.isfinite(accurate)
        estimate = float(np.average(accurate[known], weights=weights[known])) if known.any() else None
        confusion = np.average(confusions[mine], axis=0, weights=weights) if confusions is not None else None
        rows.append(
            ModelQuality(
                job_id=job_id,
                model=model,
                predictions=int(weights.sum()),
                estimated_accuracy=round(estimate, 6) if estimate is not None else None,
                confusion=np.round(confusion, 4).tolist() if confusion is not None else None,
            )
        )
    ModelQuality.objects.filter(job_id=job_id).exclude(model__in=[row.model for row in rows]).delete()
    ModelQuality.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["job", "model"],
        update_fields=["predictions", "estimated_accuracy", "confusion", "updated_at"],
    )

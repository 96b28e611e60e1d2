"""Assemble a :class:`BoxAggregationResult`: the kept objects, confidences, and per-worker figures."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from marketplace.aggregation.bbox.fusion import Fusion
from marketplace.aggregation.bbox.geometry import corners, iou, xywh
from marketplace.aggregation.bbox.inputs import BoxAnswers
from marketplace.aggregation.bbox.results import BoxAggregationResult
from marketplace.aggregation.checks import Int64Array
from marketplace.aggregation.inputs import FloatArray


def summarise(
    answers: BoxAnswers,
    kept_boxes: npt.NDArray[np.bool_],
    kept: BoxAnswers,
    objects: Int64Array,
    object_task: Int64Array,
    keep: Int64Array,
    existence: FloatArray,
    label_posteriors: FloatArray,
    fusion: Fusion,
) -> BoxAggregationResult:
    """``kept`` is ``answers`` without the excluded workers (``kept_boxes`` marks the boxes it kept);
    ``objects`` the object of each of its boxes; ``keep`` the objects kept, by task."""
    labels = label_posteriors[keep].argmax(axis=1).astype(np.int64)
    label_probability = label_posteriors[keep].max(axis=1, initial=1.0)
    confidence = existence[keep] * label_probability
    order = np.lexsort((-confidence, object_task[keep]))
    keep, labels, label_probability, confidence = (
        keep[order],
        labels[order],
        label_probability[order],
        confidence[order],
    )
    row_of_object = np.full(len(object_task), -1, dtype=np.int64)
    row_of_object[keep] = np.arange(len(keep))
    rows = row_of_object[objects]
    box_object = np.full(len(answers.labels), -1, dtype=np.int64)
    box_object[kept_boxes] = rows
    matched = (rows >= 0) & (kept.labels == np.append(labels, -1)[rows])  # row -1: not kept
    overlap = iou(corners(kept.boxes), fusion.boxes[objects]) if len(objects) else np.zeros(0)
    support = np.bincount(objects, minlength=len(object_task)).astype(np.int64)
    return BoxAggregationResult(
        task=object_task[keep],
        box=xywh(fusion.boxes[keep]),
        label=labels,
        confidence=confidence,
        existence=existence[keep],
        label_probability=label_probability,
        support=support[keep],
        box_object=box_object,
        task_confidence=_task_confidence(kept.n_tasks, object_task, keep, existence, confidence, support),
        answer_counts=np.bincount(kept.tasks, minlength=kept.n_tasks).astype(np.int64),
        worker_precision=_share(kept.box_workers, matched, np.ones(len(matched)), kept.n_workers),
        worker_recall=_recall(kept, matched, object_task[keep]),
        worker_localisation_error=np.sqrt(fusion.variance),
        worker_mean_iou=_share(
            kept.box_workers[matched], overlap[matched], np.ones(int(matched.sum())), kept.n_workers
        ),
        worker_answer_counts=np.bincount(kept.workers, minlength=kept.n_workers).astype(np.int64),
        iterations=fusion.iterations,
        converged=fusion.converged,
    )


def _task_confidence(
    n_tasks: int,
    object_task: Int64Array,
    keep: Int64Array,
    existence: FloatArray,
    confidence: FloatArray,
    support: Int64Array,
) -> FloatArray:
    """Π over kept objects of their confidence × Π over the candidates below P = 1/2 of P(not an object) ×, when
    the cap (``max_objects``) dropped candidates that are likely objects too, the kept objects' share of the
    boxes among them and those (a cap says the image has no more objects: the question is then which ones)."""
    dropped = np.ones(len(object_task), dtype=bool)
    dropped[keep] = False
    capped = dropped & (existence >= 0.5)
    below = dropped & ~capped
    with np.errstate(divide="ignore"):
        log_kept = np.bincount(object_task[keep], np.log(confidence), n_tasks)
        log_below = np.bincount(object_task[below], np.log1p(-existence[below]), n_tasks)
    kept_boxes = np.bincount(object_task[keep], support[keep], n_tasks)
    capped_boxes = np.bincount(object_task[capped], support[capped], n_tasks)
    share = np.divide(kept_boxes, kept_boxes + capped_boxes, out=np.ones(n_tasks), where=capped_boxes > 0)
    return np.exp(log_kept + log_below) * share


def _share(workers: Int64Array, hits: npt.ArrayLike, counted: FloatArray, n_workers: int) -> FloatArray:
    total = np.bincount(workers, counted, n_workers)
    with np.errstate(invalid="ignore"):
        return np.where(total > 0, np.bincount(workers, np.asarray(hits, dtype=np.float64), n_workers) / total, np.nan)


def _recall(kept: BoxAnswers, matched: npt.NDArray[np.bool_], kept_tasks: Int64Array) -> FloatArray:
    per_task = np.bincount(kept_tasks, minlength=kept.n_tasks)
    expected = np.bincount(kept.workers, per_task[kept.tasks], kept.n_workers)
    hits = np.bincount(kept.box_workers, matched.astype(np.float64), kept.n_workers)
    with np.errstate(invalid="ignore"):
        return np.where(expected > 0, np.minimum(hits / expected, 1.0), np.nan)

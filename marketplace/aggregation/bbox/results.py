"""The result of box aggregation: a frozen dataclass of NumPy arrays."""

from __future__ import annotations

from dataclasses import dataclass

from marketplace.aggregation.checks import Int64Array
from marketplace.aggregation.inputs import FloatArray


@dataclass(frozen=True, eq=False)
class BoxAggregationResult:
    """Aggregated boxes and what the model learnt about the workers.

    - Boxes, one row per object kept, sorted by task then confidence (highest first): ``task``, ``box``
      ``[x, y, w, h]`` (fused), ``label``, ``confidence`` = ``existence`` × ``label_probability`` (P(there is an
      object here) from the workers who marked it and those who did not, weighted by their estimated recall and
      false-positive rate; P(its label) from the label votes, Dawid-Skene), and ``support``: the number of
      workers' boxes fused into it.
    - ``box_object`` per input box: the row of the aggregated box it was fused into, -1 if its object was not
      kept (or its worker was excluded).
    - ``task_confidence`` per task: the probability that the task's aggregated set is exactly right: every kept
      object is real and well labelled, every dropped candidate is not an object (1 for a gold task);
      ``answer_counts``: responses counted per task.
    - Per worker, against the aggregate (gold where known): ``worker_precision`` (share of the worker's boxes
      fused into a kept box of the same label; NaN without boxes), ``worker_recall`` (share of the kept boxes on
      the tasks the worker answered that it marked with the right label; NaN if none),
      ``worker_localisation_error`` (estimated RMS error of its corners, as a fraction of the object's width or
      height; NaN without information), ``worker_mean_iou`` (mean IoU of its fused boxes with the aggregate),
      ``worker_answer_counts``.
    - ``iterations`` and ``converged`` of the localisation EM.
    """

    task: Int64Array
    box: FloatArray
    label: Int64Array
    confidence: FloatArray
    existence: FloatArray
    label_probability: FloatArray
    support: Int64Array
    box_object: Int64Array
    task_confidence: FloatArray
    answer_counts: Int64Array
    worker_precision: FloatArray
    worker_recall: FloatArray
    worker_localisation_error: FloatArray
    worker_mean_iou: FloatArray
    worker_answer_counts: Int64Array
    iterations: int
    converged: bool

"""The result of span aggregation: a frozen dataclass of NumPy arrays."""

from __future__ import annotations

from dataclasses import dataclass

from marketplace.aggregation.inputs import FloatArray
from marketplace.aggregation.spans.inputs import Int64Array


@dataclass(frozen=True, eq=False)
class SpanAggregationResult:
    """Aggregated spans and what the model learnt.

    - Spans, one row each, sorted by task then start: ``task``, ``start``, ``end`` (half-open, in the input's
      offsets), ``label`` and ``confidence``: the posterior probability that exactly this span, with this label,
      is in the text (it starts there, and the next unit does not continue it).
    - ``task_confidence`` ``(n_tasks,)``: the posterior probability that the text's aggregated spans are exactly
      right, all of them and nothing else (1 for a gold text); ``answer_counts``: responses counted per text.
    - Per worker, against the aggregate (gold where known), exact span matches: ``worker_precision`` (share of
      the worker's spans that are in the aggregate; NaN without spans), ``worker_recall`` (share of the
      aggregate's spans on the texts the worker answered that the worker marked; NaN if there were none),
      ``worker_answer_counts``.
    - The model: ``confusions[w, p, k, l]`` = P(worker w tags a unit ``l`` | its own previous tag ``p``, true tag
      ``k``), over the BIO states of :mod:`.bio` (``O = 0``, ``B-c = 1 + 2c``, ``I-c = 2 + 2c``);
      ``transitions[i, j]`` and ``start[j]`` of the true tags.
    - ``log_likelihood``, ``objective`` (with the log prior: what EM increases; ``history`` per iteration),
      ``iterations``, ``converged``.
    """

    task: Int64Array
    start: Int64Array
    end: Int64Array
    label: Int64Array
    confidence: FloatArray
    task_confidence: FloatArray
    answer_counts: Int64Array
    worker_precision: FloatArray
    worker_recall: FloatArray
    worker_answer_counts: Int64Array
    confusions: FloatArray
    transitions: FloatArray
    start_probabilities: FloatArray
    log_likelihood: float
    objective: float
    iterations: int
    converged: bool
    history: tuple[float, ...]

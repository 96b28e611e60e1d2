"""Span aggregation: the sequence model of :mod:`.model` fitted by EM, decoded by Viterbi into spans.

    result = span_aggregate(answers, gold={3: [(0, 2, 1)]}, exclude_workers=[7])
    result.task, result.start, result.end, result.label, result.confidence    # one row per aggregated span

EM starts from the units' tag vote shares (gold clamped) with uniform well-formed transitions, alternates the
M-step and the E-step of :mod:`.model`, and stops when the penalised log-likelihood moves by less than ``tol``
relative to its value, or after ``max_iter`` iterations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from marketplace.aggregation.checks import expand
from marketplace.aggregation.em import DirichletPrior
from marketplace.aggregation.errors import InvalidOptionError
from marketplace.aggregation.spans.bio import OUTSIDE, begin, inside
from marketplace.aggregation.spans.decode import decode
from marketplace.aggregation.spans.inputs import Int64Array, SpanAnswers, SpanGold, SpanGoldInput, parse_span_gold
from marketplace.aggregation.spans.model import (
    Estep,
    Parameters,
    Problem,
    e_step,
    expected_transitions,
    initial_posteriors,
    log_prior_density,
    m_step,
)
from marketplace.aggregation.spans.results import SpanAggregationResult
from marketplace.aggregation.spans.units import Units, build_units, flatten_overlaps, observe


@dataclass(frozen=True, eq=False)
class _Fit:
    params: Parameters
    estep: Estep
    history: list[float]
    converged: bool


def span_aggregate(
    answers: SpanAnswers,
    *,
    gold: SpanGoldInput | None = None,
    exclude_workers: npt.ArrayLike | None = None,
    max_iter: int = 50,
    tol: float = 1e-6,
    prior: DirichletPrior | None = None,
) -> SpanAggregationResult:
    """Aggregate the workers' spans of every text into one flat set of spans with a confidence each.

    ``gold`` clamps those texts to their known spans (an empty list: no span); ``exclude_workers`` drops those
    workers' answers; ``prior`` is the Dirichlet prior of every worker's confusion rows (Dawid-Skene's default).
    A worker's overlapping spans are first flattened (:func:`.units.flatten_overlaps`).
    """
    if max_iter < 1 or not tol >= 0:
        raise InvalidOptionError("need max_iter >= 1 and tol >= 0")
    kept = answers.without_workers(exclude_workers)
    gold_spans = parse_span_gold(gold, lengths=kept.lengths, n_classes=kept.n_classes)
    flat = flatten_overlaps(kept)
    units = build_units(kept, flat, gold_spans)
    problem = Problem.build(
        kept, units, observe(kept, flat, units), _gold_tags(units, gold_spans), prior or DirichletPrior()
    )
    fit = _em(problem, max_iter, tol)
    return decode(problem, kept, flat, fit.params, fit.estep, fit.history, fit.converged)


def _em(problem: Problem, max_iter: int, tol: float) -> _Fit:
    posteriors = initial_posteriors(problem)
    transitions = start = None
    history: list[float] = []
    for _ in range(max_iter):
        params = m_step(problem, posteriors, transitions, start)
        estep = e_step(problem, params)
        posteriors = estep.posteriors
        transitions, start = expected_transitions(problem, params, estep)
        history.append(estep.log_likelihood + log_prior_density(problem, params))
        if _converged(history, tol):
            break
    return _Fit(params, estep, history, _converged(history, tol))


def _converged(history: list[float], tol: float) -> bool:
    return len(history) > 1 and abs(history[-1] - history[-2]) <= tol * abs(history[-1])


def _gold_tags(units: Units, gold: SpanGold | None) -> tuple[Int64Array, Int64Array]:
    """The BIO state of every unit of the gold texts: O, except B then I over each gold span's units."""
    if gold is None:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    text, step = expand(units.first[gold.gold_tasks], units.count[gold.gold_tasks])
    gold_units = units.first[gold.gold_tasks][text] + step
    tags = np.full(units.n_units, OUTSIDE, dtype=np.int64)
    first = units.at(gold.tasks, gold.starts)
    size = units.at(gold.tasks, gold.ends) - first
    span, step = expand(first, size)
    tags[first[span] + step] = np.where(step == 0, begin(gold.labels[span]), inside(gold.labels[span]))
    return gold_units, tags[gold_units]

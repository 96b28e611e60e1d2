"""From a fitted sequence model to spans: Viterbi paths, exact-span posteriors, per-worker precision/recall."""

from __future__ import annotations

import numpy as np

from marketplace.aggregation.checks import expand
from marketplace.aggregation.inputs import FloatArray
from marketplace.aggregation.spans.bio import OUTSIDE, inside
from marketplace.aggregation.spans.inputs import Int64Array, SpanAnswers
from marketplace.aggregation.spans.model import Estep, Parameters, Problem
from marketplace.aggregation.spans.results import SpanAggregationResult
from marketplace.aggregation.spans.sequence import viterbi


def decode(
    problem: Problem,
    answers: SpanAnswers,
    flat: Int64Array,
    params: Parameters,
    estep: Estep,
    history: list[float],
    converged: bool,
) -> SpanAggregationResult:
    chains, units = problem.chains, problem.units
    path_rows, best = viterbi(chains, estep.log_emissions, params.log_transitions, params.log_start)
    path = path_rows[chains.index]
    first, stop = _runs(path)
    labels = (path[first] - 1) // 2
    confidence = _span_probability(problem, params, estep, first, stop, labels)
    task_confidence = _path_probability(problem, estep, best)
    span_task = units.task[first]
    precision, recall = _worker_agreement(answers, flat, (span_task, units.start[first], units.end[stop - 1], labels))
    return SpanAggregationResult(
        task=span_task,
        start=units.start[first],
        end=units.end[stop - 1],
        label=labels,
        confidence=confidence,
        task_confidence=task_confidence,
        answer_counts=np.bincount(answers.tasks, minlength=answers.n_tasks).astype(np.int64),
        worker_precision=precision,
        worker_recall=recall,
        worker_answer_counts=np.bincount(answers.workers, minlength=answers.n_workers).astype(np.int64),
        confusions=np.exp(params.log_confusion).transpose(0, 1, 3, 2).copy(),
        transitions=np.exp(params.log_transitions),
        start_probabilities=np.exp(params.log_start),
        log_likelihood=estep.log_likelihood,
        objective=history[-1],
        iterations=len(history),
        converged=converged,
        history=tuple(history),
    )


def _runs(path: Int64Array) -> tuple[Int64Array, Int64Array]:
    """First unit and one-past-last unit of every span of a well-formed BIO path (units in text order).

    A span opens at each B (odd state); the path being well-formed, every I continues the span before it,
    and a span ends where the next unit is not an I (O, a B, or another text's first unit, which is never I)."""
    first = np.flatnonzero(path % 2 == 1)
    is_inside = (path != OUTSIDE) & (path % 2 == 0)
    # The span number of each unit in a span: how many B's came before it, inclusive.
    number = np.cumsum(path % 2 == 1) - 1
    in_span = (path % 2 == 1) | is_inside
    stop = np.zeros(len(first), dtype=np.int64)
    np.maximum.at(stop, number[in_span], np.flatnonzero(in_span) + 1)
    return first, stop


def _span_probability(
    problem: Problem, params: Parameters, estep: Estep, first: Int64Array, stop: Int64Array, labels: Int64Array
) -> FloatArray:
    """``P(z_first = B, z_{first+1..stop-1} = I, z_stop ≠ I | answers)`` from the scaled forward-backward:
    ``α̂_first(B) · Π_u A(z_{u-1}, I) E_u(I) / c_u · β̂'_{stop-1}``, with ``β̂'`` the backward sum restricted
    to a next state other than ``I`` (or 1 at a text's end)."""
    rows = problem.chains.index
    smoothed = estep.smoothed
    b_tag, i_tag = 1 + 2 * labels, inside(labels)
    log_p = np.log(smoothed.alpha[rows[first], b_tag])
    span, step = expand(first + 1, stop - first - 1)
    if len(span):
        unit_rows = rows[first[span] + 1 + step]
        came_from = np.where(step == 0, b_tag[span], i_tag[span])
        terms = (
            params.log_transitions[came_from, i_tag[span]]
            + np.log(estep.emissions[unit_rows, i_tag[span]])
            - np.log(smoothed.scale[unit_rows])
        )
        log_p += np.bincount(span, terms, minlength=len(first))
    last = np.where(stop - first == 1, b_tag, i_tag)
    beta = smoothed.beta[rows[stop - 1], last]
    task_end = problem.units.first[problem.units.task[first]] + problem.units.count[problem.units.task[first]]
    more = stop < task_end
    nxt = rows[np.minimum(stop, len(rows) - 1)]
    continues = np.exp(params.log_transitions[last, i_tag]) * estep.emissions[nxt, i_tag] * smoothed.beta[nxt, i_tag]
    beta = beta - np.where(more, continues / smoothed.scale[nxt], 0.0)
    with np.errstate(divide="ignore"):
        return np.clip(np.exp(log_p + np.log(np.maximum(beta, 0.0))), 0.0, 1.0)


def _path_probability(problem: Problem, estep: Estep, best: FloatArray) -> FloatArray:
    """Each text's Viterbi path probability: ``exp(best score − Σ log c)`` (1 for a text without units)."""
    chains, units = problem.chains, problem.units
    log_norm = np.bincount(units.task, np.log(estep.smoothed.scale[chains.index]), minlength=len(units.count))
    rank = np.empty(len(units.count), dtype=np.int64)
    rank[np.argsort(-units.count, kind="stable")] = np.arange(len(units.count))
    score = np.zeros(len(units.count))
    has_units = units.count > 0
    score[has_units] = best[rank[has_units]]
    return np.where(has_units, np.exp(np.minimum(score - log_norm, 0.0)), 1.0)


def _worker_agreement(
    answers: SpanAnswers, flat: Int64Array, aggregate: tuple[Int64Array, Int64Array, Int64Array, Int64Array]
) -> tuple[FloatArray, FloatArray]:
    responses = answers.span_responses[flat]
    mine = _row_keys(answers.tasks[responses], answers.starts[flat], answers.ends[flat], answers.labels[flat])
    matched = np.isin(mine, _row_keys(*aggregate))
    workers = answers.workers[responses]
    n_workers = answers.n_workers
    hits = np.bincount(workers, matched, n_workers)
    marked = np.bincount(workers, minlength=n_workers)
    per_task = np.bincount(aggregate[0], minlength=answers.n_tasks)
    expected = np.bincount(answers.workers, per_task[answers.tasks], n_workers)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(marked > 0, hits / marked, np.nan), np.where(expected > 0, hits / expected, np.nan)


def _row_keys(*columns: Int64Array) -> np.ndarray:
    """One comparable value per row of equal-length int64 columns (a void view of the packed row)."""
    table = np.ascontiguousarray(np.stack(columns, axis=1).astype(np.int64))
    return table.view(np.dtype((np.void, 8 * len(columns)))).reshape(-1)

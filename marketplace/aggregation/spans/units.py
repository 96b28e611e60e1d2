"""Cut each text into units and turn each worker's spans into (previous tag, tag) observations on them.

**Units.** A text is cut at every offset where some worker's (or a gold) span starts or ends. Between two cuts
every worker's tags follow one pattern (``O O O`` or ``B I I`` or ``I I I``), so a unit stands for its
``length`` positions exactly, provided the true tags follow such a pattern too: a unit's state is its first
position's tag, and its other positions are ``O`` after ``O`` or ``I-c`` after ``B-c``/``I-c`` (:mod:`.model`
counts their evidence and transitions ``length − 1`` times). The model then equals a position-by-position
model on tokens or characters restricted to true spans that start and end where some worker's span does, which
no answer could argue against anyway; and a 2,000-character text marked in three places costs seven units.

**Observations.** Most of an answer is ``O`` after ``O``; those pairs are not stored one by one: each response
counts ``(O, O)`` on every position of its text (one entry per response), and each unit where the worker's
pairs differ stores them with their multiplicity and takes as many ``(O, O)`` back. Memory and time then grow
with the number of spans, not of characters. A unit's first position and its other positions are kept apart
(``first`` and ``rest``), because their true tags differ: ``B-c`` at the first, ``I-c`` after it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from marketplace.aggregation.checks import expand
from marketplace.aggregation.spans.bio import OUTSIDE, begin, inside
from marketplace.aggregation.spans.inputs import Int64Array, SpanAnswers, SpanGold


@dataclass(frozen=True, eq=False)
class Units:
    """``task[u]``, ``start[u]``, ``end[u]`` of every unit, units of a task consecutive and in order;
    ``first[t]`` the first unit of task ``t`` and ``count[t]`` its number of units."""

    task: Int64Array
    start: Int64Array
    end: Int64Array
    first: Int64Array
    count: Int64Array

    @property
    def n_units(self) -> int:
        return len(self.task)

    @property
    def length(self) -> Int64Array:
        return self.end - self.start

    def at(self, tasks: Int64Array, offsets: Int64Array) -> Int64Array:
        """The unit that starts at ``offsets`` of ``tasks`` (a cut); a text's end maps to one past its last unit."""
        return np.searchsorted(_keys(self.task, self.start), _keys(tasks, offsets)).astype(np.int64)


@dataclass(frozen=True, eq=False)
class Observations:
    """``(unit, worker, previous tag, tag)`` pairs that differ from ``(O, O)``, each with how many times it
    occurs (a negative weight takes back ``(O, O)`` pairs the responses counted)."""

    units: Int64Array
    workers: Int64Array
    previous: Int64Array
    tags: Int64Array
    weights: Int64Array

    @classmethod
    def replacing_outside(
        cls, units: Int64Array, workers: Int64Array, previous: Int64Array, tags: Int64Array, weights: Int64Array
    ) -> Observations:
        """These pairs, plus as many ``(O, O)`` taken back on the same units."""
        stored = weights != 0
        units, workers, previous, tags, weights = (a[stored] for a in (units, workers, previous, tags, weights))
        outside = np.full(len(units), OUTSIDE, dtype=np.int64)
        return cls(
            units=np.concatenate([units, units]),
            workers=np.concatenate([workers, workers]),
            previous=np.concatenate([previous, outside]),
            tags=np.concatenate([tags, outside]),
            weights=np.concatenate([weights, -weights]),
        )


def _keys(tasks: Int64Array, offsets: Int64Array) -> Int64Array:
    # Offsets stay far below 2**31 (a text of two billion characters is not a crowd task).
    return tasks * (1 << 31) + offsets


def flatten_overlaps(answers: SpanAnswers) -> Int64Array:
    """Indices of the spans kept once each response is made one flat labelling, in (response, start) order.

    Rule: in start order (the longer first at equal start, then the lower label), a span that starts before the
    end of an earlier span of the same response is dropped. The outer of two nested spans wins, as CoNLL
    annotates; of two crossing spans the one that starts first wins.
    """
    order = np.lexsort((answers.labels, -answers.ends, answers.starts, answers.span_responses))
    responses = answers.span_responses[order]
    ends = answers.ends[order]
    # Running maximum of the ends within a response: shift each response's ends above every earlier one's.
    shift = responses * (int(answers.lengths.max(initial=0)) + 1)
    reach = np.maximum.accumulate(ends + shift) - shift
    previous_reach = np.concatenate([[-1], reach[:-1]])
    same = np.concatenate([[False], responses[1:] == responses[:-1]])
    keep = ~same | (answers.starts[order] >= previous_reach)
    return order[keep]


def build_units(answers: SpanAnswers, kept: Int64Array, gold: SpanGold | None) -> Units:
    """Cut every text at 0, its length and every kept or gold span's start and end."""
    span_tasks = answers.tasks[answers.span_responses[kept]]
    n_tasks = answers.n_tasks
    all_tasks = np.arange(n_tasks, dtype=np.int64)
    cut_tasks = [all_tasks, all_tasks, span_tasks, span_tasks]
    cut_offsets = [np.zeros(n_tasks, dtype=np.int64), answers.lengths, answers.starts[kept], answers.ends[kept]]
    if gold is not None:
        cut_tasks += [gold.tasks, gold.tasks]
        cut_offsets += [gold.starts, gold.ends]
    keys = np.unique(_keys(np.concatenate(cut_tasks), np.concatenate(cut_offsets)))
    tasks, offsets = np.divmod(keys, 1 << 31)
    # Each cut but a text's last starts a unit; a text of length 0 has the single cut 0 and no unit.
    opens = np.zeros(len(keys), dtype=bool)
    opens[:-1] = tasks[1:] == tasks[:-1]
    count = np.bincount(tasks[opens], minlength=n_tasks).astype(np.int64)
    return Units(
        task=tasks[opens],
        start=offsets[opens],
        end=offsets[1:][opens[:-1]],
        first=np.cumsum(count) - count,
        count=count,
    )


def observe(answers: SpanAnswers, kept: Int64Array, units: Units) -> tuple[Observations, Observations]:
    """The pairs of every kept span that differ from ``(O, O)``: on the units' first positions, and on their
    other positions (see the module doc)."""
    responses = answers.span_responses[kept]
    tasks = answers.tasks[responses]
    labels = answers.labels[kept]
    first = units.at(tasks, answers.starts[kept])
    stop = units.at(tasks, answers.ends[kept])
    size = stop - first
    # Inside each span: B at its first unit, I after it; the previous tag is the worker's own tag before.
    span, step = expand(first, size)
    b_tag, i_tag = begin(labels), inside(labels)
    last_tag = np.where(size == 1, b_tag, i_tag)
    # A span right after the same worker's previous span (adjacent spans) follows that span's last tag.
    touching = np.concatenate([[False], (responses[1:] == responses[:-1]) & (first[1:] == stop[:-1])])
    before = np.where(touching, np.concatenate([[OUTSIDE], last_tag[:-1]]), OUTSIDE)
    tag = np.where(step == 0, b_tag[span], i_tag[span])
    previous = np.where(step == 0, before[span], np.where(step == 1, b_tag[span], i_tag[span]))
    # The unit after a span, unless the text ends or the worker's next span starts there: O after the last tag.
    text_end = units.first[tasks] + units.count[tasks]
    closes = (stop < text_end) & ~np.concatenate([touching[1:], [False]])
    workers = answers.workers[responses]
    first_pairs = Observations.replacing_outside(
        np.concatenate([first[span] + step, stop[closes]]),
        np.concatenate([workers[span], workers[closes]]),
        np.concatenate([previous, last_tag[closes]]),
        np.concatenate([tag, np.full(int(closes.sum()), OUTSIDE)]),
        np.ones(len(span) + int(closes.sum()), dtype=np.int64),
    )
    # A unit's other positions are I after the unit's own tag once, then I after I.
    unit = first[span] + step
    rest = units.length[unit] - 1
    after_first = Observations.replacing_outside(unit, workers[span], tag, i_tag[span], np.minimum(rest, 1))
    after_inside = Observations.replacing_outside(
        unit, workers[span], i_tag[span], i_tag[span], np.maximum(rest - 1, 0)
    )
    return first_pairs, _concatenate(after_first, after_inside)


def _concatenate(one: Observations, other: Observations) -> Observations:
    return Observations(
        units=np.concatenate([one.units, other.units]),
        workers=np.concatenate([one.workers, other.workers]),
        previous=np.concatenate([one.previous, other.previous]),
        tags=np.concatenate([one.tags, other.tags]),
        weights=np.concatenate([one.weights, other.weights]),
    )

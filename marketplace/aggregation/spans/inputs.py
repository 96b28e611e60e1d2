"""Span answers as arrays: one row per response (a worker's answer to a text, spans or none), one per span.

A response with no span is an answer too ("no entity here"): it is evidence against every span the others
marked, so responses and spans are separate tables. Spans are half-open ``[start, end)`` offsets into a text of
``lengths[task]`` positions, characters or tokens alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from marketplace.aggregation.checks import (
    Int64Array,
    check_range,
    check_unique_responses,
    int64_array,
    without_workers,
)
from marketplace.aggregation.errors import InvalidAnswersError, InvalidGoldError

#: Gold spans: ``{task index: [(start, end, label index), ...]}``; an empty list means "no span in this text".
SpanGoldInput = Mapping[int, Sequence[Sequence[int]]]


@dataclass(frozen=True, eq=False)
class SpanAnswers:
    """Workers' spans over ``n_tasks = len(lengths)`` texts.

    Responses: worker ``workers[r]`` answered task ``tasks[r]`` (at most once per pair). Spans: span ``i``
    belongs to response ``span_responses[i]`` and covers ``[starts[i], ends[i])`` with label ``labels[i]``
    (``0 <= start < end <= lengths[task]``). Arrays are converted to int64 and must not change afterwards.
    """

    tasks: Int64Array
    workers: Int64Array
    span_responses: Int64Array
    starts: Int64Array
    ends: Int64Array
    labels: Int64Array
    lengths: Int64Array
    n_workers: int
    n_classes: int

    def __post_init__(self) -> None:
        if self.n_workers < 0 or self.n_classes < 1:
            raise InvalidAnswersError("need n_workers >= 0 and n_classes >= 1")
        for name in ("tasks", "workers", "span_responses", "starts", "ends", "labels", "lengths"):
            object.__setattr__(self, name, int64_array(getattr(self, name), name))
        _same_length(self, ("tasks", "workers"))
        _same_length(self, ("span_responses", "starts", "ends", "labels"))
        if (self.lengths < 0).any():
            raise InvalidAnswersError("lengths must be >= 0")
        check_range(self.tasks, self.n_tasks, "tasks")
        check_range(self.workers, self.n_workers, "workers")
        check_range(self.span_responses, len(self.tasks), "span_responses")
        check_range(self.labels, self.n_classes, "labels")
        _check_spans(self.starts, self.ends, self.lengths[self.tasks[self.span_responses]], "span")
        check_unique_responses(self.tasks, self.workers)

    @property
    def n_tasks(self) -> int:
        return len(self.lengths)

    @property
    def n_responses(self) -> int:
        return len(self.tasks)

    def without_workers(self, exclude_workers: npt.ArrayLike | None) -> SpanAnswers:
        """The same texts without the responses (and spans) of ``exclude_workers``; sizes unchanged."""
        if exclude_workers is None:
            return self
        keep, kept_spans, responses = without_workers(
            self.workers, self.n_workers, exclude_workers, self.span_responses
        )
        return SpanAnswers(
            tasks=self.tasks[keep],
            workers=self.workers[keep],
            span_responses=responses,
            starts=self.starts[kept_spans],
            ends=self.ends[kept_spans],
            labels=self.labels[kept_spans],
            lengths=self.lengths,
            n_workers=self.n_workers,
            n_classes=self.n_classes,
        )


@dataclass(frozen=True, eq=False)
class SpanGold:
    """Known spans: ``gold_tasks`` are the texts whose every span is known (possibly none); the spans
    themselves are ``(tasks, starts, ends, labels)`` rows."""

    gold_tasks: Int64Array
    tasks: Int64Array
    starts: Int64Array
    ends: Int64Array
    labels: Int64Array


def parse_span_gold(gold: SpanGoldInput | None, *, lengths: Int64Array, n_classes: int) -> SpanGold | None:
    """Validate ``{task: [(start, end, label), ...]}``: tasks and labels in range, spans inside their text and
    not overlapping one another (gold is one flat labelling)."""
    if not gold:
        return None
    rows = [(int(task), *map(int, span)) for task, spans in gold.items() for span in spans]
    if any(len(row) != 4 for row in rows):
        raise InvalidGoldError("each gold span must be (start, end, label)")
    table = np.array(rows, dtype=np.int64).reshape(-1, 4)
    gold_tasks = np.unique(np.fromiter((int(task) for task in gold), dtype=np.int64))
    try:
        check_range(gold_tasks, len(lengths), "gold tasks")
        check_range(table[:, 3], n_classes, "gold labels")
        _check_spans(table[:, 1], table[:, 2], lengths[table[:, 0]], "gold span")
    except InvalidAnswersError as exc:
        raise InvalidGoldError(str(exc)) from exc
    table = table[np.lexsort((table[:, 1], table[:, 0]))]
    overlapping = (table[1:, 0] == table[:-1, 0]) & (table[1:, 1] < table[:-1, 2])
    if overlapping.any():
        raise InvalidGoldError(f"gold spans of task {int(table[1:, 0][overlapping][0])} overlap")
    return SpanGold(gold_tasks, table[:, 0].copy(), table[:, 1].copy(), table[:, 2].copy(), table[:, 3].copy())


def _same_length(answers: SpanAnswers, names: tuple[str, ...]) -> None:
    if len({len(getattr(answers, name)) for name in names}) > 1:
        raise InvalidAnswersError(f"{', '.join(names)} must have the same length")


def _check_spans(starts: Int64Array, ends: Int64Array, lengths: Int64Array, what: str) -> None:
    bad = (starts < 0) | (ends <= starts) | (ends > lengths)
    if bad.any():
        i = int(np.argmax(bad))
        raise InvalidAnswersError(
            f"{what} {i} is [{starts[i]}, {ends[i]}): need 0 <= start < end <= text length {lengths[i]}"
        )

"""The ``spans`` rows of the command line: JSON answers to :class:`SpanAnswers`, aggregated spans back to JSON.

An answer is a list of spans ``[start, end, label]`` (integer half-open offsets, characters or tokens; label a
string), or a list of BIO tags, one per token (``["B-PER", "I-PER", "O"]``, read as ``conlleval`` reads
them). The output has the input's encoding. A text's length is the number of tags, else the optional
``length`` column, else the furthest span end of its answers and gold. The confidence is the probability that
the task's spans are exactly right (:attr:`SpanAggregationResult.task_confidence`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from marketplace.aggregation.rows import Rows, first_appearance, unique_pairs
from marketplace.aggregation.spans.bio import spans_to_tags, tags_to_spans
from marketplace.aggregation.spans.engine import span_aggregate
from marketplace.aggregation.spans.inputs import SpanAnswers


@dataclass(frozen=True)
class _Answer:
    tags: bool | None  # None: an empty list, either encoding
    length: int | None
    spans: list[tuple[int, int, str]]


def aggregate_spans_rows(answers: Rows, gold: Rows | None) -> tuple[list[tuple[str, str, str]], str]:
    tasks, workers = answers.columns["task"], answers.columns["worker"]
    unique_pairs(answers, tasks, workers)
    parsed = [_parse(answers, i) for i in range(len(answers))]
    gold_parsed = [_parse(gold, i) for i in range(len(gold))] if gold else []
    tagged = _encoding(answers, parsed, gold, gold_parsed)
    task_ids, worker_ids = first_appearance(tasks), first_appearance(workers)
    gold_tasks = gold.columns["task"] if gold else []
    lengths = _lengths(answers, parsed, task_ids, gold_tasks, gold_parsed)
    classes = sorted({label for answer in parsed + gold_parsed for _, _, label in answer.spans})
    class_ids = {label: number for number, label in enumerate(classes)}
    span_rows = [(r, span) for r, answer in enumerate(parsed) for span in answer.spans]
    job = SpanAnswers(
        tasks=np.array([task_ids[t] for t in tasks], dtype=np.int64),
        workers=np.array([worker_ids[w] for w in workers], dtype=np.int64),
        span_responses=np.array([r for r, _ in span_rows], dtype=np.int64),
        starts=np.array([span[0] for _, span in span_rows], dtype=np.int64),
        ends=np.array([span[1] for _, span in span_rows], dtype=np.int64),
        labels=np.array([class_ids[span[2]] for _, span in span_rows], dtype=np.int64),
        lengths=lengths,
        n_workers=len(worker_ids),
        n_classes=max(len(classes), 1),
    )
    known = {
        task_ids[key]: [(s, e, class_ids[label]) for s, e, label in answer.spans]
        for key, answer in zip(gold_tasks, gold_parsed, strict=True)
        if key in task_ids
    }
    result = span_aggregate(job, gold=known)
    per_task: list[list[tuple[int, int, str]]] = [[] for _ in task_ids]
    for task, start, end, label in zip(
        result.task.tolist(), result.start.tolist(), result.end.tolist(), result.label.tolist(), strict=True
    ):
        per_task[task].append((start, end, classes[label]))
    rows = [
        (
            key,
            json.dumps(spans_to_tags(spans, int(lengths[n])) if tagged else spans),
            f"{confidence:.6f}",
        )
        for n, (key, spans, confidence) in enumerate(
            zip(task_ids, per_task, result.task_confidence.tolist(), strict=True)
        )
    ]
    report = (
        f"tasks={len(task_ids)} workers={len(worker_ids)} spans={len(span_rows)} gold={len(known)} "
        f"kept={len(result.task)} iterations={result.iterations} converged={'yes' if result.converged else 'no'}"
    )
    return rows, report


def _parse(rows: Rows, index: int) -> _Answer:
    value = rows.json(index)
    if not isinstance(value, list):
        raise rows.error(index, "answer must be a JSON list of [start, end, label] spans or of BIO tags")
    if not value:
        return _Answer(None, None, [])
    if all(isinstance(tag, str) for tag in value):
        bad = next((i for i, tag in enumerate(value) if tag != "O" and tag[:2] not in ("B-", "I-")), None)
        if bad is not None:
            raise rows.error(index, f"tag {bad}: {value[bad]!r} is not O, B-<label> or I-<label>")
        return _Answer(True, len(value), tags_to_spans(value))
    return _Answer(False, None, [_span(rows, index, number, span) for number, span in enumerate(value)])


def _span(rows: Rows, index: int, number: int, span: object) -> tuple[int, int, str]:
    if not isinstance(span, list) or len(span) != 3:
        raise rows.error(index, f"span {number}: expected [start, end, label]")
    start, end, label = span
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (start, end)) or not 0 <= start < end:
        raise rows.error(index, f"span {number}: need integers 0 <= start < end, got [{start!r}, {end!r}]")
    if not isinstance(label, str) or not label:
        raise rows.error(index, f"span {number}: label must be a non-empty string")
    return start, end, label


def _encoding(answers: Rows, parsed: list[_Answer], gold: Rows | None, gold_parsed: list[_Answer]) -> bool:
    """True for BIO tags, False for spans; mixing both is an error naming the first line that differs."""
    first: bool | None = None
    for rows, answers_of in ((answers, parsed), (gold, gold_parsed)):
        for index, answer in enumerate(answers_of):
            if answer.tags is None or rows is None:
                continue
            if first is None:
                first = answer.tags
            elif answer.tags != first:
                raise rows.error(index, "answers mix BIO tag lists and span lists")
    return bool(first)


def _lengths(
    answers: Rows, parsed: list[_Answer], task_ids: dict[str, int], gold_tasks: list[str], gold_parsed: list[_Answer]
) -> np.ndarray:
    """Each text's length: its tag count or ``length`` column (the same on every row of the task), else the
    furthest span end of its answers and gold."""
    needed = np.zeros(len(task_ids), dtype=np.int64)
    fixed: dict[int, tuple[int, int]] = {}  # task -> (length, row that gave it)
    given = answers.columns.get("length")
    for index, (key, answer) in enumerate(zip(answers.columns["task"], parsed, strict=True)):
        task = task_ids[key]
        length = answer.length if answer.length is not None else _given_length(answers, index, given)
        if length is not None and fixed.setdefault(task, (length, index))[0] != length:
            raise answers.error(index, f"text length {length} differs from {fixed[task][0]} given before for this task")
        needed[task] = max(needed[task], max((end for _, end, _ in answer.spans), default=0))
    for key, answer in zip(gold_tasks, gold_parsed, strict=True):
        if key in task_ids:
            needed[task_ids[key]] = max(needed[task_ids[key]], max((e for _, e, _ in answer.spans), default=0))
    for task, (length, index) in fixed.items():
        if needed[task] > length:
            raise answers.error(index, f"a span of this task ends at {needed[task]}, past the text length {length}")
        needed[task] = length
    return needed


def _given_length(rows: Rows, index: int, given: list[str] | None) -> int | None:
    if given is None or not given[index]:
        return None
    if not given[index].isdigit():
        raise rows.error(index, f"length must be an integer >= 0, got {given[index]!r}")
    return int(given[index])

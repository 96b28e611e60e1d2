"""A ``spans`` answer: its schema, validation, and grading against a gold answer. Pure functions.

Schema (a dict, as a job stores it)::

    {"type": "spans", "labels": ["PER", "LOC"], "min_spans": 0, "max_spans": 50, "allow_overlap": false}

An answer is a list of spans ``[start, end, label]``: half-open integer offsets into the item's text
(characters, or tokens: the same rules), ``0 <= start < end <= length`` when the length is known, ``label`` one
of the schema's labels. Unless ``allow_overlap``, no two spans of an answer overlap (adjacent spans may touch).
Grading: span-level precision, recall and F1, **exact** (same start, end and label) and **overlap** (an answer
span counts if it overlaps a gold span of its label; a gold span counts if an answer span of its label overlaps
it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from marketplace.aggregation.issues import AnswerIssue, count_issues, count_limit_issues, is_count, label_issues


@dataclass(frozen=True, order=True)
class Span:
    start: int
    end: int
    label: str


@dataclass(frozen=True)
class SpanGrade:
    """Exact and overlap precision / recall / F1 (a side with no span has precision or recall 1)."""

    exact_precision: float
    exact_recall: float
    exact_f1: float
    overlap_precision: float
    overlap_recall: float
    overlap_f1: float


def spans_schema_issues(schema: Mapping[str, Any]) -> list[AnswerIssue]:
    """What is wrong with a ``spans`` schema (empty: it is valid)."""
    issues = label_issues(schema.get("labels")) + count_issues(schema, "min_spans", "max_spans")
    if not isinstance(schema.get("allow_overlap", False), bool):
        issues.append(AnswerIssue(None, "allow_overlap", "allow_overlap must be true or false"))
    return issues


def spans_answer_issues(answer: object, schema: Mapping[str, Any], *, length: int | None = None) -> list[AnswerIssue]:
    """What is wrong with ``answer`` under ``schema`` (empty: it is valid); ``length`` is the text's length
    (characters or tokens) when known."""
    if not isinstance(answer, list):
        return [AnswerIssue(None, None, "a spans answer is a list of [start, end, label] spans")]
    issues = [issue for index, span in enumerate(answer) for issue in _span_issues(index, span, schema, length)]
    if not issues and not schema.get("allow_overlap", False):
        issues += _overlap_issues(answer)
    return issues + count_limit_issues(len(answer), schema, "min_spans", "max_spans", "spans")


def parse_spans_answer(answer: list[Any]) -> list[Span]:
    """The spans of a valid answer (check it with :func:`spans_answer_issues` first)."""
    return [Span(int(start), int(end), str(label)) for start, end, label in answer]


def grade_spans(answer: Sequence[Span], gold: Sequence[Span]) -> SpanGrade:
    """Grade ``answer`` against ``gold`` (see the module doc)."""
    exact = set(answer) & set(gold)
    exact_p = _share(sum(span in exact for span in answer), len(answer))
    exact_r = _share(sum(span in exact for span in gold), len(gold))
    overlap_p = _share(sum(_overlaps_any(span, gold) for span in answer), len(answer))
    overlap_r = _share(sum(_overlaps_any(span, answer) for span in gold), len(gold))
    return SpanGrade(exact_p, exact_r, _f1(exact_p, exact_r), overlap_p, overlap_r, _f1(overlap_p, overlap_r))


def _span_issues(index: int, span: object, schema: Mapping[str, Any], length: int | None) -> list[AnswerIssue]:
    if not isinstance(span, list) or len(span) != 3:
        return [AnswerIssue(index, None, f"span {index}: expected [start, end, label]")]
    start, end, label = span
    issues = [
        AnswerIssue(index, name, f"span {index}: {name} must be an integer >= 0")
        for name, value in (("start", start), ("end", end))
        if not is_count(value)
    ]
    labels = schema.get("labels") or []
    if label not in labels:
        issues.append(
            AnswerIssue(index, "label", f"span {index}: label {label!r} is not one of {', '.join(map(str, labels))}")
        )
    if issues:
        return issues
    if end <= start:
        issues.append(AnswerIssue(index, "end", f"span {index}: end {end} must be greater than start {start}"))
    elif length is not None and end > length:
        issues.append(AnswerIssue(index, "end", f"span {index}: end {end} is past the end of the text ({length})"))
    return issues


def _overlap_issues(answer: list[list[Any]]) -> list[AnswerIssue]:
    """Each span that starts before an earlier-starting span ends, naming the one reaching furthest."""
    issues: list[AnswerIssue] = []
    reach = -1  # the index of the span, among those seen, whose end is furthest
    for index in sorted(range(len(answer)), key=lambda i: (answer[i][0], answer[i][1])):
        if reach >= 0 and answer[index][0] < answer[reach][1]:
            issues.append(AnswerIssue(index, "start", f"span {index} overlaps span {reach}"))
        if reach < 0 or answer[index][1] > answer[reach][1]:
            reach = index
    return issues


def _overlaps_any(span: Span, others: Sequence[Span]) -> bool:
    return any(other.label == span.label and other.start < span.end and span.start < other.end for other in others)


def _share(hits: int, total: int) -> float:
    return hits / total if total else 1.0


def _f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0

"""What is wrong with one answer or schema: a position (box or span index), a field, and a sentence; and the
checks the structured types share."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class AnswerIssue:
    """One problem of an answer: ``position`` is the box or span index (None: the answer as a whole),
    ``field`` the part at fault (``"label"``, ``"x"``, ``"end"``...; None: the item as a whole)."""

    position: int | None
    field: str | None
    message: str

    def __str__(self) -> str:
        return self.message

    def as_dict(self) -> dict[str, object]:
        return {"position": self.position, "field": self.field, "message": self.message}


def label_issues(labels: object) -> list[AnswerIssue]:
    """A schema's ``labels``: a non-empty list of distinct, non-empty strings."""
    if not isinstance(labels, list) or not labels or not all(isinstance(label, str) and label for label in labels):
        return [AnswerIssue(None, "labels", "labels must be a non-empty list of non-empty strings")]
    if len(set(labels)) != len(labels):
        return [AnswerIssue(None, "labels", "labels must be distinct")]
    return []


def count_issues(schema: Mapping[str, Any], low_key: str, high_key: str) -> list[AnswerIssue]:
    """``schema[low_key]`` (default 0) and ``schema[high_key]`` (default: no limit): 0 <= low <= high, high >= 1."""
    low, high = schema.get(low_key, 0), schema.get(high_key)
    if not is_count(low):
        return [AnswerIssue(None, low_key, f"{low_key} must be an integer >= 0")]
    if high is not None and (not is_count(high) or high < max(low, 1)):
        return [AnswerIssue(None, high_key, f"{high_key} must be an integer >= max({low_key}, 1)")]
    return []


def count_limit_issues(
    count: int, schema: Mapping[str, Any], low_key: str, high_key: str, plural: str
) -> list[AnswerIssue]:
    """An answer's number of items (``plural``: "boxes", "spans") against the schema's limits."""
    low, high = schema.get(low_key, 0), schema.get(high_key)
    if count < low:
        return [AnswerIssue(None, None, f"{count} {plural} given, at least {low} needed")]
    if high is not None and count > high:
        return [AnswerIssue(None, None, f"{count} {plural} given, at most {high} allowed")]
    return []


def is_number(value: object) -> bool:
    """A finite int or float (not a bool)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def is_count(value: object) -> bool:
    """An int >= 0 (not a bool)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0

"""A ``bbox`` answer: its schema, validation, and grading against a gold answer. Pure functions.

Schema (a dict, as a job stores it)::

    {"type": "bbox", "labels": ["car", "person"], "min_boxes": 0, "max_boxes": 50, "iou_threshold": 0.5}

An answer is a list of boxes ``[x, y, w, h, label]``: pixels, ``(x, y)`` the top-left corner, ``w, h > 0``,
``label`` one of the schema's labels. When the image's size is known, every box must lie inside it.
Grading matches the answer's boxes to the gold boxes one to one (same label, IoU ≥ the threshold), maximising
the number of matches and then their IoU, and reports precision, recall, F1 and the mean IoU of the matches.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from marketplace.aggregation.bbox.geometry import corners, iou
from marketplace.aggregation.issues import AnswerIssue, count_issues, count_limit_issues, is_number, label_issues

_FIELDS = ("x", "y", "w", "h")
DEFAULT_IOU_THRESHOLD = 0.5


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    w: float
    h: float
    label: str


@dataclass(frozen=True)
class BoxGrade:
    """Matches at IoU ≥ ``threshold``: ``precision`` (share of the answer's boxes matched; 1 if it has none),
    ``recall`` (share of the gold boxes matched; 1 if gold has none), ``f1`` and ``mean_iou`` of the matches
    (NaN without a match); ``matches``: ``(answer index, gold index)`` pairs."""

    precision: float
    recall: float
    f1: float
    mean_iou: float
    matches: tuple[tuple[int, int], ...]


def bbox_schema_issues(schema: Mapping[str, Any]) -> list[AnswerIssue]:
    """What is wrong with a ``bbox`` schema (empty: it is valid)."""
    issues = label_issues(schema.get("labels")) + count_issues(schema, "min_boxes", "max_boxes")
    threshold = schema.get("iou_threshold", DEFAULT_IOU_THRESHOLD)
    if not is_number(threshold) or not 0 < threshold <= 1:
        issues.append(AnswerIssue(None, "iou_threshold", "iou_threshold must be a number in (0, 1]"))
    return issues


def bbox_answer_issues(
    answer: object, schema: Mapping[str, Any], *, image_size: tuple[float, float] | None = None
) -> list[AnswerIssue]:
    """What is wrong with ``answer`` under ``schema`` (empty: it is valid). ``image_size`` is
    ``(width, height)`` when known."""
    if not isinstance(answer, list):
        return [AnswerIssue(None, None, "a bbox answer is a list of [x, y, w, h, label] boxes")]
    issues = [issue for index, box in enumerate(answer) for issue in _box_issues(index, box, schema, image_size)]
    return issues + count_limit_issues(len(answer), schema, "min_boxes", "max_boxes", "boxes")


def parse_bbox_answer(answer: list[Any]) -> list[Box]:
    """The boxes of a valid answer (check it with :func:`bbox_answer_issues` first)."""
    return [Box(float(x), float(y), float(w), float(h), str(label)) for x, y, w, h, label in answer]


def grade_bbox(answer: Sequence[Box], gold: Sequence[Box], *, iou_threshold: float = DEFAULT_IOU_THRESHOLD) -> BoxGrade:
    """Grade ``answer`` against ``gold`` (see the module doc)."""
    matches, overlaps = _match(answer, gold, iou_threshold)
    precision = len(matches) / len(answer) if answer else 1.0
    recall = len(matches) / len(gold) if gold else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return BoxGrade(
        precision=precision,
        recall=recall,
        f1=f1,
        mean_iou=float(np.mean(overlaps)) if overlaps else math.nan,
        matches=tuple(matches),
    )


def _match(answer: Sequence[Box], gold: Sequence[Box], threshold: float) -> tuple[list[tuple[int, int]], list[float]]:
    if not answer or not gold:
        return [], []
    mine = corners(np.array([[b.x, b.y, b.w, b.h] for b in answer], dtype=np.float64))
    theirs = corners(np.array([[b.x, b.y, b.w, b.h] for b in gold], dtype=np.float64))
    rows, cols = np.meshgrid(np.arange(len(answer)), np.arange(len(gold)), indexing="ij")
    overlap = iou(mine[rows.ravel()], theirs[cols.ravel()]).reshape(len(answer), len(gold))
    same = np.array([[a.label == g.label for g in gold] for a in answer])
    eligible = same & (overlap >= threshold)
    # Each eligible pair is worth 1 (more matches first) plus its IoU (then better matches), under 2.
    chosen_rows, chosen_cols = linear_sum_assignment(np.where(eligible, 1.0 + overlap, 0.0), maximize=True)
    pairs = [(int(r), int(c)) for r, c in zip(chosen_rows, chosen_cols, strict=True) if eligible[r, c]]
    return pairs, [float(overlap[r, c]) for r, c in pairs]


def _box_issues(
    index: int, box: object, schema: Mapping[str, Any], image_size: tuple[float, float] | None
) -> list[AnswerIssue]:
    if not isinstance(box, list) or len(box) != 5:
        return [AnswerIssue(index, None, f"box {index}: expected [x, y, w, h, label]")]
    issues = [
        AnswerIssue(index, name, f"box {index}: {name} must be a finite number")
        for name, value in zip(_FIELDS, box[:4], strict=True)
        if not is_number(value)
    ]
    labels = schema.get("labels") or []
    if box[4] not in labels:
        issues.append(
            AnswerIssue(index, "label", f"box {index}: label {box[4]!r} is not one of {', '.join(map(str, labels))}")
        )
    if issues:
        return issues
    x, y, w, h = (float(v) for v in box[:4])
    for name, value in (("w", w), ("h", h)):
        if value <= 0:
            issues.append(AnswerIssue(index, name, f"box {index}: {name} must be > 0, got {value:g}"))
    if x < 0 or y < 0:
        issues.append(AnswerIssue(index, "x" if x < 0 else "y", f"box {index}: x and y must be >= 0"))
    if image_size is not None:
        width, height = image_size
        if x + w > width:
            issues.append(AnswerIssue(index, "w", f"box {index}: x + w = {x + w:g} exceeds the image width {width:g}"))
        if y + h > height:
            issues.append(
                AnswerIssue(index, "h", f"box {index}: y + h = {y + h:g} exceeds the image height {height:g}")
            )
    return issues

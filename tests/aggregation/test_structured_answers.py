"""Validation of bbox and spans answers and schemas (messages name the box or span), and gold grading."""

from __future__ import annotations

import math

import pytest

from marketplace.aggregation.bbox.answers import (
    Box,
    bbox_answer_issues,
    bbox_schema_issues,
    grade_bbox,
    parse_bbox_answer,
)
from marketplace.aggregation.spans.answers import (
    Span,
    grade_spans,
    parse_spans_answer,
    spans_answer_issues,
    spans_schema_issues,
)

BOXES = {"type": "bbox", "labels": ["car", "person"], "min_boxes": 1, "max_boxes": 3}
SPANS = {"type": "spans", "labels": ["PER", "LOC"], "max_spans": 3}


def test_a_valid_bbox_answer_has_no_issue_and_parses() -> None:
    answer = [[10, 20, 30, 40, "car"], [0, 0, 5.5, 5, "person"]]

    assert bbox_answer_issues(answer, BOXES, image_size=(640, 480)) == []
    assert parse_bbox_answer(answer)[1] == Box(0.0, 0.0, 5.5, 5.0, "person")


@pytest.mark.parametrize(
    ("box", "field", "words"),
    [
        ([10, 20, 30, 40], None, "expected [x, y, w, h, label]"),
        ([10, 20, 30, 40, "truck"], "label", "label 'truck' is not one of car, person"),
        ([10, "a", 30, 40, "car"], "y", "y must be a finite number"),
        ([10, 20, 0, 40, "car"], "w", "w must be > 0, got 0"),
        ([10, 20, 30, -1, "car"], "h", "h must be > 0, got -1"),
        ([-3, 20, 30, 40, "car"], "x", "x and y must be >= 0"),
        ([620, 20, 30, 40, "car"], "w", "x + w = 650 exceeds the image width 640"),
        ([10, 460, 30, 40, "car"], "h", "y + h = 500 exceeds the image height 480"),
        ([10, 20, True, 40, "car"], "w", "w must be a finite number"),
    ],
)
def test_a_bad_box_is_named_by_its_index_and_field(box: list, field: str | None, words: str) -> None:
    issues = bbox_answer_issues([[1, 1, 2, 2, "car"], box], BOXES, image_size=(640, 480))

    assert len(issues) == 1
    assert issues[0].position == 1
    assert issues[0].field == field
    assert issues[0].message == f"box 1: {words}"


def test_box_counts_and_answer_shape_are_checked() -> None:
    assert [str(i) for i in bbox_answer_issues([], BOXES)] == ["0 boxes given, at least 1 needed"]
    four = [[0, 0, 1, 1, "car"]] * 4
    assert [str(i) for i in bbox_answer_issues(four, BOXES)] == ["4 boxes given, at most 3 allowed"]
    assert bbox_answer_issues({"x": 1}, BOXES)[0].position is None


def test_bbox_schemas_are_checked() -> None:
    assert bbox_schema_issues(BOXES) == []
    assert [i.field for i in bbox_schema_issues({"labels": []})] == ["labels"]
    assert [i.field for i in bbox_schema_issues({"labels": ["a", "a"]})] == ["labels"]
    assert [i.field for i in bbox_schema_issues({"labels": ["a"], "min_boxes": 2, "max_boxes": 1})] == ["max_boxes"]
    assert [i.field for i in bbox_schema_issues({"labels": ["a"], "iou_threshold": 1.5})] == ["iou_threshold"]


def test_bbox_grading_matches_boxes_one_to_one_at_the_iou_threshold() -> None:
    gold = [Box(0, 0, 10, 10, "car"), Box(100, 100, 10, 10, "car"), Box(50, 50, 10, 10, "person")]
    answer = [
        Box(1, 0, 10, 10, "car"),  # IoU 90/110 with gold 0
        Box(0, 1, 10, 10, "car"),  # also overlaps gold 0, but gold 0 can match only once
        Box(50, 50, 10, 10, "car"),  # right place, wrong label
    ]

    grade = grade_bbox(answer, gold)

    assert grade.matches == ((0, 0),)
    assert grade.precision == pytest.approx(1 / 3)
    assert grade.recall == pytest.approx(1 / 3)
    assert grade.f1 == pytest.approx(1 / 3)
    assert grade.mean_iou == pytest.approx(90 / 110)


def test_bbox_grading_prefers_more_matches_over_one_better_match() -> None:
    gold = [Box(0, 0, 10, 10, "car"), Box(6, 0, 10, 10, "car")]
    answer = [Box(3, 0, 10, 10, "car")]  # IoU 70/130 with each: one match, either
    two = [Box(0, 0, 10, 10, "car"), Box(6, 0, 10, 10, "car")]

    assert len(grade_bbox(answer, gold).matches) == 1
    assert grade_bbox(two, gold).matches == ((0, 0), (1, 1))
    assert grade_bbox(two, gold).f1 == 1.0


def test_bbox_grading_of_empty_answers() -> None:
    assert grade_bbox([], []).f1 == 1.0
    missed = grade_bbox([], [Box(0, 0, 1, 1, "car")])
    assert (missed.precision, missed.recall, missed.f1) == (1.0, 0.0, 0.0)
    assert math.isnan(missed.mean_iou)


def test_a_valid_spans_answer_has_no_issue_and_parses() -> None:
    answer = [[0, 3, "PER"], [3, 5, "LOC"]]  # adjacent spans may touch

    assert spans_answer_issues(answer, SPANS, length=5) == []
    assert parse_spans_answer(answer) == [Span(0, 3, "PER"), Span(3, 5, "LOC")]


@pytest.mark.parametrize(
    ("span", "field", "words"),
    [
        ([4, 2, "PER"], "end", "end 2 must be greater than start 4"),
        ([4, 4, "PER"], "end", "end 4 must be greater than start 4"),
        ([4, 12, "PER"], "end", "end 12 is past the end of the text (10)"),
        ([-1, 2, "PER"], "start", "start must be an integer >= 0"),
        ([1.5, 2, "PER"], "start", "start must be an integer >= 0"),
        ([1, 2, "ORG"], "label", "label 'ORG' is not one of PER, LOC"),
        ([1, 2], None, "expected [start, end, label]"),
    ],
)
def test_a_bad_span_is_named_by_its_index_and_field(span: list, field: str | None, words: str) -> None:
    issues = spans_answer_issues([[8, 9, "LOC"], span], SPANS, length=10)

    assert len(issues) == 1
    assert (issues[0].position, issues[0].field, issues[0].message) == (1, field, f"span 1: {words}")


def test_overlapping_spans_are_refused_unless_the_schema_allows_them() -> None:
    nested = [[0, 10, "PER"], [2, 3, "LOC"], [5, 6, "LOC"]]

    issues = spans_answer_issues(nested, SPANS)

    assert [str(i) for i in issues] == ["span 1 overlaps span 0", "span 2 overlaps span 0"]
    assert spans_answer_issues(nested, {**SPANS, "allow_overlap": True}) == []


def test_spans_schemas_are_checked() -> None:
    assert spans_schema_issues(SPANS) == []
    assert [i.field for i in spans_schema_issues({"labels": ["A"], "allow_overlap": "yes"})] == ["allow_overlap"]
    assert [i.field for i in spans_schema_issues({"labels": ["A"], "min_spans": -1})] == ["min_spans"]


def test_span_grading_counts_exact_and_overlapping_matches() -> None:
    gold = [Span(0, 2, "PER"), Span(5, 8, "LOC"), Span(10, 12, "LOC")]
    answer = [Span(0, 2, "PER"), Span(5, 7, "LOC"), Span(10, 12, "PER"), Span(20, 21, "LOC")]

    grade = grade_spans(answer, gold)

    assert (grade.exact_precision, grade.exact_recall) == (pytest.approx(1 / 4), pytest.approx(1 / 3))
    assert grade.exact_f1 == pytest.approx(2 / 7)
    assert (grade.overlap_precision, grade.overlap_recall) == (pytest.approx(2 / 4), pytest.approx(2 / 3))
    assert grade_spans([], []).exact_f1 == 1.0
    too_many = [[i, i + 1, "PER"] for i in range(4)]
    assert [str(i) for i in spans_answer_issues(too_many, SPANS)] == ["4 spans given, at most 3 allowed"]

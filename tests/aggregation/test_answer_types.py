"""The answer-type registry: every type implements every piece; schemas, validation and grading per type."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from marketplace.aggregation.errors import (
    InvalidAnswerError,
    InvalidAnswersError,
    InvalidItemError,
    InvalidOptionError,
    InvalidSchemaError,
)
from marketplace.aggregation.types import ANSWER_TYPES, Consensus, answer_type
from marketplace.aggregation.types.base import AnswerType

# One valid answer per type, with its item where the type needs one, and a key it is graded against.
EXAMPLES: dict[str, dict[str, Any]] = {
    "single_choice": {"schema": {"choices": ["cat", "dog"]}, "answer": "cat", "key": "cat"},
    "multi_choice": {"schema": {"choices": ["a", "b", "c"]}, "answer": ["b", "a"], "key": ["a", "b"]},
    "text": {"schema": {}, "answer": "The cat sat.", "key": "the cat sat"},
    "number": {"schema": {"min": 1, "max": 5, "step": 1}, "answer": 4, "key": 4.0},
    "pairwise": {"schema": {}, "answer": "p1", "key": "p1", "item": {"left": "p1", "right": "p2"}},
    "bbox": {
        "schema": {"labels": ["car", "bus"]},
        "answer": [[10, 20, 30, 40, "car"]],
        "key": [[11, 21, 30, 40, "car"]],
        "item": {"photo": {"media": "a.png", "kind": "image", "width": 100, "height": 100}},
    },
    "spans": {
        "schema": {"text_field": "text", "labels": ["PER"]},
        "answer": [[0, 3, "PER"]],
        "key": [[0, 3, "PER"]],
        "item": {"text": "Ada wrote"},
    },
}
# What each type must write itself; the rest (keys, methods, the Consensus, JSON decoding) AnswerType shares.
OWN_PIECES = ("parse_schema", "clean", "grade", "fit")


def test_every_registered_type_implements_every_piece_and_has_an_example() -> None:
    assert set(ANSWER_TYPES) == set(EXAMPLES)
    for name, kind in ANSWER_TYPES.items():
        assert kind.name == name
        assert kind.methods, name
        assert isinstance(kind, AnswerType)
        for piece in OWN_PIECES:
            assert getattr(type(kind), piece) is not getattr(AnswerType, piece), f"{name} does not implement {piece}"


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_each_type_cleans_grades_and_aggregates_its_example(name: str) -> None:
    kind, example = answer_type(name), EXAMPLES[name]
    schema = kind.parse_schema(example["schema"])
    item = example.get("item")
    task = "p1|p2" if name == "pairwise" else "t1"

    answer = kind.clean(schema, example["answer"], item=item)
    grade = kind.grade(schema, answer, kind.clean(schema, example["key"], item=item))
    consensus = kind.aggregate(schema, [task, task], ["w1", "w2"], [answer, answer])

    assert grade.passed
    assert grade.score == 1.0
    assert isinstance(consensus, Consensus)
    assert consensus.tasks.tolist() == [task]
    assert len(consensus.answers) == 1
    assert consensus.workers.tolist() == ["w1", "w2"]
    assert 0.0 <= float(consensus.confidence[0]) <= 1.0
    for method in kind.methods:
        kind.aggregate(schema, [task], ["w1"], [answer], method=method)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_each_type_refuses_a_worker_answering_a_task_twice(name: str) -> None:
    kind, example = answer_type(name), EXAMPLES[name]
    schema = kind.parse_schema(example["schema"])
    answer = kind.clean(schema, example["answer"], item=example.get("item"))
    task = "p1|p2" if name == "pairwise" else "t1"

    with pytest.raises(InvalidAnswersError, match="twice"):
        kind.aggregate(schema, [task, task], ["w1", "w1"], [answer, answer])


def test_an_unknown_type_or_method_is_named() -> None:
    with pytest.raises(InvalidOptionError, match="unknown answer type 'polygon'"):
        answer_type("polygon")
    kind = answer_type("number")
    with pytest.raises(InvalidOptionError, match="unknown method 'ds'"):
        kind.aggregate(kind.parse_schema(None), ["t"], ["w"], [1.0], method="ds")


@pytest.mark.parametrize(
    ("name", "schema", "value", "message"),
    [
        ("single_choice", {"choices": ["a"]}, "b", "'b' is not one of the choices"),
        ("single_choice", None, 3, "expected one choice"),
        ("multi_choice", {"choices": ["a", "b"]}, ["a", "a"], "'a' is listed twice"),
        ("multi_choice", {"choices": ["a", "b"]}, ["z"], "'z' is not one of the choices"),
        ("multi_choice", {"min_count": 1}, [], "at least 1 choice"),
        ("multi_choice", {"max_count": 1}, ["a", "b"], "at most 1 choice"),
        ("multi_choice", None, "a", "expected a list"),
        ("text", None, 12, "expected a string"),
        ("text", {"min_length": 2}, " ?! ", "at least 2 character(s) once normalised, got 0"),
        ("text", {"max_length": 3}, "abcd", "at most 3 characters"),
        ("number", {"min": 1, "max": 5, "step": 1}, 2.5, "multiple of 1 from 1"),
        ("number", {"min": 1, "max": 5}, 7, "<= 5"),
        ("number", None, True, "finite number"),
        ("number", None, "3", "finite number"),
        ("pairwise", None, None, "ties are not allowed"),
        ("pairwise", {"allow_tie": True}, 5, '"tie" (null) for a tie, got 5'),
        ("pairwise", None, "p1", 'expected "left" or "right", got \'p1\''),
    ],
)
def test_a_wrong_shaped_answer_is_refused_with_what_was_expected(
    name: str, schema: Any, value: Any, message: str
) -> None:
    kind = answer_type(name)

    with pytest.raises(InvalidAnswerError, match=message.replace("(", r"\(").replace(")", r"\)")):
        kind.clean(kind.parse_schema(schema), value)


def test_a_pairwise_answer_must_name_a_side_of_its_item() -> None:
    kind = answer_type("pairwise")
    with pytest.raises(InvalidAnswerError, match="expected 'p1' or 'p2', got 'p3'"):
        kind.clean(kind.parse_schema(None), "p3", item={"left": "p1", "right": "p2"})
    with pytest.raises(InvalidAnswerError, match="two different ids"):
        kind.item_of_task("p1|p1")


@pytest.mark.parametrize(
    ("name", "schema", "message"),
    [
        ("single_choice", {"choices": []}, "non-empty list"),
        ("multi_choice", {"choices": ["a", "a"]}, "distinct"),
        ("multi_choice", {"min_count": 3, "max_count": 2}, "max_count must be >= min_count"),
        ("multi_choice", {"measure": "dice"}, "measure must be one of"),
        ("multi_choice", {"pass_threshold": 2}, "between 0 and 1"),
        ("text", {"normalize": ["stemming"]}, "normalize must be a list"),
        ("number", {"min": 5, "max": 1}, "max must be >= min"),
        ("number", {"step": 1}, "needs a min"),
        ("pairwise", {"allow_tie": "yes"}, "true or false"),
        ("pairwise", {"colour": 1}, "unknown schema field"),
        ("number", [1, 2], "JSON object"),
    ],
)
def test_a_malformed_schema_names_its_field(name: str, schema: Any, message: str) -> None:
    with pytest.raises(InvalidSchemaError, match=message):
        answer_type(name).parse_schema(schema)


@pytest.mark.parametrize(
    ("schema", "answer", "key", "score", "passed"),
    [
        ({}, ["a", "b"], ["a", "b", "c"], 2 / 3, True),
        ({"measure": "f1"}, ["a", "b"], ["a", "b", "c"], 0.8, True),
        ({"pass_threshold": 0.7}, ["a", "b"], ["a", "b", "c"], 2 / 3, False),
        ({}, [], [], 1.0, True),
        ({}, ["a"], [], 0.0, False),
    ],
)
def test_multi_choice_is_graded_by_set_agreement(
    schema: dict[str, Any], answer: list[str], key: list[str], score: float, passed: bool
) -> None:
    kind = answer_type("multi_choice")

    grade = kind.grade(kind.parse_schema(schema), answer, key)

    assert grade.score == pytest.approx(score)
    assert grade.passed is passed


def test_text_is_graded_by_word_or_character_error_rate_after_normalisation() -> None:
    kind = answer_type("text")
    default = kind.parse_schema(None)

    assert kind.grade(default, "The cat, sat!", "the cat sat").score == 1.0
    # One substitution in ten words: WER 0.1, exactly the default threshold.
    assert kind.grade(default, "a b c d e f g h i x", "a b c d e f g h i j").passed
    assert not kind.grade(default, "a b c d e f g h x x", "a b c d e f g h i j").passed
    assert kind.grade(default, "extra words here", "x").score == 0.0  # WER above 1 scores 0
    strict = kind.parse_schema({"normalize": [], "measure": "cer"})
    assert kind.grade(strict, "Cat", "cat").score == pytest.approx(2 / 3)


def test_numbers_pass_within_the_tolerance_half_a_step_by_default() -> None:
    kind = answer_type("number")

    assert kind.grade(kind.parse_schema({"min": 0, "step": 1}), 3.0, 3.4).passed
    assert not kind.grade(kind.parse_schema({"min": 0, "step": 1}), 3.0, 3.6).passed
    assert kind.grade(kind.parse_schema({"tolerance": 2}), 3.0, 5.0).passed
    assert not kind.grade(kind.parse_schema(None), 3.0, 3.01).passed


def test_pairwise_is_graded_by_agreement_with_the_known_order() -> None:
    kind = answer_type("pairwise")
    schema = kind.parse_schema({"allow_tie": True})

    assert kind.grade(schema, "p1", "p1").passed
    assert kind.grade(schema, "p2", "p1").score == 0.0
    assert kind.grade(schema, None, "p1").score == 0.5
    assert not kind.grade(schema, None, "p1").passed
    assert kind.grade(schema, "tie", "tie").passed
    assert kind.grade(schema, "tie", "left").score == 0.5


def test_a_pairwise_answer_is_canonically_the_winning_side_and_a_tie_is_explicit() -> None:
    kind = answer_type("pairwise")
    item = {"left": "p1", "right": "p2"}
    tied = kind.parse_schema({"allow_tie": True})

    assert kind.clean(tied, "p2", item=item) == "right"  # the winner's id, where the item is known
    assert kind.clean(tied, "left", item=item) == "left"
    assert kind.clean(tied, "left") == "left"
    assert kind.clean(tied, "tie") == "tie"
    assert kind.clean(tied, None, item=item) == "tie"  # the command line's null
    assert kind.clean(tied, "right", item={"left": "right", "right": "x"}) == "left"  # an id wins over a side
    assert kind.decode("left") == "left"  # a plain CSV cell
    assert kind.decode('"tie"') == "tie"
    with pytest.raises(InvalidAnswerError, match="ties are not allowed"):
        kind.clean(kind.parse_schema(None), "tie")


@pytest.mark.parametrize(
    ("payload", "field"),
    [({"right": "b"}, "left"), ({"left": "a", "right": ""}, "right"), ({"left": 3, "right": "3"}, "right")],
)
def test_a_pairwise_item_must_name_two_different_sides(payload: dict[str, Any], field: str) -> None:
    kind = answer_type("pairwise")
    with pytest.raises(InvalidItemError) as raised:
        kind.check_item(kind.parse_schema(None), payload)
    assert raised.value.field == field
    kind.check_item(kind.parse_schema(None), {"left": "a", "right": 7})


def test_multi_choice_answers_are_written_in_the_choices_order() -> None:
    kind = answer_type("multi_choice")
    assert kind.clean(kind.parse_schema({"choices": ["c", "b", "a"]}), ["a", "c"]) == ["c", "a"]
    assert kind.clean(kind.parse_schema(None), ["b", "a"]) == ["a", "b"]


def test_pairwise_aggregation_scores_every_item_and_picks_each_tasks_winner() -> None:
    kind = answer_type("pairwise")
    tasks = ["a|b", "a|b", "b|c", "b|c", "a|c"]
    answers = ["a", "a", "b", "b", "a"]

    consensus = kind.aggregate(kind.parse_schema(None), tasks, ["w1", "w2", "w1", "w2", "w1"], answers)

    assert consensus.items is not None and consensus.item_scores is not None
    assert consensus.items.tolist() == ["a", "b", "c"]
    assert list(np.argsort(-consensus.item_scores)) == [0, 1, 2]
    assert consensus.answers == ["left", "left", "left"]  # the winning side of a|b, b|c, a|c
    assert consensus.rows()[0] == ["item", "score"]

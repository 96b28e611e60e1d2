"""Input validation and the string-key encoding the CLI (and any caller with raw keys) relies on."""

from __future__ import annotations

import numpy as np
import pytest

from marketplace.aggregation import Answers, InvalidAnswersError, encode_answers, encode_keys


def _answers(**overrides: object) -> Answers:
    fields: dict[str, object] = {
        "tasks": np.array([0, 1]),
        "workers": np.array([0, 0]),
        "labels": np.array([1, 0]),
        "n_tasks": 2,
        "n_workers": 1,
        "n_classes": 2,
    }
    fields.update(overrides)
    return Answers(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"tasks": np.array([0, 2])}, "tasks must lie in"),
        ({"labels": np.array([-1, 0])}, "labels must lie in"),
        ({"workers": np.array([0])}, "same length"),
        ({"labels": np.array([0.0, 1.0])}, "integer codes"),
        ({"tasks": np.array([[0, 1]])}, "1-D"),
        ({"n_classes": 0}, "n_classes >= 1"),
    ],
)
def test_malformed_answers_are_refused_with_a_reason(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidAnswersError, match=message):
        _answers(**overrides)


def test_int32_codes_are_kept_without_a_copy() -> None:
    tasks = np.array([0, 1], dtype=np.int32)

    assert _answers(tasks=tasks).tasks is tasks


def test_tasks_and_workers_are_numbered_by_first_appearance_and_classes_sorted() -> None:
    answers, codebook = encode_answers(["t9", "t2", "t9"], ["bob", "amy", "amy"], ["yes", "no", "yes"])

    assert codebook.tasks.tolist() == ["t9", "t2"]
    assert codebook.workers.tolist() == ["bob", "amy"]
    assert codebook.classes.tolist() == ["no", "yes"]
    np.testing.assert_array_equal(answers.tasks, [0, 1, 0])
    np.testing.assert_array_equal(answers.workers, [0, 1, 1])
    np.testing.assert_array_equal(answers.labels, [1, 0, 1])
    assert (answers.n_tasks, answers.n_workers, answers.n_classes) == (2, 2, 2)


def test_explicit_classes_may_include_one_nobody_picked() -> None:
    answers, codebook = encode_answers(["a", "b"], ["w", "w"], ["cat", "cat"], classes=["cat", "dog", "fox"])

    assert answers.n_classes == 3
    assert codebook.classes.tolist() == ["cat", "dog", "fox"]


def test_a_label_outside_the_explicit_classes_is_named() -> None:
    with pytest.raises(InvalidAnswersError, match="unknown label 'emu'"):
        encode_answers(["a", "b"], ["w", "w"], ["cat", "emu"], classes=["cat", "dog"])


def test_encode_keys_maps_keys_to_their_codes() -> None:
    np.testing.assert_array_equal(encode_keys(["c", "a", "c"], ["c", "b", "a"]), [0, 2, 0])

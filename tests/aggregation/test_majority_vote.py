"""Majority vote: the baseline, with deterministic ties."""

from __future__ import annotations

import numpy as np

from marketplace.aggregation import Answers, majority_vote


def _answers(rows: list[tuple[int, int, int]], n_tasks: int, n_workers: int, n_classes: int) -> Answers:
    tasks, workers, labels = (np.array(column, dtype=np.int64) for column in zip(*rows, strict=True))
    return Answers(
        tasks=tasks, workers=workers, labels=labels, n_tasks=n_tasks, n_workers=n_workers, n_classes=n_classes
    )


ROWS = [
    # task 0: 2 votes for label 2, 1 for label 0
    (0, 0, 2), (0, 1, 2), (0, 2, 0),
    # task 1: a tie between labels 1 and 2
    (1, 0, 2), (1, 1, 1),
    # task 2: a three-way tie
    (2, 0, 2), (2, 1, 1), (2, 2, 0),
]  # fmt: skip


def test_it_returns_vote_shares_label_and_confidence() -> None:
    result = majority_vote(_answers(ROWS, n_tasks=4, n_workers=3, n_classes=3))

    np.testing.assert_allclose(result.posteriors[0], [1 / 3, 0, 2 / 3])
    assert result.labels[0] == 2
    assert result.confidence[0] == 2 / 3
    np.testing.assert_array_equal(result.answer_counts, [3, 2, 3, 0])


def test_ties_go_to_the_lowest_label_index_whatever_the_answer_order() -> None:
    forward = majority_vote(_answers(ROWS, n_tasks=4, n_workers=3, n_classes=3))
    backward = majority_vote(_answers(ROWS[::-1], n_tasks=4, n_workers=3, n_classes=3))

    np.testing.assert_array_equal(forward.labels[1:3], [1, 0])
    np.testing.assert_array_equal(forward.labels, backward.labels)
    assert forward.confidence[1] == 0.5


def test_a_task_without_answers_gets_uniform_shares() -> None:
    result = majority_vote(_answers(ROWS, n_tasks=4, n_workers=3, n_classes=3))

    np.testing.assert_allclose(result.posteriors[3], [1 / 3] * 3)
    assert result.labels[3] == 0


def test_excluded_workers_are_not_counted() -> None:
    result = majority_vote(_answers(ROWS, n_tasks=4, n_workers=3, n_classes=3), exclude_workers=[1])

    np.testing.assert_allclose(result.posteriors[0], [0.5, 0, 0.5])
    assert result.labels[1] == 2  # worker 1's vote for label 1 no longer ties it
    np.testing.assert_array_equal(result.answer_counts, [2, 1, 2, 0])


def test_gold_tasks_report_their_gold_label() -> None:
    result = majority_vote(_answers(ROWS, n_tasks=4, n_workers=3, n_classes=3), gold={0: 0})

    assert result.labels[0] == 0
    assert result.confidence[0] == 1.0

"""Multi-label answers: per-class Dawid-Skene with shared worker quality, on small seeded crowds."""

from __future__ import annotations

import numpy as np
import pytest

from marketplace.aggregation.binary_relevance import (
    MultiLabelAnswers,
    constrained_labels,
    multi_label_ds,
    per_class_majority,
)
from marketplace.aggregation.errors import InvalidAnswersError, InvalidGoldError


def _answers(rows: list[tuple[int, int, list[int]]], n_classes: int) -> MultiLabelAnswers:
    tasks, workers, sets = zip(*rows, strict=True)
    lengths = [len(s) for s in sets]
    return MultiLabelAnswers(
        tasks=np.array(tasks),
        workers=np.array(workers),
        n_tasks=max(tasks) + 1,
        n_workers=max(workers) + 1,
        choice_answers=np.repeat(np.arange(len(sets)), lengths),
        choice_classes=np.array([c for s in sets for c in s], dtype=np.int64),
        n_classes=n_classes,
    )


def _crowd(truth: np.ndarray, workers: list[tuple[float, float]], seed: int) -> MultiLabelAnswers:
    """Every worker answers every task; worker w ticks an applying class with probability sensitivity and a
    non-applying one with probability 1 - specificity."""
    rng = np.random.default_rng(seed)
    rows = []
    for w, (sensitivity, specificity) in enumerate(workers):
        draw = rng.random(truth.shape)
        ticked = np.where(truth, draw < sensitivity, draw > specificity)
        rows += [(t, w, list(np.flatnonzero(ticked[t]))) for t in range(len(truth))]
    return _answers(rows, truth.shape[1])


def _truth(n_tasks: int, n_classes: int, rate: float, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random((n_tasks, n_classes)) < rate


def test_it_sees_through_workers_who_tick_everything_where_per_class_majority_is_fooled() -> None:
    truth = _truth(300, 4, 0.3, seed=1)
    # Two careful workers and three who tick nearly every class.
    answers = _crowd(truth, [(0.9, 0.95)] * 2 + [(0.95, 0.2)] * 3, seed=2)

    ours = multi_label_ds(answers)
    vote = per_class_majority(answers)

    assert ours.converged
    assert (ours.labels == truth).mean() >= 0.93
    assert (vote.labels == truth).mean() < 0.8
    assert ours.specificity[2:].mean() < 0.35  # the tickers are found out
    assert ours.specificity[:2].mean() > 0.9
    assert (ours.worker_accuracy[:2] > ours.worker_accuracy[2:, None]).all()


def test_a_hand_checked_job_takes_the_majority_set_with_its_probability() -> None:
    # Task 0: {0, 1} by two of three workers, {0} by the third; task 1: {2} by everyone.
    answers = _answers([(0, 0, [0, 1]), (0, 1, [0, 1]), (0, 2, [0]), (1, 0, [2]), (1, 1, [2]), (1, 2, [2])], 3)

    result = multi_label_ds(answers)
    vote = per_class_majority(answers)

    assert result.labels.tolist() == [[True, True, False], [False, False, True]]
    assert vote.labels.tolist() == result.labels.tolist()
    np.testing.assert_allclose(vote.posteriors[0], [1.0, 2 / 3, 0.0])
    # Confidence is the probability of the whole set: the product of the chosen side of each class.
    right = np.where(result.labels, result.posteriors, 1 - result.posteriors)
    np.testing.assert_allclose(result.confidence, right.prod(axis=1))


def test_a_worker_with_few_answers_on_a_class_is_judged_by_its_other_classes() -> None:
    truth = _truth(400, 5, 0.3, seed=3)
    answers = _crowd(truth, [(0.9, 0.9)] * 3 + [(0.55, 0.55)] * 2, seed=4)

    result = multi_label_ds(answers)

    # The shared prior puts each worker's per-class estimates near its own overall level.
    assert result.sensitivity[:3].min() > 0.75
    assert result.sensitivity[3:].max() < 0.75
    assert (result.labels == truth).mean() > 0.9


def test_gold_tasks_are_clamped_and_excluded_workers_do_not_count() -> None:
    answers = _answers([(0, 0, [0]), (0, 1, [0]), (1, 0, [1]), (1, 1, [1]), (1, 2, [0])], 2)

    result = multi_label_ds(answers, gold={0: [1]}, exclude_workers=[0])

    assert result.labels[0].tolist() == [False, True]
    assert result.posteriors[0].tolist() == [0.0, 1.0]
    assert result.worker_answer_counts.tolist() == [0, 2, 1]
    assert result.answer_counts.tolist() == [1, 2]


def test_the_set_respects_the_schema_counts() -> None:
    posteriors = np.array([[0.9, 0.8, 0.7, 0.1], [0.2, 0.3, 0.1, 0.4], [0.6, 0.6, 0.2, 0.1]])

    labels, confidence = constrained_labels(posteriors, min_count=1, max_count=2)

    assert labels.tolist() == [[True, True, False, False], [False, False, False, True], [True, True, False, False]]
    np.testing.assert_allclose(confidence[1], 0.8 * 0.7 * 0.9 * 0.4)


def test_a_worker_answering_a_task_twice_is_refused() -> None:
    with pytest.raises(InvalidAnswersError, match="worker 0 answered task 0 twice"):
        _answers([(0, 0, [0]), (0, 1, [1]), (0, 0, [1])], 2)


def test_malformed_inputs_are_refused() -> None:
    with pytest.raises(InvalidAnswersError, match="ticks the same class twice"):
        MultiLabelAnswers(
            tasks=[0], workers=[0], n_tasks=1, n_workers=1, choice_answers=[0, 0], choice_classes=[1, 1], n_classes=2
        )
    with pytest.raises(InvalidAnswersError, match="choice_classes"):
        MultiLabelAnswers(
            tasks=[0], workers=[0], n_tasks=1, n_workers=1, choice_answers=[0], choice_classes=[2], n_classes=2
        )
    answers = _answers([(0, 0, [0])], 2)
    with pytest.raises(InvalidGoldError):
        multi_label_ds(answers, gold={0: [5]})

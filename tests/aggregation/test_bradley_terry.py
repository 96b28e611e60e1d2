"""Pairwise comparisons: Bradley-Terry scores with a reliability per worker (CrowdBT), on seeded crowds."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr

from marketplace.aggregation.bradley_terry import LEFT, RIGHT, TIE, PairwiseAnswers, bradley_terry, crowd_bradley_terry
from marketplace.aggregation.errors import InvalidAnswersError


def _crowd(scores: np.ndarray, reliabilities: list[float], pairs_per_worker: int, seed: int) -> PairwiseAnswers:
    """Each worker compares random pairs, reporting the Bradley-Terry draw with probability eta, else its reverse."""
    rng = np.random.default_rng(seed)
    n_items = len(scores)
    pairs = {}
    tasks, workers, outcomes = [], [], []
    for w, eta in enumerate(reliabilities):
        chosen = set()
        while len(chosen) < pairs_per_worker:
            left, right = rng.choice(n_items, 2, replace=False)
            chosen.add((int(left), int(right)))
        for left, right in sorted(chosen):
            task = pairs.setdefault((left, right), len(pairs))
            left_first = rng.random() < 1 / (1 + np.exp(scores[right] - scores[left]))
            honest = rng.random() < eta
            tasks.append(task)
            workers.append(w)
            outcomes.append(LEFT if left_first == honest else RIGHT)
    order = sorted(pairs, key=pairs.__getitem__)
    return PairwiseAnswers(
        tasks=np.array(tasks),
        workers=np.array(workers),
        n_tasks=len(pairs),
        n_workers=len(reliabilities),
        task_left=np.array([p[0] for p in order]),
        task_right=np.array([p[1] for p in order]),
        outcomes=np.array(outcomes),
        n_items=n_items,
    )


def test_it_ranks_items_through_an_adversarial_worker_that_fools_plain_bradley_terry() -> None:
    scores = np.linspace(-2, 2, 30)
    # Three honest workers and two who mostly report the reverse order.
    answers = _crowd(scores, [0.95, 0.95, 0.95, 0.1, 0.1], pairs_per_worker=150, seed=1)

    ours = crowd_bradley_terry(answers)
    plain = bradley_terry(answers)

    assert ours.converged
    assert spearmanr(ours.scores, scores).statistic > 0.95
    assert spearmanr(plain.scores, scores).statistic < spearmanr(ours.scores, scores).statistic - 0.1
    assert ours.worker_reliability[:3].min() > 0.8
    assert ours.worker_reliability[3:].max() < 0.3


def test_a_hand_checked_chain_of_wins_orders_the_items() -> None:
    # a > b (2 of 2 workers), b > c (2 of 2), a > c (1 of 1).
    answers = PairwiseAnswers(
        tasks=[0, 0, 1, 1, 2],
        workers=[0, 1, 0, 1, 0],
        n_tasks=3,
        n_workers=2,
        task_left=[0, 1, 0],
        task_right=[1, 2, 2],
        outcomes=[LEFT, LEFT, LEFT, LEFT, LEFT],
        n_items=3,
    )

    result = crowd_bradley_terry(answers)

    assert result.scores[0] > result.scores[1] > result.scores[2]
    assert result.scores.sum() == pytest.approx(0.0, abs=1e-9)
    assert result.winners.tolist() == [LEFT, LEFT, LEFT]
    assert result.confidence[2] > result.confidence[0]  # a vs c: the widest gap
    assert (result.score_std > 0).all()


def test_gold_pairs_fix_the_order_and_grade_the_workers() -> None:
    # Worker 0 says left on both tasks, worker 1 right; task 0's known order is right first.
    answers = PairwiseAnswers(
        tasks=[0, 0, 1, 1],
        workers=[0, 1, 0, 1],
        n_tasks=2,
        n_workers=2,
        task_left=[0, 2],
        task_right=[1, 3],
        outcomes=[LEFT, RIGHT, LEFT, RIGHT],
        n_items=4,
    )

    result = crowd_bradley_terry(answers, gold={0: RIGHT})

    assert result.winners[0] == RIGHT
    assert result.worker_reliability[1] > result.worker_reliability[0]
    assert result.winners[1] == RIGHT  # the reliable worker decides the undecided task


def test_ties_pull_the_two_items_together_and_excluded_workers_do_not_count() -> None:
    answers = PairwiseAnswers(
        tasks=[0, 0, 0],
        workers=[0, 1, 2],
        n_tasks=1,
        n_workers=3,
        task_left=[0],
        task_right=[1],
        outcomes=[TIE, TIE, LEFT],
        n_items=2,
    )

    tied = crowd_bradley_terry(answers)
    without_ties = crowd_bradley_terry(answers, exclude_workers=[0, 1])

    assert 0 < tied.scores[0] - tied.scores[1] < without_ties.scores[0] - without_ties.scores[1]
    assert without_ties.answer_counts.tolist() == [1]


def test_malformed_pairwise_inputs_are_refused() -> None:
    common = {"tasks": [0], "workers": [0], "n_tasks": 1, "n_workers": 1, "n_items": 2}
    with pytest.raises(InvalidAnswersError, match="itself"):
        PairwiseAnswers(**common, task_left=[0], task_right=[0], outcomes=[LEFT])
    with pytest.raises(InvalidAnswersError, match="outcomes"):
        PairwiseAnswers(**common, task_left=[0], task_right=[1], outcomes=[2])

"""Gold labels, excluded workers and warm starts."""

from __future__ import annotations

import numpy as np
import pytest

from marketplace.aggregation import (
    Answers,
    DirichletPrior,
    InvalidAnswersError,
    InvalidGoldError,
    InvalidOptionError,
    dawid_skene,
)
from tests.aggregation.simulate import crowd, noisy, random_truth, spammer, swapper


def test_gold_unmasks_a_majority_that_is_consistently_wrong() -> None:
    # Two workers who swap classes 0 and 1 outvote one honest worker: without gold, the swap looks like the
    # truth to DS as much as to majority vote. Gold on one task in ten tells them apart.
    truth = random_truth(300, 3, seed=5)
    answers = crowd([swapper(3, 0, 1), swapper(3, 0, 1), noisy(3, 0.9)], truth, seed=6)
    gold_tasks = np.arange(0, 300, 10)
    others = np.setdiff1d(np.arange(300), gold_tasks)

    without = dawid_skene(answers)
    with_gold = dawid_skene(answers, gold=(gold_tasks, truth[gold_tasks]))

    assert (without.labels[others] == truth[others]).mean() < 0.5
    assert (with_gold.labels[others] == truth[others]).mean() == 1.0
    assert with_gold.confusions[0, 0, 1] > 0.9
    assert with_gold.worker_accuracy[2] > with_gold.worker_accuracy[0]
    assert (np.diff(with_gold.history) >= -1e-9 * abs(with_gold.objective)).all()  # still a monotone EM


def test_gold_tasks_are_clamped_to_their_label_even_against_every_answer() -> None:
    truth = random_truth(100, 2, seed=1)
    answers = crowd([noisy(2, 0.9)] * 3, truth, seed=2)
    on_task_0 = answers.labels[answers.tasks == 0]
    assert (on_task_0 == on_task_0[0]).all()
    unanimous = int(on_task_0[0])

    result = dawid_skene(answers, gold={0: 1 - unanimous})

    assert result.labels[0] == 1 - unanimous
    assert result.confidence[0] == 1.0
    np.testing.assert_array_equal(result.posteriors[0], np.eye(2)[1 - unanimous])


def test_gold_as_a_mapping_or_as_arrays_is_the_same() -> None:
    truth = random_truth(80, 3, seed=3)
    answers = crowd([noisy(3, 0.7)] * 4, truth, seed=4)
    tasks = np.array([3, 10, 42])

    as_arrays = dawid_skene(answers, gold=(tasks, truth[tasks]))
    as_mapping = dawid_skene(answers, gold={int(t): int(truth[t]) for t in tasks})

    np.testing.assert_array_equal(as_arrays.posteriors, as_mapping.posteriors)


def test_gold_on_a_task_nobody_answered_still_counts_for_the_priors() -> None:
    truth = random_truth(220, 2, seed=5)
    truth[200:] = 1
    answers = crowd([noisy(2, 0.85)] * 4, truth, seed=6, who=[np.arange(200)] * 4)

    result = dawid_skene(answers, gold=dict.fromkeys(range(200, 220), 1))

    assert (result.labels[200:] == 1).all()
    # 20 more tasks of class 1 out of 220: the prior of class 1 moves up by about 20 / 220.
    assert result.priors[1] > dawid_skene(answers).priors[1] + 0.05


@pytest.mark.parametrize(
    ("gold", "message"),
    [
        ((np.array([1, 1]), np.array([0, 1])), "more than one label"),
        ({5: 0}, "gold tasks"),
        ({1: 7}, "gold labels"),
        ((np.array([1, 2]), np.array([0])), "same length"),
    ],
)
def test_malformed_gold_is_refused(gold: object, message: str) -> None:
    answers = crowd([noisy(2, 0.8)], random_truth(5, 2, seed=0), seed=0)

    with pytest.raises(InvalidGoldError, match=message):
        dawid_skene(answers, gold=gold)  # type: ignore[arg-type]


def test_excluded_workers_are_ignored_as_if_their_answers_were_never_given() -> None:
    truth = random_truth(200, 3, seed=7)
    answers = crowd([noisy(3, 0.8), noisy(3, 0.7), spammer(3), swapper(3), noisy(3, 0.6)], truth, seed=8)
    blocked = [2, 3]

    excluded = dawid_skene(answers, exclude_workers=blocked)
    removed = dawid_skene(answers.subset(~np.isin(answers.workers, blocked)))

    np.testing.assert_allclose(excluded.posteriors, removed.posteriors)
    np.testing.assert_array_equal(excluded.worker_answer_counts[blocked], [0, 0])
    # A worker with no answer left keeps the prior's mean: 80% on the diagonal, the rest spread evenly.
    prior_mean = DirichletPrior().confusion_pseudo_counts(3) / DirichletPrior().strength
    np.testing.assert_allclose(excluded.confusions[2], prior_mean)


def test_excluding_an_unknown_worker_is_refused() -> None:
    answers = crowd([noisy(2, 0.8)] * 2, random_truth(5, 2, seed=0), seed=0)

    with pytest.raises(InvalidAnswersError):
        dawid_skene(answers, exclude_workers=[2])


def _growing_job() -> tuple[Answers, Answers]:
    """A crowd job before and after 10% more answers arrived (some on tasks that had none)."""
    rng = np.random.default_rng(2)
    truth = random_truth(2000, 3, seed=2)
    who = [np.sort(rng.choice(2000, 300, replace=False)) for _ in range(30)]
    full = crowd([noisy(3, p) for p in rng.uniform(0.5, 0.9, 30)], truth, seed=2, who=who)
    earlier = full.subset(rng.random(full.n_answers) < 0.9)
    return earlier, full


def test_a_warm_start_reaches_the_same_labels_in_fewer_iterations() -> None:
    earlier, full = _growing_job()
    previous = dawid_skene(earlier)
    init = previous.posteriors.copy()
    init[previous.answer_counts == 0] = np.nan  # new tasks start from majority vote

    cold = dawid_skene(full)
    warm = dawid_skene(full, init_posteriors=init)

    assert warm.converged
    assert warm.iterations < cold.iterations
    answered = cold.answer_counts > 0
    np.testing.assert_array_equal(warm.labels[answered], cold.labels[answered])
    np.testing.assert_allclose(warm.posteriors, cold.posteriors, atol=0.05)


def test_restarting_from_converged_posteriors_stops_at_once() -> None:
    _, full = _growing_job()
    cold = dawid_skene(full)

    again = dawid_skene(full, init_posteriors=cold.posteriors)

    assert again.iterations == 2
    answered = cold.answer_counts > 0  # an unanswered task's label is the argmax of near-equal priors
    np.testing.assert_array_equal(again.labels[answered], cold.labels[answered])


@pytest.mark.parametrize("bad", [np.ones((4, 2)), -np.ones((5, 2)), np.zeros((5, 2))])
def test_malformed_initial_posteriors_are_refused(bad: np.ndarray) -> None:
    answers = crowd([noisy(2, 0.8)], random_truth(5, 2, seed=0), seed=0)

    with pytest.raises(InvalidOptionError):
        dawid_skene(answers, init_posteriors=bad)

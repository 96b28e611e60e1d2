"""Dawid-Skene on small seeded crowds whose right answer is known by construction."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from marketplace.aggregation import (
    Answers,
    DirichletPrior,
    InvalidOptionError,
    class_one_coin_dawid_skene,
    dawid_skene,
    majority_vote,
    one_coin_dawid_skene,
)
from tests.aggregation.simulate import crowd, noisy, perfect, random_truth, spammer, swapper, thin_crowd


def _accuracy(labels: np.ndarray, truth: np.ndarray) -> float:
    return float((labels == truth).mean())


def test_it_trusts_a_perfect_worker_and_sees_through_spammers() -> None:
    truth = random_truth(300, 2, seed=0)
    answers = crowd([perfect(2)] + [noisy(2, 0.7)] * 4 + [spammer(2)] * 2, truth, seed=10)

    result = dawid_skene(answers)

    assert result.converged
    assert _accuracy(result.labels, truth) >= 0.99
    assert _accuracy(majority_vote(answers).labels, truth) < 0.9
    assert result.worker_accuracy.argmax() == 0
    assert result.worker_accuracy[0] > 0.93
    spammers = result.confusions[5:]
    # A spammer's answer does not depend on the truth: both rows of its confusion matrix look alike.
    assert np.abs(spammers[:, 0, :] - spammers[:, 1, :]).max() < 0.2
    np.testing.assert_allclose(result.worker_accuracy[5:], 0.5, atol=0.1)


def test_a_worker_who_swaps_two_classes_is_decoded_by_ds_and_not_by_majority_vote() -> None:
    truth = random_truth(300, 3, seed=3)
    honest_tasks = np.arange(240)
    # Tasks 240..299 were answered by the swapper alone: only its decoded confusion matrix can label them.
    answers = crowd([noisy(3, 0.85)] * 4 + [swapper(3, 0, 1)], truth, seed=4, who=[honest_tasks] * 4 + [np.arange(300)])

    result = dawid_skene(answers)
    vote = majority_vote(answers)

    swapper_only = slice(240, 300)
    assert _accuracy(result.labels[swapper_only], truth[swapper_only]) == 1.0
    assert _accuracy(vote.labels[swapper_only], truth[swapper_only]) < 0.5
    assert result.confusions[4, 0, 1] > 0.9
    assert result.confusions[4, 1, 0] > 0.9
    assert result.confusions[4, 2, 2] > 0.9


def test_a_class_nobody_answered_gives_finite_probabilities() -> None:
    truth = random_truth(100, 3, seed=5)
    three_classes = crowd([noisy(3, 0.8)] * 3, truth, seed=6)
    answers = Answers(
        tasks=three_classes.tasks,
        workers=three_classes.workers,
        labels=three_classes.labels,
        n_tasks=100,
        n_workers=3,
        n_classes=4,
    )

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a log(0) or 0/0 would warn
        result = dawid_skene(answers)

    for array in (result.posteriors, result.confusions, result.priors, result.worker_accuracy):
        assert np.isfinite(array).all()
    assert 0 < result.priors[3] < 0.02
    np.testing.assert_allclose(result.confusions.sum(axis=2), 1.0)
    np.testing.assert_allclose(result.posteriors.sum(axis=1), 1.0)
    assert np.isfinite(result.log_likelihood)
    assert not (result.labels == 3).any()


def test_a_single_worker_is_followed() -> None:
    truth = random_truth(50, 3, seed=7)
    answers = crowd([noisy(3, 0.7)], truth, seed=8)

    result = dawid_skene(answers)

    assert result.converged
    np.testing.assert_array_equal(result.labels, answers.labels)
    assert np.isfinite(result.confusions).all()


def test_a_task_without_answers_gets_the_class_priors() -> None:
    truth = random_truth(60, 2, seed=9)
    answers = crowd([noisy(2, 0.8)] * 3, truth, seed=10, who=[np.arange(59)] * 3)

    result = dawid_skene(answers)

    assert result.answer_counts[59] == 0
    np.testing.assert_allclose(result.posteriors[59], result.priors)


@pytest.mark.parametrize("n_classes", [2, 3, 5])
def test_many_workers_with_two_answers_each_do_not_make_ds_lose_to_majority_vote(n_classes: int) -> None:
    answers, truth = thin_crowd(n_tasks=2000, per_task=5, n_workers=5000, n_classes=n_classes, seed=0)
    vote = _accuracy(majority_vote(answers).labels, truth)

    leaning = dawid_skene(answers)
    uniform = dawid_skene(answers, prior=DirichletPrior(accuracy=1 / n_classes, strength=n_classes))

    assert _accuracy(leaning.labels, truth) >= vote - 0.005
    # Laplace smoothing (one pseudo-count per cell) falls into a degenerate optimum here: the reason for
    # a prior that leans toward the diagonal.
    assert _accuracy(uniform.labels, truth) < vote - 0.1


def test_em_never_decreases_the_penalised_log_likelihood() -> None:
    truth = random_truth(400, 4, seed=11)
    answers = crowd([noisy(4, p) for p in (0.5, 0.6, 0.7, 0.8, 0.9)] + [spammer(4)], truth, seed=12)

    result = dawid_skene(answers, tol=0, max_iter=30)

    assert result.iterations == 30
    assert not result.converged
    steps = np.diff(result.history)
    assert (steps >= -1e-9 * abs(result.objective)).all()


def test_the_answer_order_does_not_matter() -> None:
    truth = random_truth(200, 3, seed=13)
    answers = crowd([noisy(3, p) for p in (0.6, 0.7, 0.8, 0.9)], truth, seed=14)
    order = np.random.default_rng(15).permutation(answers.n_answers)
    shuffled = Answers(
        tasks=answers.tasks[order],
        workers=answers.workers[order],
        labels=answers.labels[order],
        n_tasks=answers.n_tasks,
        n_workers=answers.n_workers,
        n_classes=answers.n_classes,
    )

    np.testing.assert_allclose(dawid_skene(answers).posteriors, dawid_skene(shuffled).posteriors, atol=1e-9)


def test_one_coin_ds_fits_one_accuracy_per_worker() -> None:
    truth = random_truth(500, 4, seed=16)
    skills = (0.45, 0.6, 0.75, 0.9)
    answers = crowd([noisy(4, p) for p in skills], truth, seed=17)

    result = one_coin_dawid_skene(answers)

    assert result.converged
    np.testing.assert_allclose(result.worker_accuracy, skills, atol=0.06)
    off_diagonal = result.confusions[:, ~np.eye(4, dtype=bool)]
    np.testing.assert_allclose(off_diagonal, off_diagonal[:, :1].repeat(12, axis=1))
    assert _accuracy(result.labels, truth) > _accuracy(majority_vote(answers).labels, truth)
    assert (np.diff(result.history) >= -1e-9 * abs(result.objective)).all()


def test_class_one_coin_fits_an_accuracy_per_worker_and_true_class() -> None:
    truth = random_truth(2000, 3, seed=18)
    recall = np.array([[0.9, 0.5, 0.8], [0.6, 0.9, 0.9], [0.85, 0.85, 0.4], [0.7, 0.7, 0.7]])
    workers = [(1 - r)[:, None] / 2 + np.eye(3) * (r - (1 - r) / 2)[:, None] for r in recall]
    answers = crowd(workers, truth, seed=19)

    result = class_one_coin_dawid_skene(answers)

    assert result.converged
    np.testing.assert_allclose(np.diagonal(result.confusions, axis1=1, axis2=2), recall, atol=0.06)
    off = result.confusions[:, ~np.eye(3, dtype=bool)].reshape(4, 3, 2)
    np.testing.assert_allclose(off[:, :, 0], off[:, :, 1])  # a row's misses spread evenly
    assert (np.diff(result.history) >= -1e-9 * abs(result.objective)).all()
    two = crowd([noisy(2, 0.8), noisy(2, 0.7), noisy(2, 0.6)], random_truth(300, 2, seed=20), seed=21)
    np.testing.assert_allclose(class_one_coin_dawid_skene(two).posteriors, dawid_skene(two).posteriors, atol=1e-9)


def test_an_empty_job_gives_empty_results() -> None:
    empty = np.zeros(0, dtype=np.int64)
    answers = Answers(tasks=empty, workers=empty, labels=empty, n_tasks=0, n_workers=0, n_classes=2)

    result = dawid_skene(answers)

    assert result.posteriors.shape == (0, 2)
    assert result.confusions.shape == (0, 2, 2)
    assert result.log_likelihood == 0.0


@pytest.mark.parametrize(
    "options",
    [{"max_iter": 0}, {"tol": -1.0}, {"tol": float("nan")}],
)
def test_it_rejects_options_out_of_range(options: dict[str, float]) -> None:
    answers = crowd([noisy(2, 0.8)], random_truth(5, 2, seed=0), seed=0)

    with pytest.raises(InvalidOptionError):
        dawid_skene(answers, **options)  # type: ignore[arg-type]


@pytest.mark.parametrize("prior", [{"accuracy": 1.0}, {"accuracy": 0.0}, {"strength": 0.0}, {"classes": -1.0}])
def test_it_rejects_a_prior_that_could_produce_zeros(prior: dict[str, float]) -> None:
    with pytest.raises(InvalidOptionError):
        DirichletPrior(**prior)


def test_a_workers_history_leans_their_prior_and_breaks_a_tie_only_while_the_job_says_little() -> None:
    # Two workers split on one task; worker 0's record elsewhere is good, worker 1's poor.
    answers = Answers(tasks=[0, 0], workers=[0, 1], labels=[0, 1], n_tasks=1, n_workers=2, n_classes=2)

    plain = dawid_skene(answers)
    seeded = dawid_skene(answers, worker_prior_accuracy=[0.95, 0.55])
    unknown = dawid_skene(answers, worker_prior_accuracy=[np.nan, np.nan])

    assert abs(plain.posteriors[0, 0] - 0.5) < 1e-6  # nothing tells them apart
    assert seeded.labels[0] == 0 and seeded.posteriors[0, 0] > 0.6
    np.testing.assert_allclose(unknown.posteriors, plain.posteriors)  # no record: the default prior


def test_a_history_prior_needs_one_entry_per_worker() -> None:
    answers = Answers(tasks=[0], workers=[0], labels=[0], n_tasks=1, n_workers=2, n_classes=2)

    with pytest.raises(InvalidOptionError):
        dawid_skene(answers, worker_prior_accuracy=[0.9])

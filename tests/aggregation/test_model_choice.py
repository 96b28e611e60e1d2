"""Choosing the worker model per job by cross-validation over its answers."""

from __future__ import annotations

import numpy as np
import pytest

from marketplace.aggregation import Answers
from marketplace.aggregation.errors import InvalidOptionError
from marketplace.aggregation.model_choice import choose_model


def _crowd(confusions: np.ndarray, per_task: int, n_tasks: int, seed: int) -> Answers:
    """Each task answered by ``per_task`` distinct workers drawn at random; worker w answers by ``confusions[w]``."""
    rng = np.random.default_rng(seed)
    n_workers, n_classes, _ = confusions.shape
    truth = rng.integers(0, n_classes, n_tasks)
    tasks = np.repeat(np.arange(n_tasks), per_task)
    workers = np.concatenate([rng.choice(n_workers, per_task, replace=False) for _ in range(n_tasks)])
    cumulative = confusions[workers, truth[tasks]].cumsum(axis=1)
    labels = (rng.random(tasks.size)[:, None] > cumulative).sum(axis=1)
    return Answers(
        tasks=tasks, workers=workers, labels=labels, n_tasks=n_tasks, n_workers=n_workers, n_classes=n_classes
    )


def test_workers_who_each_confuse_one_pair_of_classes_lead_to_full_dawid_skene() -> None:
    # Four classes; each worker is 90% right except on one class, which they call the next class 70% of the time.
    n_workers, k = 8, 4
    confusions = np.full((n_workers, k, k), 0.1 / 3) + np.eye(k) * (0.9 - 0.1 / 3)
    for w in range(n_workers):
        row = w % k
        confusions[w, row] = 0.0
        confusions[w, row, row] = 0.3
        confusions[w, row, (row + 1) % k] = 0.7
    choice = choose_model(_crowd(confusions, per_task=5, n_tasks=800, seed=1))
    assert choice.model == "dawid_skene"
    assert choice.held_out_log_likelihood["dawid_skene"] > choice.held_out_log_likelihood["one_coin"]


def test_many_workers_with_few_answers_and_even_errors_lead_to_one_coin() -> None:
    # 300 workers, about 5 answers each over 4 classes: too few to estimate 12 free rates per worker.
    rng = np.random.default_rng(2)
    k = 4
    accuracy = rng.uniform(0.5, 0.95, 300)
    wrong = (1 - accuracy) / (k - 1)
    confusions = wrong[:, None, None] + np.eye(k)[None] * (accuracy - wrong)[:, None, None]
    choice = choose_model(_crowd(confusions, per_task=3, n_tasks=500, seed=3))
    assert choice.model == "one_coin"
    assert "held-out answers" in choice.reason


def test_the_choice_is_the_same_for_the_same_seed() -> None:
    confusions = np.tile(np.array([[0.8, 0.2], [0.3, 0.7]]), (6, 1, 1))
    answers = _crowd(confusions, per_task=3, n_tasks=200, seed=4)
    assert choose_model(answers, seed=9) == choose_model(answers, seed=9)


def test_fewer_than_two_folds_are_refused() -> None:
    confusions = np.tile(np.eye(2), (3, 1, 1))
    with pytest.raises(InvalidOptionError):
        choose_model(_crowd(confusions, per_task=2, n_tasks=10, seed=5), folds=1)


def test_a_job_with_fewer_answers_than_folds_gets_the_simplest_model() -> None:
    answers = Answers(
        tasks=np.array([0, 0]), workers=np.array([0, 1]), labels=np.array([1, 1]), n_tasks=1, n_workers=2, n_classes=2
    )
    assert choose_model(answers).model == "one_coin"


def test_gold_is_clamped_in_every_fit_so_held_out_answers_are_scored_against_the_truth() -> None:
    # Workers right 65% of the time, three per task: without gold a task's class is a guess from two other answers;
    # with every second task gold, those tasks' held-out answers are predicted from the known class.
    confusions = np.tile(np.array([[0.65, 0.35], [0.35, 0.65]]), (10, 1, 1))
    answers = _crowd(confusions, per_task=3, n_tasks=600, seed=6)
    truth = np.random.default_rng(6).integers(0, 2, 600)  # _crowd's first draw
    gold = {t: int(truth[t]) for t in range(0, 600, 2)}

    blind, anchored = choose_model(answers), choose_model(answers, gold=gold)

    for model in ("one_coin", "dawid_skene"):
        assert anchored.held_out_log_likelihood[model] > blind.held_out_log_likelihood[model] + 0.01


def test_workers_who_each_miss_one_class_evenly_lead_to_class_one_coin() -> None:
    # Four classes; each worker recognises three classes 95% of the time and one class only 40% of the time, their
    # misses spread evenly over the other classes: an accuracy per true class, which one-coin cannot express and
    # a full matrix per worker estimates with more parameters than the answers need.
    n_workers, k = 40, 4
    confusions = np.empty((n_workers, k, k))
    for w in range(n_workers):
        accuracy = np.full(k, 0.95)
        accuracy[w % k] = 0.4
        confusions[w] = ((1 - accuracy) / (k - 1))[:, None] + np.eye(k) * (accuracy - (1 - accuracy) / (k - 1))[:, None]
    choice = choose_model(_crowd(confusions, per_task=4, n_tasks=600, seed=5))
    assert choice.model == "class_one_coin"
    scores = choice.held_out_log_likelihood
    assert scores["class_one_coin"] > max(scores["one_coin"], scores["dawid_skene"])


def test_on_two_classes_class_one_coin_is_full_dawid_skene_and_the_tie_goes_to_it() -> None:
    confusions = np.tile(np.array([[0.9, 0.1], [0.35, 0.65]]), (6, 1, 1))
    choice = choose_model(_crowd(confusions, per_task=3, n_tasks=300, seed=6))
    scores = choice.held_out_log_likelihood
    assert scores["class_one_coin"] == pytest.approx(scores["dawid_skene"], rel=1e-9)
    assert choice.model == "class_one_coin"  # the simpler name for the same model

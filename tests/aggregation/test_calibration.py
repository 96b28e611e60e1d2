"""The measures of trust in a confidence (ECE over equal-count bins, AUROC of confidence vs correctness) and the two
ways to make it more honest: a temperature from held-out answers, and one calibrated against gold."""

from __future__ import annotations

import math

import numpy as np
import pytest

from marketplace.aggregation import Answers, DawidSkeneResult, dawid_skene
from marketplace.aggregation.calibration import (
    auroc,
    expected_calibration_error,
    held_out_temperature,
    tempered_posteriors,
)
from marketplace.aggregation.errors import InvalidOptionError
from marketplace.aggregation.gold_calibration import MIN_GOLD, gold_calibrated_posteriors


def test_a_confidence_that_matches_the_hit_rate_in_every_bin_has_zero_ece() -> None:
    # Two bins of four: confidence 0.5 with two of four right, confidence 1.0 with all four right.
    confidence = [0.5, 0.5, 0.5, 0.5, 1.0, 1.0, 1.0, 1.0]
    correct = [1, 0, 1, 0, 1, 1, 1, 1]
    assert expected_calibration_error(confidence, correct, bins=2) == pytest.approx(0.0)


def test_ece_weights_each_equal_count_bin_by_its_share_of_the_items() -> None:
    # Sorted: bin 1 = (0.6, 0.6, 0.6) with 1 right -> |0.6 - 1/3|; bin 2 = (0.9, 0.9, 0.9) all right -> 0.1.
    confidence = [0.9, 0.6, 0.9, 0.6, 0.9, 0.6]
    correct = [1, 1, 1, 0, 1, 0]
    expected = 0.5 * abs(0.6 - 1 / 3) + 0.5 * abs(0.9 - 1.0)
    assert expected_calibration_error(confidence, correct, bins=2) == pytest.approx(expected)


def test_an_overconfident_method_has_an_ece_equal_to_its_overstatement() -> None:
    rng = np.random.default_rng(3)
    correct = rng.random(10_000) < 0.8
    assert expected_calibration_error(np.full(10_000, 0.95), correct) == pytest.approx(0.95 - correct.mean())


def test_ten_equal_count_bins_of_a_thousand_items_hold_a_hundred_each() -> None:
    # Confidence i/1000 and right exactly on the top half: bins 1-5 have accuracy 0, bins 6-10 accuracy 1.
    confidence = np.arange(1000) / 1000
    correct = confidence >= 0.5
    bin_means = confidence.reshape(10, 100).mean(axis=1)
    expected = np.abs(bin_means - correct.reshape(10, 100).mean(axis=1)).mean()
    assert expected_calibration_error(confidence, correct) == pytest.approx(expected)


def test_auroc_is_one_when_every_right_item_is_more_confident_than_every_wrong_one() -> None:
    assert auroc([0.9, 0.8, 0.4, 0.3], [1, 1, 0, 0]) == pytest.approx(1.0)
    assert auroc([0.9, 0.8, 0.4, 0.3], [0, 0, 1, 1]) == pytest.approx(0.0)


def test_auroc_counts_a_tie_between_a_right_and_a_wrong_item_as_half() -> None:
    # Pairs (right, wrong): (0.7 vs 0.7) half, (0.7 vs 0.2) win, (0.5 vs 0.7) loss, (0.5 vs 0.2) win -> 2.5 / 4.
    assert auroc([0.7, 0.5, 0.7, 0.2], [1, 1, 0, 0]) == pytest.approx(0.625)


def test_auroc_matches_the_pairwise_definition_on_random_data() -> None:
    rng = np.random.default_rng(11)
    confidence = rng.integers(0, 20, 300) / 20
    correct = rng.random(300) < confidence
    right, wrong = confidence[correct], confidence[~correct]
    pairwise = ((right[:, None] > wrong[None, :]) + 0.5 * (right[:, None] == wrong[None, :])).mean()
    assert auroc(confidence, correct) == pytest.approx(pairwise)


def test_auroc_is_undefined_when_there_is_nothing_to_rank() -> None:
    assert math.isnan(auroc([0.9, 0.6], [1, 1]))


def test_the_measures_refuse_a_confidence_outside_zero_to_one_or_mismatched_lengths() -> None:
    with pytest.raises(InvalidOptionError):
        expected_calibration_error([1.2], [1])
    with pytest.raises(InvalidOptionError):
        auroc([0.5, 0.6], [1])


def _correlated_crowd(seed: int) -> tuple[Answers, np.ndarray]:
    """Five workers 75% right on easy items; on hard items (a third) they share one wrong label 60% of the time."""
    rng = np.random.default_rng(seed)
    n_tasks, n_workers = 600, 5
    truth = rng.integers(0, 2, n_tasks)
    hard = rng.random(n_tasks) < 1 / 3
    tasks = np.repeat(np.arange(n_tasks), n_workers)
    workers = np.tile(np.arange(n_workers), n_tasks)
    right_rate = np.where(hard[tasks], 0.4, 0.9)
    labels = np.where(rng.random(tasks.size) < right_rate, truth[tasks], 1 - truth[tasks])
    answers = Answers(tasks=tasks, workers=workers, labels=labels, n_tasks=n_tasks, n_workers=n_workers, n_classes=2)
    return answers, truth


def test_tempering_keeps_every_label_and_lowers_the_overconfidence_of_ds_on_a_crowd_with_hard_items() -> None:
    answers, truth = _correlated_crowd(5)
    fit = dawid_skene(answers)
    posteriors, tau = tempered_posteriors(answers, fit)
    correct = fit.labels == truth
    assert tau > 1.0
    assert (posteriors.argmax(axis=1) == fit.labels).all()
    before = expected_calibration_error(fit.confidence, correct)
    after = expected_calibration_error(posteriors.max(axis=1), correct)
    assert after < before


def test_a_crowd_that_fits_ds_exactly_is_left_nearly_untempered() -> None:
    rng = np.random.default_rng(8)
    n_tasks, n_workers = 2000, 5
    truth = rng.integers(0, 2, n_tasks)
    tasks = np.repeat(np.arange(n_tasks), n_workers)
    workers = np.tile(np.arange(n_workers), n_tasks)
    labels = np.where(rng.random(tasks.size) < 0.75, truth[tasks], 1 - truth[tasks])
    answers = Answers(tasks=tasks, workers=workers, labels=labels, n_tasks=n_tasks, n_workers=n_workers, n_classes=2)
    assert held_out_temperature(answers, dawid_skene(answers)) < 1.3


def test_a_gold_task_keeps_its_certain_row_after_tempering() -> None:
    answers, truth = _correlated_crowd(6)
    fit = dawid_skene(answers, gold={0: int(truth[0])})
    posteriors, _ = tempered_posteriors(answers, fit)
    assert posteriors[0, truth[0]] == 1.0


# --- Calibration against gold ------------------------------------------------------------------------------------


def _gold_of(truth: np.ndarray, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    tasks = np.sort(np.random.default_rng(seed).choice(truth.size, count, replace=False))
    return tasks, truth[tasks]


def test_gold_calibration_lowers_the_ece_of_an_overconfident_ds_on_the_items_that_are_not_gold() -> None:
    answers, truth = _correlated_crowd(5)
    gold = _gold_of(truth, 60, seed=1)
    fit = dawid_skene(answers, gold=gold)
    calibrated = gold_calibrated_posteriors(answers, fit, gold)
    real = np.setdiff1d(np.arange(truth.size), gold[0])
    correct = fit.labels[real] == truth[real]
    tempered, _ = tempered_posteriors(answers, fit)
    after = expected_calibration_error(calibrated.confidence[real], correct)
    assert calibrated.calibrated
    assert calibrated.temperature > calibrated.prior_temperature > 1.0
    assert after < expected_calibration_error(tempered.max(axis=1)[real], correct)
    assert after < 0.5 * expected_calibration_error(fit.confidence[real], correct)


def test_too_little_gold_keeps_the_confidence_tempered_on_the_answers_alone() -> None:
    answers, truth = _correlated_crowd(6)
    gold = _gold_of(truth, MIN_GOLD - 1, seed=2)
    fit = dawid_skene(answers, gold=gold)
    calibrated = gold_calibrated_posteriors(answers, fit, gold)
    tempered, tau = tempered_posteriors(answers, fit)
    assert not calibrated.calibrated
    assert calibrated.temperature == calibrated.prior_temperature == tau
    np.testing.assert_allclose(calibrated.posteriors, tempered)


def test_gold_calibration_never_moves_a_label_and_keeps_gold_rows_one_hot() -> None:
    answers, truth = _correlated_crowd(7)
    gold = _gold_of(truth, 40, seed=3)
    fit = dawid_skene(answers, gold=gold)
    calibrated = gold_calibrated_posteriors(answers, fit, gold)
    assert (calibrated.labels == fit.labels).all()
    assert (calibrated.posteriors.argmax(axis=1) == fit.labels).all()
    np.testing.assert_allclose(calibrated.posteriors.sum(axis=1), 1.0)
    assert (calibrated.posteriors[gold[0], gold[1]] == 1.0).all()


def test_the_calibrated_confidence_is_an_increasing_function_of_ds_confidence_on_two_classes() -> None:
    answers, truth = _correlated_crowd(8)
    gold = _gold_of(truth, 50, seed=4)
    fit = dawid_skene(answers, gold=gold)
    calibrated = gold_calibrated_posteriors(answers, fit, gold)
    real = np.setdiff1d(np.arange(truth.size), gold[0])
    order = np.argsort(fit.confidence[real], kind="stable")
    assert (np.diff(calibrated.confidence[real][order]) >= -1e-12).all()
    assert np.ptp(calibrated.confidence[real]) > 0.1  # a map that flattened everything would pass the line above


def test_each_gold_item_is_judged_by_a_fit_that_did_not_clamp_it() -> None:
    answers, truth = _correlated_crowd(9)
    gold = _gold_of(truth, 30, seed=5)
    unclamped: list[set[int]] = []

    def refit(tasks: np.ndarray, labels: np.ndarray) -> DawidSkeneResult:
        unclamped.append(set(gold[0].tolist()) - set(tasks.tolist()))
        return dawid_skene(answers, gold=(tasks, labels))

    gold_calibrated_posteriors(answers, dawid_skene(answers, gold=gold), gold, refit=refit, folds=5)
    assert len(unclamped) == 5
    assert sorted(t for fold in unclamped for t in fold) == sorted(gold[0].tolist())  # a partition of the gold
    assert all(len(fold) == 6 for fold in unclamped)


def test_gold_calibration_refuses_fewer_than_two_folds() -> None:
    answers, truth = _correlated_crowd(5)
    with pytest.raises(InvalidOptionError):
        gold_calibrated_posteriors(answers, dawid_skene(answers), None, folds=1)


def test_gold_the_fit_gets_all_right_never_makes_the_confidence_sharper_than_the_answers_alone() -> None:
    # Three workers 80% right: moderate posteriors. The gold is drawn among the tasks DS gets right (a lucky run),
    # which a two-sided prior would read as "sharpen" (τ about 0.5 here).
    rng = np.random.default_rng(0)
    n_tasks, n_workers = 400, 3
    truth = rng.integers(0, 2, n_tasks)
    tasks = np.repeat(np.arange(n_tasks), n_workers)
    workers = np.tile(np.arange(n_workers), n_tasks)
    labels = np.where(rng.random(tasks.size) < 0.8, truth[tasks], 1 - truth[tasks])
    answers = Answers(tasks=tasks, workers=workers, labels=labels, n_tasks=n_tasks, n_workers=n_workers, n_classes=2)
    right = np.flatnonzero(dawid_skene(answers).labels == truth)
    gold_tasks = np.sort(rng.choice(right, 40, replace=False))
    gold = (gold_tasks, truth[gold_tasks])
    fit = dawid_skene(answers, gold=gold)
    calibrated = gold_calibrated_posteriors(answers, fit, gold)
    tempered, _ = tempered_posteriors(answers, fit)
    assert calibrated.gold_right == calibrated.gold_used == 40
    assert calibrated.temperature >= calibrated.prior_temperature
    assert (calibrated.confidence <= tempered.max(axis=1) + 1e-12).all()

"""Agreement metrics, matched against the reference packages (`krippendorff`, `statsmodels`) to 1e-6. Pure."""

from __future__ import annotations

import krippendorff
import numpy as np
import pytest
from statsmodels.stats.inter_rater import fleiss_kappa

from marketplace.aggregation.agreement import categorical_agreement, interval_alpha
from tests.aggregation.datasets import load_dataset


def reliability(tasks: np.ndarray, workers: np.ndarray, values: np.ndarray, n_tasks: int, n_workers: int):
    """The reference packages' layout: coders x units, NaN where a coder gave no value."""
    data = np.full((n_workers, n_tasks), np.nan)
    data[workers, tasks] = values
    return data


def random_answers(seed: int, n_tasks: int = 60, n_workers: int = 9, n_classes: int = 3, share: float = 0.5):
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, n_classes, n_tasks)
    tasks, workers = np.nonzero(np.ones((n_tasks, n_workers)))
    right = rng.random(len(tasks)) < 0.7
    labels = np.where(right, truth[tasks], rng.integers(0, n_classes, len(tasks)))
    keep = rng.random(len(tasks)) < share  # missing answers: items get different numbers of them
    return tasks[keep], workers[keep], labels[keep]


def test_a_textbook_case_by_hand():
    # Two items, two answers each: item 0 agreed (0, 0), item 1 split (0, 1). Coincidences: o_00 = 2 + 1 = 3,
    # o_01 = o_10 = 1, n = 4, n_0 = 3, n_1 = 1: D_o = 2 / 4, D_e = 2 * 3 * 1 / (4 * 3); alpha = 1 - 0.5 / 0.5 = 0.
    # Fleiss: P = (1 + 0) / 2, P_e = (3/4)^2 + (1/4)^2 = 5/8: kappa = (1/2 - 5/8) / (3/8) = -1/3.
    result = categorical_agreement(
        tasks=np.array([0, 0, 1, 1]), labels=np.array([0, 0, 0, 1]), n_tasks=2, n_classes=2, samples=10
    )

    assert result.alpha.value == pytest.approx(0.0)
    assert result.kappa.value == pytest.approx(-1 / 3)
    assert result.alpha.items == 2


@pytest.mark.parametrize("seed", range(4))
def test_nominal_alpha_matches_the_krippendorff_package(seed):
    tasks, workers, labels = random_answers(seed)
    ours = categorical_agreement(tasks=tasks, labels=labels, n_tasks=60, n_classes=3, samples=10)
    data = reliability(tasks, workers, labels.astype(float), 60, 9)

    assert ours.alpha.value == pytest.approx(
        krippendorff.alpha(reliability_data=data, level_of_measurement="nominal"), abs=1e-6
    )
    for c in range(3):
        binary = np.where(np.isnan(data), np.nan, (data == c).astype(float))
        reference = krippendorff.alpha(reliability_data=binary, level_of_measurement="nominal")
        assert ours.alpha_per_class[c].value == pytest.approx(reference, abs=1e-6)


@pytest.mark.parametrize("seed", range(4))
def test_interval_alpha_matches_the_krippendorff_package(seed):
    rng = np.random.default_rng(seed)
    tasks, workers = np.nonzero(rng.random((40, 7)) < 0.6)
    values = rng.normal(size=40)[tasks] * 3 + rng.normal(size=len(tasks))
    ours = interval_alpha(tasks=tasks, values=values, n_tasks=40, samples=10)
    data = reliability(tasks, workers, values, 40, 7)

    assert ours.value == pytest.approx(
        krippendorff.alpha(reliability_data=data, level_of_measurement="interval"), abs=1e-6
    )


@pytest.mark.parametrize("seed", range(4))
def test_fleiss_kappa_matches_statsmodels_when_every_item_has_the_same_number_of_answers(seed):
    rng = np.random.default_rng(seed)
    n_tasks, raters = 50, 5
    truth = rng.integers(0, 4, n_tasks)
    tasks = np.repeat(np.arange(n_tasks), raters)
    labels = np.where(rng.random(len(tasks)) < 0.6, truth[tasks], rng.integers(0, 4, len(tasks)))
    ours = categorical_agreement(tasks=tasks, labels=labels, n_tasks=n_tasks, n_classes=4, samples=10)
    table = np.zeros((n_tasks, 4))
    np.add.at(table, (tasks, labels), 1)

    assert ours.kappa.value == pytest.approx(fleiss_kappa(table, method="fleiss"), abs=1e-6)


def test_on_a_real_crowd_both_match_their_references_and_the_interval_holds_the_value():
    data = load_dataset("bluebirds")
    a = data.answers
    ours = categorical_agreement(tasks=a.tasks, labels=a.labels, n_tasks=a.n_tasks, n_classes=a.n_classes)
    matrix = reliability(a.tasks, a.workers, a.labels.astype(float), a.n_tasks, a.n_workers)
    table = np.zeros((a.n_tasks, a.n_classes))
    np.add.at(table, (a.tasks, a.labels), 1)

    assert ours.alpha.value == pytest.approx(
        krippendorff.alpha(reliability_data=matrix, level_of_measurement="nominal")
    )
    if len(set(table.sum(axis=1))) == 1:
        assert ours.kappa.value == pytest.approx(fleiss_kappa(table, method="fleiss"), abs=1e-6)
    assert ours.alpha.low < ours.alpha.value < ours.alpha.high
    assert ours.kappa.low < ours.kappa.value < ours.kappa.high


def test_the_bootstrap_is_repeatable_and_narrows_with_more_items():
    small = random_answers(1, n_tasks=20)
    large = random_answers(1, n_tasks=400)
    first = categorical_agreement(tasks=small[0], labels=small[2], n_tasks=20, n_classes=3)
    again = categorical_agreement(tasks=small[0], labels=small[2], n_tasks=20, n_classes=3)
    wide = first.alpha.high - first.alpha.low
    more = categorical_agreement(tasks=large[0], labels=large[2], n_tasks=400, n_classes=3)

    assert first == again
    assert more.alpha.high - more.alpha.low < wide / 2


def test_undefined_statistics_are_nan_not_an_error():
    one_answer_each = categorical_agreement(tasks=np.array([0, 1]), labels=np.array([0, 1]), n_tasks=2, n_classes=2)
    all_the_same = categorical_agreement(
        tasks=np.array([0, 0, 1, 1]), labels=np.array([1, 1, 1, 1]), n_tasks=2, n_classes=2
    )

    assert one_answer_each.alpha.items == 0 and np.isnan(one_answer_each.alpha.value)
    assert np.isnan(all_the_same.alpha.value) and np.isnan(all_the_same.kappa.value)
    assert all_the_same.alpha.as_dict() == {"value": None, "low": None, "high": None, "items": 2}

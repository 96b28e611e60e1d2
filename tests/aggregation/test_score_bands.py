"""A model's score is used without being trusted: its predictions are cut into bands by score, each an annotator."""

import numpy as np
import pytest

from marketplace.aggregation import Answers, dawid_skene
from marketplace.aggregation.score_bands import (
    MAX_BANDS,
    PREDICTIONS_PER_BAND,
    UNSCORED,
    annotator_names,
    band_count,
    parse_score,
    score_bands,
)


def test_a_model_gets_one_band_per_hundred_scored_predictions_up_to_four():
    assert [band_count(n) for n in (0, 99, 100, 250, 399, 400, 10_000)] == [1, 1, 1, 2, 3, 4, MAX_BANDS]


def test_bands_cut_each_model_at_its_own_quantiles_surest_last():
    rng = np.random.default_rng(0)
    scores = rng.random(4 * PREDICTIONS_PER_BAND).tolist()
    bands = score_bands(["m"] * len(scores), scores)
    assert sorted(set(bands)) == [0, 1, 2, 3]
    assert np.bincount(bands).tolist() == [PREDICTIONS_PER_BAND] * 4  # equal-count bands
    order = np.argsort(scores)
    assert bands[order[0]] == 0 and bands[order[-1]] == 3
    assert all(a <= b for a, b in zip(np.asarray(bands)[order], np.asarray(bands)[order][1:], strict=False))


def test_equal_scores_share_a_band_and_missing_scores_are_an_annotator_of_their_own():
    assert set(score_bands(["m"] * 500, [0.7] * 500)) == {0}  # a score that never varies says nothing: one band
    assert score_bands(["m"] * 400, [0.5] * 300 + [0.9] * 100)[-1] == 1  # bands numbered densely
    models = ["a"] * 3 + ["b"] * 2
    assert score_bands(models, [0.2, None, float("nan"), None, 0.4]) == [0, UNSCORED, UNSCORED, UNSCORED, 0]


def test_annotator_names_carry_the_band_only_when_a_model_has_several():
    models = ["a"] * 200 + ["b"] * 3 + ["c"] * 2
    scores = [i / 200 for i in range(200)] + [0.9, 0.8, 0.7] + [None, 0.5]
    names = annotator_names(models, scores)
    assert set(names[:200]) == {"a (score band 1 of 2)", "a (score band 2 of 2)"}
    assert set(names[200:203]) == {"b"}
    assert names[203:] == ["c (no score)", "c (score band 1 of 1)"]


@pytest.mark.parametrize("text", ["high", "1.5", "-0.1", "nan"])
def test_a_score_is_a_number_between_0_and_1_or_nothing(text):
    assert parse_score("") is None and parse_score(" 0.25 ") == 0.25
    with pytest.raises(ValueError, match="score"):
        parse_score(text)


def test_a_model_sure_when_right_earns_a_strong_top_band_and_a_weak_bottom_one():
    """Two classes, three 70% workers, and a model right on 97% of its surest half and 50% of the rest: banded, the
    model's sure predictions outweigh a single dissenting worker; its doubtful ones weigh almost nothing."""
    rng = np.random.default_rng(3)
    n = 2000
    truth = rng.integers(0, 2, n)
    sure = rng.random(n) < 0.5
    model_right = rng.random(n) < np.where(sure, 0.97, 0.5)
    prediction = np.where(model_right, truth, 1 - truth)
    score = np.where(sure, rng.uniform(0.9, 1.0, n), rng.uniform(0.5, 0.6, n))
    tasks, workers, labels = [], [], []
    for worker in range(3):
        right = rng.random(n) < 0.7
        tasks += range(n)
        workers += [worker] * n
        labels += np.where(right, truth, 1 - truth).tolist()
    bands = np.asarray(score_bands(["m"] * n, score.tolist()))
    answers = Answers(
        tasks=np.array(tasks + list(range(n))),
        workers=np.array(workers + (3 + bands).tolist()),
        labels=np.array(labels + prediction.tolist()),
        n_tasks=n,
        n_workers=3 + MAX_BANDS,
        n_classes=2,
    )
    result = dawid_skene(answers)
    accuracy = result.worker_accuracy
    assert bands.max() == 3
    assert accuracy[3 + 3] > 0.9 > 0.6 > accuracy[3 + 0]  # the surest quarter against the least sure
    banded = (result.labels == truth).mean()
    one_model = dawid_skene(
        Answers(
            tasks=answers.tasks,
            workers=np.array(workers + [3] * n),
            labels=answers.labels,
            n_tasks=n,
            n_workers=4,
            n_classes=2,
        )
    )
    assert banded > (one_model.labels == truth).mean() + 0.02  # the score, earned, buys accuracy

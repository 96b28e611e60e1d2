"""One E-step under a model fitted before (`dawid_skene_posteriors`): what some answers alone say about a task."""

from __future__ import annotations

import numpy as np
import pytest

from marketplace.aggregation import Answers, InvalidOptionError, dawid_skene, dawid_skene_posteriors
from tests.aggregation.simulate import crowd, noisy, random_truth, spammer


def answers_of(rows: list[tuple[int, int, int]], *, n_tasks: int, n_workers: int, n_classes: int = 2) -> Answers:
    tasks, workers, labels = (np.array(column, dtype=np.int64) for column in zip(*rows, strict=True))
    return Answers(
        tasks=tasks, workers=workers, labels=labels, n_tasks=n_tasks, n_workers=n_workers, n_classes=n_classes
    )


def test_two_agreeing_80_percent_workers_make_a_label_94_percent_sure_by_hand() -> None:
    answers = answers_of([(0, 0, 1), (0, 1, 1), (1, 0, 0), (1, 1, 1)], n_tasks=3, n_workers=2)
    confusions = np.stack([noisy(2, 0.8)] * 2)

    posteriors = dawid_skene_posteriors(answers, confusions=confusions, priors=[0.5, 0.5])

    np.testing.assert_allclose(posteriors[0], [0.04 / 0.68, 0.64 / 0.68])  # .8 x .8 against .2 x .2
    np.testing.assert_allclose(posteriors[1], [0.5, 0.5])  # one for each class: no evidence either way
    np.testing.assert_allclose(posteriors[2], [0.5, 0.5])  # nobody answered: the class priors


def test_a_worker_without_a_fitted_matrix_counts_as_the_priors_mean() -> None:
    answers = answers_of([(0, 0, 1)], n_tasks=1, n_workers=1)

    posteriors = dawid_skene_posteriors(answers, confusions=np.full((1, 2, 2), np.nan), priors=[0.5, 0.5])

    np.testing.assert_allclose(posteriors[0], [0.2, 0.8])  # DirichletPrior(): 80% right


def test_a_spammers_answer_moves_nothing() -> None:
    answers = answers_of([(0, 0, 1)], n_tasks=1, n_workers=1)

    posteriors = dawid_skene_posteriors(answers, confusions=spammer(2)[None], priors=[0.3, 0.7])

    np.testing.assert_allclose(posteriors[0], [0.3, 0.7])


def test_under_its_own_fitted_model_it_gives_back_the_fits_posteriors() -> None:
    truth = random_truth(200, 3, seed=4)
    answers = crowd([noisy(3, 0.9), noisy(3, 0.7), noisy(3, 0.6), spammer(3)], truth, seed=5)
    fit = dawid_skene(answers)

    again = dawid_skene_posteriors(answers, confusions=fit.confusions, priors=fit.priors)

    np.testing.assert_allclose(again, fit.posteriors, atol=1e-6)


def test_it_refuses_a_model_of_the_wrong_shape() -> None:
    answers = answers_of([(0, 0, 1)], n_tasks=1, n_workers=1)

    with pytest.raises(InvalidOptionError):
        dawid_skene_posteriors(answers, confusions=np.stack([noisy(2, 0.8)] * 2), priors=[0.5, 0.5])
    with pytest.raises(InvalidOptionError):
        dawid_skene_posteriors(answers, confusions=noisy(2, 0.8)[None], priors=[1.0])

"""A confidence calibrated against the job's gold: a temperature on Dawid-Skene's log posterior, learned from how
often the fit is right on gold items it did not see.

Why gold: on real crowds DS overstates (hard items fool several workers at once, which a model of independent
answers cannot see), and the answers alone cannot say by how much: the temperature that best predicts held-out
answers (:func:`~marketplace.aggregation.calibration.held_out_temperature`, τ₀) is 1-5 on the benchmark sets, and
their gold asks for 1.2-3 times more (bench/quality.py). Gold items are the only truth a job has.

How, in three steps:

1. **Cross-fitting.** The gold items are dealt into ``folds`` folds. For each fold, DS is refitted with the *other*
   folds' gold clamped and this fold's gold left as ordinary items, so their log posteriors are of the same kind as
   a real item's: no worker was graded on the gold it is now judged on.
2. **A posterior over the temperature.** Grid ``τ = τ₀ · r`` for ``r`` in :data:`FACTORS` (1 to 20), prior
   ``log r ~ half-normal(PRIOR_SD)``, likelihood ``Π_gold softmax(L_g / τ)[true label]``.
   - One parameter, because a job has some 30-100 gold items with a handful of errors among them: Platt scaling (a
     slope and a bias on the log-odds of the confidence, same prior and grid) did no better on the benchmark,
     within the gold's own sampling noise; an isotonic map needs more errors than such gold holds (a step per
     error). And one temperature keeps each posterior row a distribution over classes with the same argmax.
   - The prior starts at τ₀, the confidence without gold: scarce gold moves it little, plenty of gold as far as the
     gold says. sd 1 (a factor e) was set before measuring; 0.5 or 2 move the benchmark's mean ECE by <= 0.005.
   - One-sided, τ >= τ₀: correlated errors make answers agree with each other more than with the truth, so τ₀ errs
     low, not high (the six benchmark sets' gold asks for 1.2-3 τ₀). Two-sided, a run of all-right gold (20 items
     of a 95% crowd often hold no error) sharpened the confidence below τ₀: ECE 0.046 instead of 0.036 on
     vldb_product with 20 gold items, and no set did better for it.
3. **Integrating over τ.** A real item's posterior is ``Σ_j w_j softmax(L_t / τ_j)`` with ``w`` the posterior weights,
   not a plug-in τ: with few gold errors the temperature is uncertain, and the mixture says so.

Why not integrate over the worker matrices instead (a Bayesian DS, the Dirichlet posterior of each row in place of
its point estimate): on the six benchmark sets, a mean-field (variational) DS moved ECE by less than 0.01, in either
direction. The error is in the model (answers are not independent given the class), not in the estimates.

Every label stays: each softmax(L/τ) has DS's argmax, so their mixture does. For two classes the calibrated
confidence is an increasing function of DS's. Below ``min_gold`` answered gold items the job keeps τ₀ alone (and
:attr:`GoldCalibration.calibrated` is False): five folds of a handful of items carry too few errors to say anything.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from marketplace.aggregation.calibration import held_out_temperature, log_posterior, softmax_rows
from marketplace.aggregation.em import dawid_skene
from marketplace.aggregation.errors import InvalidOptionError
from marketplace.aggregation.inputs import Answers, FloatArray, Gold, GoldInput, parse_gold
from marketplace.aggregation.results import DawidSkeneResult

#: Candidate temperatures as multiples of τ₀, 1 to 20, log-spaced: one grid for every job.
FACTORS = np.exp(np.linspace(0.0, np.log(20.0), 61))
#: Prior sd of log(τ / τ₀), half-normal: a factor e is one sd.
PRIOR_SD = 1.0
#: Fewer answered gold items than this and the job keeps τ₀ (see the module doc).
MIN_GOLD = 20
FOLDS = 5
_MIN_PROBABILITY = 1e-300
_NEGLIGIBLE_WEIGHT = 1e-9

#: Refits DS with only these gold (task indices, label indices) clamped, all else as in the job's own fit.
Refit = Callable[[npt.NDArray[np.int64], npt.NDArray[np.int64]], DawidSkeneResult]


@dataclass(frozen=True, eq=False)
class GoldCalibration:
    """The calibrated posteriors and how they were reached.

    - ``posteriors`` ``(n_tasks, K)``: calibrated; gold rows stay one-hot. ``labels``: the fit's, unchanged;
      ``confidence``: each row's value at its label.
    - ``temperature``: the posterior mean of τ (τ₀ when not calibrated); ``prior_temperature``: τ₀.
    - ``gold_used``: answered gold items (counted even when too few to use); ``gold_right``: how many of them the
      cross-fitted DS got right; ``calibrated``: False when the gold was too scarce and τ₀ was used alone.
    """

    posteriors: FloatArray
    labels: npt.NDArray[np.int64]
    confidence: FloatArray
    temperature: float
    prior_temperature: float
    gold_used: int
    gold_right: int
    calibrated: bool


def gold_calibrated_posteriors(
    answers: Answers,
    fit: DawidSkeneResult,
    gold: GoldInput | None,
    *,
    refit: Refit | None = None,
    folds: int = FOLDS,
    min_gold: int = MIN_GOLD,
    seed: int = 0,
) -> GoldCalibration:
    """Calibrate ``fit`` (DS fitted on ``answers`` with all of ``gold`` clamped) against ``gold`` (module doc).

    ``answers`` must be the answers ``fit`` saw (after any worker exclusion). ``refit`` defaults to plain
    :func:`~marketplace.aggregation.em.dawid_skene` on ``answers``; pass one that repeats the job's own options.
    """
    if folds < 2 or min_gold < folds:
        raise InvalidOptionError("need folds >= 2 and min_gold >= folds")
    tau0 = held_out_temperature(answers, fit)
    evidence = log_posterior(answers, fit)
    parsed = parse_gold(gold, n_tasks=answers.n_tasks, n_classes=answers.n_classes)
    answered = np.flatnonzero(fit.answer_counts[parsed.tasks] > 0) if parsed is not None else np.zeros(0, np.int64)
    if parsed is None or answered.size < min_gold:
        return _result(fit, evidence, np.array([tau0]), np.ones(1), tau0, answered.size, 0, calibrated=False)
    run = refit or (lambda tasks, labels: dawid_skene(answers, gold=(tasks, labels)))
    held_evidence, right = _cross_fitted(answers, parsed, answered, run, folds, seed)
    weights = _temperature_posterior(held_evidence, parsed.labels[answered], tau0)
    return _result(fit, evidence, tau0 * FACTORS, weights, tau0, answered.size, int(right.sum()), calibrated=True)


def _cross_fitted(
    answers: Answers, gold: Gold, answered: npt.NDArray[np.int64], run: Refit, folds: int, seed: int
) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    """Log posteriors ``(G, K)`` of the ``answered`` gold (positions in ``gold``), each from a fit that did not
    clamp it, and whether that fit's label was right. Unanswered gold stays clamped in every fold: it grades
    nobody, and it informs the class priors."""
    fold_of = np.random.default_rng(seed).permutation(answered.size) % folds
    held = np.empty((answered.size, answers.n_classes))
    right = np.empty(answered.size, dtype=bool)
    for fold in range(folds):
        rows = fold_of == fold
        out = np.zeros(gold.tasks.size, dtype=bool)
        out[answered[rows]] = True
        fold_fit = run(gold.tasks[~out], gold.labels[~out])
        tasks = gold.tasks[answered[rows]]
        held[rows] = log_posterior(answers, fold_fit)[tasks]
        right[rows] = fold_fit.labels[tasks] == gold.labels[answered[rows]]
    return held, right


def _temperature_posterior(held_evidence: FloatArray, labels: npt.NDArray[np.int64], tau0: float) -> FloatArray:
    """Weights over ``τ₀ · FACTORS``: the half-normal prior times the likelihood of the gold's true labels."""
    log_weights = -0.5 * (np.log(FACTORS) / PRIOR_SD) ** 2
    rows = np.arange(labels.size)
    for j, tau in enumerate(tau0 * FACTORS):
        probability = softmax_rows(held_evidence / tau)[rows, labels]
        log_weights[j] += np.log(np.maximum(probability, _MIN_PROBABILITY)).sum()
    weights = np.exp(log_weights - log_weights.max())
    return weights / weights.sum()


def _result(
    fit: DawidSkeneResult,
    evidence: FloatArray,
    temperatures: FloatArray,
    weights: FloatArray,
    tau0: float,
    gold_used: int,
    gold_right: int,
    *,
    calibrated: bool,
) -> GoldCalibration:
    posteriors = np.zeros_like(evidence)
    for tau, weight in zip(temperatures, weights, strict=True):
        if weight > _NEGLIGIBLE_WEIGHT:  # the rest change nothing at float64 resolution worth storing
            posteriors += weight * softmax_rows(evidence / tau)
    posteriors /= posteriors.sum(axis=1, keepdims=True)
    # A gold (or otherwise certain) task keeps its one-hot row: calibration is about the answers' evidence only.
    certain = fit.posteriors.max(axis=1) >= 1.0
    posteriors[certain] = fit.posteriors[certain]
    confidence = posteriors[np.arange(fit.labels.size), fit.labels]
    mean_tau = float((weights * temperatures).sum())
    return GoldCalibration(posteriors, fit.labels, confidence, mean_tau, tau0, gold_used, gold_right, calibrated)

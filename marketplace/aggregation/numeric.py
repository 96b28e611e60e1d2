"""Numeric answers (ratings, quantities): per-worker bias and noise, fitted by EM; mean and median as baselines.

Model: task t has a true value ``μ_t``; worker w answers ``x = μ_t + b_w + ε`` with ``ε ~ t_ν(0, σ_w²)`` (a Student-t:
a Gaussian whose variance is scaled per answer, so that an answer far off, a typo or a slip, costs its weight
instead of dragging the estimate). Each iteration:

1. **Consensus without the answer itself.** Each answer is compared with the precision-weighted estimate of its
   task from the *other* answers (leave one out). Compared with the full estimate, a heavily weighted worker would
   otherwise agree with itself and look ever more precise, and with ten answers per task that feedback decides
   the weights.
2. **Bias** ``b_w``: the worker's mean deviation, shrunk toward 0 by how much biases really vary across workers
   compared with the noise of each worker's own mean (empirical Bayes, estimated from the data each iteration).
   Without gold the biases are centred weighted by each worker's information (answers over noise): one spammer's
   large mean deviation is its own, not shared out over the precise workers; gold anchors them.
3. **Noise** ``σ_w²``: the worker's (t-weighted) mean squared deviation, shrunk toward a typical variance by ``k``
   pseudo-answers, both estimated from the data in log units (limma's moderated variances): from how much the
   workers' log variances differ beyond what their sample sizes explain. When workers are alike, ``k`` grows and
   the estimate tends to the plain mean; a spammer is one far log variance and leaves the others' alone.

The workers' noise starts from their distance to the tasks' medians, not from equal workers (the mean): from the
mean, with three exact workers and one answering at random, the exact ones look as noisy as the spammer.
4. **Estimate** ``μ_t``: the precision-weighted mean of its answers minus their biases, with a weak prior (centred
   on the mean estimate, as wide as the answers); its posterior variance, scaled by how much the task's own answers
   disagree beyond the workers' noise, is ``std`` (two answers 1 and 4 are not as sure as 2 and 2); the confidence
   comes from a heavy-tailed fit (below).

The hyper-parameters (the biases' spread, the noise prior, the prior's centre) are re-estimated for the first
20 rounds, then held, and from then on each round takes a damped step: the fit settles on one state whatever the
order of the answers (a fit still moving after ``max_iter`` rounds keeps its last state, flagged not converged).

The confidence, P(|truth − estimate| ≤ tolerance), is read from a second fit of the same model with heavy tails
(ν = 3), started from the first and keeping its biases (re-fitted too, on a few small jobs the heavy-tailed fit
wandered to an end the order of the answers decided, as the first fit did before it was damped): the estimate
stays the ν = 30 fit's, mean-like, which follows an expert average best (snow_affect: ν = 4
estimates lose r on every scale), but its spread comes from a noise that occasional slips do not inflate. On a
rating scale where workers are exact 7 times in 8, the slips made every worker's near-Gaussian noise wide and every
task about as unsure as the next (two agreeing answers 0.67, two disagreeing 0.49). With ν = 3 a worker's scale
tends to its exact answers as long as fewer than 1/(ν+1) = 25% of its (leave-one-out) deviations are far: with two
answers a task, every slip is a far deviation for both workers, so 1 in 8 slips are 2 in 8 deviations, which ν = 4
could not absorb. The posterior variance is the inverse of the observed information of the t (per answer
``(ν+1)(νσ² − r²) / (νσ² + r²)²``): an agreeing answer counts (ν+1)/ν answers, a far one less than none, and on
Gaussian noise the answers count as the t's Fisher information, so the confidence stays calibrated there. The
result: agreements median 0.99, disputes 0.28 on that probe. On snow_affect (against the experts' mean, itself an
average of a few experts) more tasks get a high confidence than turn out within 5% of the spread: the expected
calibration error is 0.160 (0.142 with the ν = 30 spread alone; 0.099 when the heavy-tailed fit re-fits the biases).

All in standardised units (answers minus their mean, over their spread), all vectorised: bincounts over answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.special import digamma, ndtr, polygamma

from marketplace.aggregation.crowd import CrowdAnswers, as_float_array, check_iterations, gold_items, weighted_sums
from marketplace.aggregation.errors import InvalidAnswersError, InvalidOptionError
from marketplace.aggregation.inputs import FloatArray, IntArray

#: No worker is taken as more precise than 3% of the answers' spread (standardised variance 1e-3): with a handful
#: of answers per worker, biases can fit them exactly, and a variance let go to 0 makes one answer decide.
_MIN_VARIANCE = 1e-3

#: The hyper-parameters are re-estimated for this many rounds, then held: the EM proper then fits biases, noise
#: and values under a fixed prior and settles. Re-estimated every round, the prior and the fit fed each other (the
#: biases' spread grows as the noise shrinks, which lets the biases fit the answers, which shrinks the noise; the
#: noise prior flips between "workers alike" and not): on a small job the fit wandered for hundreds of rounds along
#: a path the order of its sums nudged, and two orders of the same answers could end far apart.
_SETTLE_AFTER = 20

#: Once held, each round takes 1 / (2 + rounds since / this) of its step: half steps stop a flip between two states,
#: ever shorter ones a wandering, and a fit converging slowly (joy in snow_affect: 370 rounds) still gets there.
_STEP_DECAY = 100.0


@dataclass(frozen=True, eq=False)
class NumericAnswers(CrowdAnswers):
    """Answer i is the number ``values[i]``."""

    values: FloatArray

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "values", as_float_array(self.values, "values"))
        if len(self.values) != self.n_answers:
            raise InvalidAnswersError("values need one entry per answer")


@dataclass(frozen=True, eq=False)
class NumericResult:
    """``values[t]`` the estimate, ``std[t]`` its posterior spread, ``confidence[t]`` = P(|truth − estimate| ≤
    tolerance); per worker ``bias`` (answers minus truth, on average) and ``noise`` (the spread of its answers around
    truth + bias), both in answer units, and ``worker_reliability`` = the share of the worker's answer variance
    that is signal, ``τ² / (τ² + σ_w²)`` with τ² the spread of the true values."""

    values: FloatArray
    std: FloatArray
    confidence: FloatArray
    bias: FloatArray
    noise: FloatArray
    worker_reliability: FloatArray
    answer_counts: npt.NDArray[np.int64]
    worker_answer_counts: npt.NDArray[np.int64]
    iterations: int
    converged: bool


@dataclass(frozen=True, eq=False)
class _Job:
    tasks: IntArray
    workers: IntArray
    values: FloatArray  # standardised
    raw_values: FloatArray  # as answered
    n_tasks: int
    n_workers: int
    gold_tasks: IntArray
    gold_values: FloatArray  # standardised
    raw_gold: FloatArray
    location: float
    scale: float

    @property
    def worker_counts(self) -> FloatArray:
        return np.bincount(self.workers, minlength=self.n_workers).astype(np.float64)


@dataclass
class _State:
    bias: FloatArray
    variance: FloatArray
    weights: FloatArray  # per answer: the Student-t scale factor
    # The true values' prior: centred on the mean of the estimates (re-estimated, so that gold-anchored biases
    # move it), as wide as the answers themselves (1 in standardised units): weak, it only steadies thin tasks.
    prior_mean: float = 0.0
    prior_variance: float = 1.0
    # The hyper-parameters (the biases' spread, the noise prior's pseudo-answers and typical variance, the prior's
    # centre), re-estimated for the first rounds, then held (see ``_SETTLE_AFTER``).
    held: bool = False
    bias_spread: float = 1.0
    noise_prior: tuple[float, float] = (2.0, 1.0)

    def update_prior(self, job: _Job, mean: FloatArray) -> None:
        if self.held:
            return
        informed = np.bincount(job.tasks, minlength=job.n_tasks) > 0
        informed[job.gold_tasks] = True
        if informed.any():
            self.prior_mean = float(mean[informed].mean())


def bias_noise_em(
    answers: NumericAnswers,
    *,
    gold: Mapping[int, float] | None = None,
    exclude_workers: npt.ArrayLike | None = None,
    tolerance: float | None = None,
    dof: float | None = 30.0,
    confidence_dof: float | None = 3.0,
    bias: bool = True,
    max_iter: int = 500,
    tol: float = 1e-6,
) -> NumericResult:
    """Fit the model by EM. ``tolerance`` (answer units; default 5% of the answers' spread) defines the
    confidence; ``dof`` is the noise's Student-t ν (``None``: Gaussian); ``confidence_dof`` the ν of the second,
    heavy-tailed fit the confidence is read from (``None``: from the fit itself); ``bias=False`` fits the noise
    alone."""
    check_iterations(max_iter, tol)
    for name, value in (("dof", dof), ("confidence_dof", confidence_dof)):
        if value is not None and not value > 0:
            raise InvalidOptionError(f"{name} must be > 0 (or None for Gaussian noise)")
    job = _prepare(answers, gold, exclude_workers)
    state, iterations, done = _fit(job, dof, bias=bias, max_iter=max_iter, tol=tol)
    robust = None
    if confidence_dof is not None:
        robust = (_fit(job, confidence_dof, bias=False, max_iter=max_iter, tol=tol, start=state)[0], confidence_dof)
    return _result(job, state, tolerance, iterations, done, robust)


def _fit(
    job: _Job, dof: float | None, *, bias: bool, max_iter: int, tol: float, start: _State | None = None
) -> tuple[_State, int, bool]:
    if start is None:
        state = _State(np.zeros(job.n_workers), _start_variances(job), np.ones(len(job.values)))
    else:  # from another fit's biases, noise and prior centre (its hyper-parameters re-estimated)
        state = _State(start.bias.copy(), start.variance.copy(), np.ones(len(job.values)), start.prior_mean)
    estimate = _estimate(job, state)[0]
    iterations, done = 0, False
    while iterations < max_iter and not done:
        iterations += 1
        deviations = job.values - _others(job, state)
        before = (state.bias, state.variance)
        if bias:
            state.bias = _bias(job, state, deviations)
        residuals = deviations - state.bias[job.workers]
        state.variance, state.weights = _noise(job, state, residuals, dof)
        if state.held:
            # Damped (the variances in log units): half a step, then ever shorter ones. The leave-one-out update is
            # not an EM step proper: it can flip between two states for ever, which half steps turn into a
            # settling, and on a small job with the t weights it can wander, which the shrinking steps stop.
            step = 1.0 / (2.0 + (iterations - _SETTLE_AFTER) / _STEP_DECAY)
            state.bias = before[0] + step * (state.bias - before[0])
            state.variance = before[1] * (state.variance / before[1]) ** step
        state.update_prior(job, estimate)
        state.held = iterations >= _SETTLE_AFTER
        previous = estimate
        estimate = _estimate(job, state)[0]
        done = state.held and bool(np.abs(estimate - previous).max(initial=0.0) <= tol)
    # A fit that did not settle within max_iter keeps its last state, flagged as not converged (switching to the
    # medians made the result depend on which side of max_iter an order of the sums stopped).
    return state, iterations, done


def numeric_mean(
    answers: NumericAnswers,
    *,
    gold: Mapping[int, float] | None = None,
    exclude_workers: npt.ArrayLike | None = None,
    tolerance: float | None = None,
) -> NumericResult:
    """The baseline: each task's plain mean (every worker equal, no bias)."""
    job = _prepare(answers, gold, exclude_workers)
    counts = np.bincount(job.tasks, minlength=job.n_tasks)
    means = weighted_sums(job.tasks, job.raw_values, job.n_tasks) / np.maximum(counts, 1)
    means[counts == 0] = job.location
    return _fixed(job, means, tolerance)


def numeric_median(
    answers: NumericAnswers,
    *,
    gold: Mapping[int, float] | None = None,
    exclude_workers: npt.ArrayLike | None = None,
    tolerance: float | None = None,
) -> NumericResult:
    """The robust baseline: each task's median (the mean of the two middle answers for an even count)."""
    job = _prepare(answers, gold, exclude_workers)
    order = np.lexsort((job.raw_values, job.tasks))
    counts = np.bincount(job.tasks, minlength=job.n_tasks)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    answered = counts > 0
    low = starts + np.maximum(counts - 1, 0) // 2
    high = starts + counts // 2
    sorted_values = job.raw_values[order]
    medians = np.full(job.n_tasks, job.location)
    medians[answered] = (sorted_values[low[answered]] + sorted_values[high[answered]]) / 2
    return _fixed(job, medians, tolerance)


def _fixed(job: _Job, estimates: FloatArray, tolerance: float | None) -> NumericResult:
    """A baseline's result: its estimates (answer units) as they are, gold tasks at their key; its spread from the
    pooled residual variance."""
    estimates[job.gold_tasks] = job.raw_gold
    residual_variance = _pooled_variance(job, (estimates - job.location) / job.scale)
    state = _State(np.zeros(job.n_workers), np.full(job.n_workers, residual_variance), np.ones(len(job.values)))
    result = _result(job, state, tolerance, 0, True)
    return NumericResult(
        estimates, result.std, result.confidence, result.bias, result.noise,
        result.worker_reliability, result.answer_counts, result.worker_answer_counts, 0, True,
    )  # fmt: skip


def _prepare(answers: NumericAnswers, gold: Mapping[int, float] | None, exclude_workers: npt.ArrayLike | None) -> _Job:
    keep = answers.kept(exclude_workers)
    values = answers.values[keep]
    location = float(values.mean()) if values.size else 0.0
    spread = float(values.std()) if values.size else 0.0
    scale = spread if spread > 0 else 1.0
    items = gold_items(gold, n_tasks=answers.n_tasks)
    gold_values = np.array([float(value) for _, value in items], dtype=np.float64)
    return _Job(
        tasks=answers.tasks[keep],
        workers=answers.workers[keep],
        values=(values - location) / scale,
        raw_values=values,
        n_tasks=answers.n_tasks,
        n_workers=answers.n_workers,
        gold_tasks=np.array([task for task, _ in items], dtype=np.int64),
        gold_values=(gold_values - location) / scale,
        raw_gold=gold_values,
        location=location,
        scale=scale,
    )


def _medians(job: _Job) -> FloatArray:
    """Each task's median answer (standardised; 0 for a task without answers)."""
    order = np.lexsort((job.values, job.tasks))
    counts = np.bincount(job.tasks, minlength=job.n_tasks)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    answered = counts > 0
    low = starts + np.maximum(counts - 1, 0) // 2
    high = starts + counts // 2
    ordered = job.values[order]
    medians = np.zeros(job.n_tasks)
    medians[answered] = (ordered[low[answered]] + ordered[high[answered]]) / 2
    return medians


def _start_variances(job: _Job) -> FloatArray:
    """Each worker's noise to start from: its mean squared distance to the tasks' medians (on tasks with 3 answers
    or more, where the median is not the worker's own answer or the mean of two), with 2 pseudo-answers at the
    crowd's. Starting from equal workers, the mean, a spammer drags every estimate and the exact workers look as
    noisy as it; from the median they look exact, and the EM keeps them so."""
    counts = np.bincount(job.tasks, minlength=job.n_tasks)
    on = counts[job.tasks] >= 3
    squares = np.where(on, (job.values - _medians(job)[job.tasks]) ** 2, 0.0)
    used = weighted_sums(job.workers, on.astype(np.float64), job.n_workers)
    pooled = max(float(squares.sum() / on.sum()), _MIN_VARIANCE) if on.any() else 1.0
    variance: FloatArray = (weighted_sums(job.workers, squares, job.n_workers) + 2.0 * pooled) / (used + 2.0)
    return np.maximum(variance, _MIN_VARIANCE)


def _precisions(job: _Job, state: _State) -> FloatArray:
    precision: FloatArray = state.weights / state.variance[job.workers]
    return precision


def _estimate(job: _Job, state: _State) -> tuple[FloatArray, FloatArray]:
    """Posterior mean and variance of each task's value (standardised): the answers, minus their workers' biases,
    weighted by precision, and the weak prior; gold tasks are their key."""
    precision = _precisions(job, state)
    prior = 1.0 / state.prior_variance
    total = weighted_sums(job.tasks, precision, job.n_tasks) + prior
    weighted = weighted_sums(job.tasks, precision * (job.values - state.bias[job.workers]), job.n_tasks)
    mean = (weighted + prior * state.prior_mean) / total
    variance = 1.0 / total
    mean[job.gold_tasks] = job.gold_values
    variance[job.gold_tasks] = 0.0
    return mean, variance


def _others(job: _Job, state: _State) -> FloatArray:
    """Each answer's task estimated from the other answers (and the prior); a gold task's is its key."""
    precision = _precisions(job, state)
    debiased = job.values - state.bias[job.workers]
    prior = 1.0 / state.prior_variance
    total = weighted_sums(job.tasks, precision, job.n_tasks) + prior
    weighted = weighted_sums(job.tasks, precision * debiased, job.n_tasks) + prior * state.prior_mean
    others: FloatArray = (weighted[job.tasks] - precision * debiased) / (total[job.tasks] - precision)
    is_gold = np.zeros(job.n_tasks, dtype=bool)
    is_gold[job.gold_tasks] = True
    key = np.zeros(job.n_tasks)
    key[job.gold_tasks] = job.gold_values
    return np.where(is_gold[job.tasks], key[job.tasks], others)


def _bias(job: _Job, state: _State, deviations: FloatArray) -> FloatArray:
    counts = weighted_sums(job.workers, state.weights, job.n_workers)
    raw = weighted_sums(job.workers, state.weights * deviations, job.n_workers) / np.maximum(counts, 1e-12)
    sampling = state.variance / np.maximum(counts, 1e-12)
    answered = counts > 0
    if not state.held:
        spread = (
            float(np.average(raw[answered] ** 2 - sampling[answered], weights=counts[answered]))
            if answered.any()
            else 0.0
        )
        state.bias_spread = max(spread, 1e-6)
    spread = state.bias_spread
    shrunk: FloatArray = np.where(answered, raw * spread / (spread + sampling), 0.0)
    if job.gold_tasks.size == 0 and answered.any():
        # The anchor: the biases average 0 weighted by each worker's information (answers over noise), not by
        # answers alone, which let one spammer's large mean deviation move every exact worker's bias by a share
        # of it. (A weighted median, discontinuous in the weights, made the EM cycle between two anchors.)
        information = counts / state.variance
        shrunk[answered] -= np.average(shrunk[answered], weights=information[answered])
    return shrunk


def _noise(job: _Job, state: _State, residuals: FloatArray, dof: float | None) -> tuple[FloatArray, FloatArray]:
    squares = residuals**2
    weights = np.ones(len(squares)) if dof is None else (dof + 1.0) / (dof + squares / state.variance[job.workers])
    weighted = weights * squares
    counts = job.worker_counts
    sums = weighted_sums(job.workers, weighted, job.n_workers)
    if not state.held:
        state.noise_prior = _variance_prior(sums, counts)
    pseudo, typical = state.noise_prior
    variance: FloatArray = (sums + pseudo * typical) / (counts + pseudo)
    return np.maximum(variance, _MIN_VARIANCE), weights


def _variance_prior(sums: FloatArray, counts: FloatArray) -> tuple[float, float]:
    """The workers' variances' common prior: ``pseudo`` answers at a ``typical`` variance (limma's moderated
    variances, Smyth 2004: the moments of the *log* sample variances, whose sampling spread for n answers is the
    trigamma of n/2, known).

    In log units a spammer is one far value among many, not the bulk of the crowd's squared error: the typical
    variance stays the honest workers', and how much the workers differ is read on a scale where a spammer 100
    times noisier counts as a large spread, so a precise worker keeps its own variance. (Moments of the variances
    themselves give the crowd's mean variance, a spammer's mostly, and at least 4 pseudo-answers of it.)
    """
    answered = counts > 0
    if answered.sum() < 2:
        pooled = float(sums.sum() / max(counts.sum(), 1.0))
        return 2.0, max(pooled, _MIN_VARIANCE)
    n = counts[answered]
    logs = np.log(np.maximum(sums[answered] / n, _MIN_VARIANCE)) - digamma(n / 2) + np.log(n / 2)
    sampling = polygamma(1, n / 2)
    # Each worker's log variance weighs by its precision: a worker of one answer says little of the typical one.
    centre = float(np.average(logs, weights=1.0 / sampling))
    excess = float(logs.var(ddof=1) - sampling.mean())
    if excess <= 0:
        return 1e6, float(np.exp(centre))
    half = _trigamma_inverse(excess)
    pseudo = 2.0 * half
    typical = float(np.exp(centre + digamma(half) - np.log(half)))
    return min(pseudo, 1e6), max(typical, _MIN_VARIANCE)


def _trigamma_inverse(y: float) -> float:
    """x with trigamma(x) = y (Newton's method, as limma's ``trigammaInverse``)."""
    if y > 1e7:
        return 1.0 / np.sqrt(y)
    if y < 1e-6:
        return 1.0 / y
    x = 0.5 + 1.0 / y
    for _ in range(50):
        tri = float(polygamma(1, x))
        step = tri * (1.0 - tri / y) / float(polygamma(2, x))
        x += step
        if -step / x < 1e-8:
            break
    return x


def _pooled_variance(job: _Job, estimates: FloatArray) -> float:
    if not job.values.size:
        return 1.0
    return max(float(((job.values - estimates[job.tasks]) ** 2).mean()), _MIN_VARIANCE)


#: The item's own scatter counts as this many answers' worth of evidence against the workers' noise (below).
_SCATTER_PRIOR = 2.0


def _scatter(job: _Job, state: _State, mean: FloatArray) -> FloatArray:
    """How much more (or less) its answers disagree than the workers' noise says, per task: the precision-weighted
    squared residuals, χ² with n − 1 degrees under the model, as a posterior factor ``(ν₀ + χ²) / (ν₀ + n − 1)``.
    The model's variance alone, 1 / Σ precision, is the same for two answers 1 and 4 as for two answers 2 and 2:
    adaptive overlap would stop a disputed item as soon as an agreed one."""
    precision = _precisions(job, state)
    chi = weighted_sums(
        job.tasks, precision * (job.values - state.bias[job.workers] - mean[job.tasks]) ** 2, job.n_tasks
    )
    degrees = np.maximum(np.bincount(job.tasks, minlength=job.n_tasks) - 1, 0)
    factor: FloatArray = (_SCATTER_PRIOR + chi) / (_SCATTER_PRIOR + degrees)
    return factor


def _observed_variance(job: _Job, state: _State, centre: FloatArray, dof: float) -> FloatArray:
    """Each task's posterior variance under Student-t noise from the observed information: per answer
    ``(ν+1)(νσ² − r²) / (νσ² + r²)²``, the curvature of its log density at the centre. An answer at the centre
    counts ``(ν+1)/ν`` answers' worth; on Gaussian noise the answers count ``(ν+1)/(ν+3)`` on average, as the t's
    Fisher information (the E-step weights alone count them at about 1 and read a tighter fit than the data give);
    an answer far off counts less than nothing: two answers 3 apart say the truth lies near one of them, not
    between."""
    residuals = job.values - state.bias[job.workers] - centre[job.tasks]
    scale = dof * state.variance[job.workers]
    information = (dof + 1.0) * (scale - residuals**2) / (scale + residuals**2) ** 2
    total = np.maximum(weighted_sums(job.tasks, information, job.n_tasks), 0.0) + 1.0 / state.prior_variance
    variance: FloatArray = 1.0 / total
    variance[job.gold_tasks] = 0.0
    return variance


def _result(
    job: _Job,
    state: _State,
    tolerance: float | None,
    iterations: int,
    done: bool,
    robust: tuple[_State, float] | None = None,
) -> NumericResult:
    mean, variance = _estimate(job, state)
    variance = variance * _scatter(job, state, mean)
    if tolerance is None:
        tolerance = 0.05 * job.scale
    if tolerance < 0:
        raise InvalidOptionError("tolerance must be >= 0")
    std = np.sqrt(variance) * job.scale
    confidence = np.where(std > 0, 2.0 * ndtr(tolerance / np.where(std > 0, std, 1.0)) - 1.0, 1.0)
    if robust is not None:
        robust_state, confidence_dof = robust
        centre = _estimate(job, robust_state)[0]
        spread = np.sqrt(_observed_variance(job, robust_state, centre, confidence_dof)) * job.scale
        offset = (mean - centre) * job.scale
        safe = np.where(spread > 0, spread, 1.0)
        confidence = np.where(
            spread > 0,
            ndtr((offset + tolerance) / safe) - ndtr((offset - tolerance) / safe),
            (np.abs(offset) <= tolerance).astype(np.float64),
        )
    signal = max(float(np.var(mean)), 1e-12)
    counts = np.bincount(job.tasks, minlength=job.n_tasks)
    return NumericResult(
        values=mean * job.scale + job.location,
        std=std,
        confidence=confidence,
        bias=state.bias * job.scale,
        noise=np.sqrt(state.variance) * job.scale,
        worker_reliability=signal / (signal + state.variance),
        answer_counts=counts.astype(np.int64),
        worker_answer_counts=job.worker_counts.astype(np.int64),
        iterations=iterations,
        converged=done,
    )

"""Multi-label answers (a set of classes per answer): per-class Dawid-Skene that shares each worker's quality.

Model: for each task t and class k, ``z_tk ∈ {0, 1}`` says whether k applies, ``z_tk ~ Bernoulli(ρ_k)``, independently
over classes (binary relevance). Worker w ticks class k with probability ``a_wk`` (sensitivity) when it applies and
leaves it unticked with probability ``b_wk`` (specificity) when it does not.

What it adds to K independent binary Dawid-Skene fits (crowd-kit's ``BinaryRelevance(DawidSkene)``): a worker's
quality is shared across the classes. In the M-step, ``a_wk`` is the worker's expected hits on k plus ``strength``
pseudo-answers at a prior mean that combines how sensitive the crowd is on class k with how sensitive this worker is
over all classes (logits add: ``logit m_wk = logit ā_k + logit ā_w − logit ā``); the same for ``b_wk``. A worker
with three answers on a rare class is then judged by its answers on the others, instead of by a flat prior; one
with hundreds of answers on the class is judged by those. The prior means are re-estimated every iteration
(empirical Bayes), so there is nothing to tune per data set.

Every sum over answers is a sparse product or a bincount over the ticked (answer, class) pairs: an iteration costs
O(answers × K). Gold tasks are clamped to their known set; excluded workers' answers are dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.special import expit, logit

from marketplace.aggregation.crowd import CrowdAnswers, check_iterations, converged, gold_items
from marketplace.aggregation.errors import InvalidAnswersError, InvalidGoldError
from marketplace.aggregation.inputs import BoolArray, FloatArray, IntArray, as_index_array, check_range

_CLIP = 1e-6
_TIE = 1e-9


@dataclass(frozen=True, eq=False)
class MultiLabelAnswers(CrowdAnswers):
    """Answers that are sets of classes: answer ``choice_answers[j]`` ticked class ``choice_classes[j]``.

    An answer that ticked nothing simply has no pair (it still counts: every class unticked).
    """

    choice_answers: IntArray
    choice_classes: IntArray
    n_classes: int

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.n_classes < 1:
            raise InvalidAnswersError("need n_classes >= 1")
        for name in ("choice_answers", "choice_classes"):
            object.__setattr__(self, name, as_index_array(getattr(self, name), name).astype(np.int64, copy=False))
        if len(self.choice_answers) != len(self.choice_classes):
            raise InvalidAnswersError("choice_answers and choice_classes must have the same length")
        check_range(self.choice_answers, self.n_answers, "choice_answers")
        check_range(self.choice_classes, self.n_classes, "choice_classes")
        flat = self.choice_answers * self.n_classes + self.choice_classes
        if len(np.unique(flat)) != len(flat):
            raise InvalidAnswersError("an answer ticks the same class twice")

    def ticked(self) -> sp.csr_array:
        """``(n_answers, K)`` 0/1 matrix of ticked classes."""
        ones = np.ones(len(self.choice_answers))
        shape = (self.n_answers, self.n_classes)
        return sp.csr_array((ones, (self.choice_answers, self.choice_classes)), shape=shape)


@dataclass(frozen=True)
class SharedQualityPrior:
    """``strength`` pseudo-answers per (worker, class) at the shared prior mean; ``worker_strength`` pseudo-answers
    pull a worker's pooled quality toward the crowd's. ``sensitivity`` / ``specificity`` start EM."""

    strength: float = 10.0
    worker_strength: float = 10.0
    sensitivity: float = 0.7
    specificity: float = 0.95


@dataclass(frozen=True, eq=False)
class MultiLabelResult:
    """``posteriors[t, k]`` = P(class k applies to task t); ``labels`` the set chosen (``posteriors > 0.5``, or
    the top classes when a count limit applies); ``confidence[t]`` = P(the whole set is right) under the model,
    ``Π_k`` of the chosen side's probability. ``sensitivity`` / ``specificity`` ``(W, K)``: each worker's estimated
    P(ticks k | k applies) and P(leaves k | it does not); ``worker_accuracy`` the worker's expected share of right
    tick/no-tick decisions, weighted by the class priors ``priors``."""

    posteriors: FloatArray
    labels: BoolArray
    confidence: FloatArray
    sensitivity: FloatArray
    specificity: FloatArray
    priors: FloatArray
    worker_accuracy: FloatArray
    answer_counts: npt.NDArray[np.int64]
    worker_answer_counts: npt.NDArray[np.int64]
    log_likelihood: float
    iterations: int
    converged: bool


@dataclass(frozen=True, eq=False)
class _Job:
    by_task: sp.csr_array  # (T, W): answers counted
    by_worker: sp.csr_array  # (W, T)
    tick_tasks: IntArray  # one entry per ticked (kept answer, class)
    tick_workers: IntArray
    tick_classes: IntArray
    ticks: FloatArray  # (W, K) classes ticked per worker
    worker_counts: npt.NDArray[np.int64]
    task_counts: npt.NDArray[np.int64]
    gold: tuple[IntArray, FloatArray] | None
    n_classes: int


def multi_label_ds(
    answers: MultiLabelAnswers,
    *,
    gold: Mapping[int, Iterable[int]] | None = None,
    exclude_workers: npt.ArrayLike | None = None,
    min_count: int = 0,
    max_count: int | None = None,
    max_iter: int = 100,
    tol: float = 1e-6,
    prior: SharedQualityPrior | None = None,
) -> MultiLabelResult:
    """Fit per-class Dawid-Skene with shared worker quality by EM; ``gold`` maps task → the classes that apply."""
    check_iterations(max_iter, tol)
    prior = prior if prior is not None else SharedQualityPrior()
    job = _prepare(answers, gold, exclude_workers)
    posteriors = _clamp(job, vote_shares(job))
    history: list[float] = []
    for _ in range(max_iter):
        sensitivity, specificity, priors = _m_step(job, posteriors, prior)
        posteriors, log_likelihood = _e_step(job, sensitivity, specificity, priors)
        history.append(log_likelihood)
        if converged(history, tol):
            break
    labels, confidence = constrained_labels(posteriors, min_count=min_count, max_count=max_count)
    accuracy = (priors * sensitivity + (1 - priors) * specificity).mean(axis=1)
    return MultiLabelResult(
        posteriors, labels, confidence, sensitivity, specificity, priors, accuracy,
        job.task_counts, job.worker_counts, history[-1], len(history), converged(history, tol),
    )  # fmt: skip


def per_class_majority(
    answers: MultiLabelAnswers,
    *,
    gold: Mapping[int, Iterable[int]] | None = None,
    exclude_workers: npt.ArrayLike | None = None,
    min_count: int = 0,
    max_count: int | None = None,
) -> MultiLabelResult:
    """The baseline: class k is in task t's set when more than half of its answers ticked it."""
    job = _prepare(answers, gold, exclude_workers)
    posteriors = _clamp(job, vote_shares(job))
    labels, confidence = constrained_labels(posteriors, min_count=min_count, max_count=max_count)
    agree = _agreement(job, labels.astype(np.float64))
    k = job.n_classes
    return MultiLabelResult(
        posteriors, labels, confidence, np.full((len(agree), k), np.nan), np.full((len(agree), k), np.nan),
        posteriors.mean(axis=0), agree, job.task_counts, job.worker_counts, float("nan"), 0, True,
    )  # fmt: skip


def constrained_labels(
    posteriors: FloatArray, *, min_count: int = 0, max_count: int | None = None
) -> tuple[BoolArray, FloatArray]:
    """The most probable set with between ``min_count`` and ``max_count`` classes, and P(it is exactly right).

    Under independent classes that set is the classes above 0.5, topped up with (or cut down to) the most probable
    ones. Ties between equal posteriors go to the lower class index; a posterior of 0.5 is left out.
    """
    n_tasks, k = posteriors.shape
    upper = k if max_count is None else min(max_count, k)
    # Posteriors within _TIE of 0.5 or of each other are ties (EM leaves exact ties a rounding error apart, in an
    # order that follows the answers' order): a tie at 0.5 leaves the class out, equal ones go by class index.
    count = np.clip((posteriors > 0.5 + _TIE).sum(axis=1), min(min_count, k), upper)
    order = np.argsort(-np.round(posteriors, 9), axis=1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(k)[None, :].repeat(n_tasks, axis=0), axis=1)
    labels: BoolArray = rank < count[:, None]
    right = np.where(labels, posteriors, 1.0 - posteriors)
    confidence: FloatArray = np.exp(np.log(np.clip(right, 1e-300, 1.0)).sum(axis=1))
    return labels, confidence


def vote_shares(job: _Job) -> FloatArray:
    """Share of each task's counted answers that ticked each class (0 for a task without answers)."""
    flat = job.tick_tasks * job.n_classes + job.tick_classes
    votes = np.bincount(flat, minlength=len(job.task_counts) * job.n_classes).reshape(-1, job.n_classes)
    shares: FloatArray = votes / np.maximum(job.task_counts, 1)[:, None]
    return shares


def _prepare(
    answers: MultiLabelAnswers, gold: Mapping[int, Iterable[int]] | None, exclude_workers: npt.ArrayLike | None
) -> _Job:
    keep = answers.kept(exclude_workers)
    tasks, workers = answers.tasks[keep], answers.workers[keep]
    ones = np.ones(len(tasks))
    by_task = sp.csr_array((ones, (tasks, workers)), shape=(answers.n_tasks, answers.n_workers))
    ticked = keep[answers.choice_answers]
    tick_answers = answers.choice_answers[ticked]
    tick_workers = answers.workers[tick_answers]
    tick_classes = answers.choice_classes[ticked]
    k = answers.n_classes
    ticks = np.bincount(tick_workers * k + tick_classes, minlength=answers.n_workers * k).reshape(-1, k)
    return _Job(
        by_task=by_task,
        by_worker=by_task.T.tocsr(),
        tick_tasks=answers.tasks[tick_answers],
        tick_workers=tick_workers,
        tick_classes=tick_classes,
        ticks=ticks.astype(np.float64),
        worker_counts=answers.worker_counts(keep),
        task_counts=answers.task_counts(keep),
        gold=_parse_gold(gold, n_tasks=answers.n_tasks, n_classes=k),
        n_classes=k,
    )


def _parse_gold(
    gold: Mapping[int, Iterable[int]] | None, *, n_tasks: int, n_classes: int
) -> tuple[IntArray, FloatArray] | None:
    items = gold_items(gold, n_tasks=n_tasks)
    if not items:
        return None
    rows = np.zeros((len(items), n_classes))
    for row, (_, classes) in enumerate(items):
        codes = np.asarray(list(classes), dtype=np.int64)
        if codes.size and (codes.min() < 0 or codes.max() >= n_classes):
            raise InvalidGoldError(f"gold classes must lie in [0, {n_classes})")
        rows[row, codes] = 1.0
    return np.array([task for task, _ in items], dtype=np.int64), rows


def _clamp(job: _Job, posteriors: FloatArray) -> FloatArray:
    if job.gold is not None:
        tasks, rows = job.gold
        posteriors[tasks] = rows
    return posteriors


def _m_step(job: _Job, posteriors: FloatArray, prior: SharedQualityPrior) -> tuple[FloatArray, FloatArray, FloatArray]:
    k = job.n_classes
    applies = np.asarray(job.by_worker @ posteriors)  # (W, K): expected answers on tasks where k applies
    # Float64 already (float weights): the astype copies nothing, it tells NumPy's stubs, which type bincount as int.
    hits = (
        np.bincount(
            job.tick_workers * k + job.tick_classes,
            weights=posteriors[job.tick_tasks, job.tick_classes],
            minlength=len(job.worker_counts) * k,
        )
        .astype(np.float64, copy=False)
        .reshape(-1, k)
    )
    absent = job.worker_counts[:, None] - applies
    rejections = absent - (job.ticks - hits)
    sensitivity = _shrunk(hits, applies, prior.sensitivity, prior)
    specificity = _shrunk(rejections, absent, prior.specificity, prior)
    informative = (job.task_counts > 0).astype(np.float64)
    if job.gold is not None:
        informative[job.gold[0]] = 1.0
    priors = (informative @ posteriors + 1.0) / (informative.sum() + 2.0)
    return sensitivity, specificity, priors


def _shrunk(successes: FloatArray, trials: FloatArray, start: float, prior: SharedQualityPrior) -> FloatArray:
    """``(successes + s·m) / (trials + s)`` with the shared prior mean ``m_wk`` described in the module docstring."""
    crowd = (successes.sum() + start * prior.worker_strength) / (trials.sum() + prior.worker_strength)
    by_class = (successes.sum(axis=0) + crowd * prior.worker_strength) / (trials.sum(axis=0) + prior.worker_strength)
    by_worker = (successes.sum(axis=1) + crowd * prior.worker_strength) / (trials.sum(axis=1) + prior.worker_strength)
    mean = expit(_logit(by_class)[None, :] + _logit(by_worker)[:, None] - _logit(np.asarray(crowd)))
    rate: FloatArray = (successes + prior.strength * mean) / (trials + prior.strength)
    return np.clip(rate, _CLIP, 1 - _CLIP)


def _logit(p: FloatArray) -> FloatArray:
    out: FloatArray = logit(np.clip(p, _CLIP, 1 - _CLIP))
    return out


def _e_step(
    job: _Job, sensitivity: FloatArray, specificity: FloatArray, priors: FloatArray
) -> tuple[FloatArray, float]:
    """Log evidence of "applies" (E1) and "does not" (E0) per task and class: the all-unticked term for every
    answer as one sparse product, corrected at the ticked pairs."""
    k = job.n_classes
    untick1, untick0 = np.log1p(-sensitivity), np.log(specificity)
    tick1, tick0 = np.log(sensitivity), np.log1p(-specificity)
    e1 = np.asarray(job.by_task @ untick1)
    e0 = np.asarray(job.by_task @ untick0)
    flat = job.tick_tasks * k + job.tick_classes
    size = e1.size
    w, c = job.tick_workers, job.tick_classes
    e1 += np.bincount(flat, weights=(tick1 - untick1)[w, c], minlength=size).reshape(-1, k)
    e0 += np.bincount(flat, weights=(tick0 - untick0)[w, c], minlength=size).reshape(-1, k)
    e1 += np.log(priors)
    e0 += np.log1p(-priors)
    evidence = np.logaddexp(e1, e0)
    if job.gold is not None:
        tasks, rows = job.gold
        evidence[tasks] = np.where(rows > 0, e1[tasks], e0[tasks])
    posteriors = _clamp(job, np.exp(e1 - evidence))
    return posteriors, float(evidence.sum())


def _agreement(job: _Job, labels: FloatArray) -> FloatArray:
    """Per worker, the share of (answer, class) decisions that match ``labels``."""
    k = job.n_classes
    agreeing_ticks = np.bincount(
        job.tick_workers, weights=labels[job.tick_tasks, job.tick_classes], minlength=len(job.worker_counts)
    )
    ticks = job.ticks.sum(axis=1)
    positives = np.asarray(job.by_worker @ labels).sum(axis=1)
    # Right decisions: ticked and applies, plus unticked and does not apply.
    right = agreeing_ticks + (job.worker_counts * k - ticks - (positives - agreeing_ticks))
    out: FloatArray = right / np.maximum(job.worker_counts * k, 1)
    return out

"""Dawid-Skene (1979) by expectation-maximisation, vectorised over sparse answer matrices.

Model: task t has a hidden true class ``z_t ~ Categorical(ρ)``; worker w, shown task t, answers l with
probability ``π[w, z_t, l]``, independently of the other answers. EM alternates:

- **M-step** (maximum a posteriori): ``π[w, k, l] ∝ n[w, l, k] + a[k, l]`` and ``ρ_k ∝ Σ_t T[t, k] + b``, where
  ``n[w, l, k] = Σ_{answers (w, t, l)} T[t, k]`` are the expected confusion counts under the current
  posteriors T, and ``a``, ``b`` the Dirichlet pseudo-counts of :class:`DirichletPrior`.
- **E-step**: ``log T[t, k] = log ρ_k + Σ_{answers (w, t, l)} log π[w, k, l] − log Z_t``, summed in log space
  (a task with hundreds of answers would underflow a product of probabilities); ``Σ_t log Z_t`` is the
  log-likelihood of the answers. A gold task keeps only its known class (semi-supervised DS).

Each iteration is two sparse-dense products (see :mod:`marketplace.aggregation.matrix`): no Python loop over
answers or tasks. EM starts from majority-vote shares (from the gold tasks alone when there is gold, from
previous posteriors on a warm start) and stops when the penalised log-likelihood, which MAP-EM never
decreases, moves by less than ``tol`` relative to its value, or after ``max_iter`` iterations.

The one-coin variant ties each worker's confusion matrix to a single accuracy ``p_w`` (errors spread evenly),
which needs far fewer answers per worker to estimate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from marketplace.aggregation.errors import InvalidOptionError
from marketplace.aggregation.inputs import (
    Answers,
    FloatArray,
    Gold,
    GoldInput,
    parse_gold,
    parse_init_posteriors,
)
from marketplace.aggregation.majority import vote_shares
from marketplace.aggregation.matrix import AnswerMatrix
from marketplace.aggregation.results import DawidSkeneResult

_LOG_FLOOR = -700.0
_MIN_PROBABILITY = 1e-6

#: Turns smoothed expected counts ``(W, l, k)`` into confusion probabilities of the same layout.
ConfusionStep = Callable[[FloatArray], FloatArray]


@dataclass(frozen=True)
class DirichletPrior:
    """Pseudo-counts added in the M-step: a Dirichlet prior on every confusion row and on the class priors.

    Each confusion row ``π[w, k, ·]`` gets ``strength`` pseudo-answers, ``accuracy`` of them on the diagonal
    and the rest spread evenly over the wrong labels; ``ρ`` gets ``classes`` pseudo-tasks per class. Positive
    counts keep every probability > 0, so a worker with few answers or a class nobody picked never produces
    a zero, a ``log 0`` or a NaN.

    Why lean toward the diagonal: with many workers who each give only a few answers, plain (or uniformly
    smoothed) DS has degenerate optima, such as one class for every task with each worker's confusion
    matrix bent to fit, and falls far below majority vote. A prior whose mean says "a worker is more often
    right than wrong", the assumption majority vote makes for everyone, removes them. Why only a handful of
    pseudo-answers: the prior must fade once a worker has a few dozen real answers, so that the systematic
    confusions DS exists to find (a worker who swaps two classes) outweigh it.
    """

    accuracy: float = 0.8
    strength: float = 5.0
    classes: float = 1.0

    def __post_init__(self) -> None:
        if not (0 < self.accuracy < 1 and self.strength > 0 and self.classes > 0):
            raise InvalidOptionError("DirichletPrior needs 0 < accuracy < 1, strength > 0 and classes > 0")

    def confusion_pseudo_counts(self, n_classes: int) -> FloatArray:
        """``a`` laid out like the expected counts, ``(l, k)``; symmetric, so the layout is moot."""
        return _pseudo_counts(n_classes, self.strength, np.array(self.accuracy))

    def worker_pseudo_counts(self, n_classes: int, accuracy: npt.ArrayLike) -> FloatArray:
        """``(W, l, k)``: worker w's rows lean to its own prior accuracy (its record elsewhere: a history), ``accuracy``
        ``(W,)``; NaN (no record) is this prior's ``accuracy``. Clipped to (1/K, 0.98]: a record never makes a
        worker adversarial nor certain, and the ``strength`` pseudo-answers still fade behind the job's own."""
        wanted = np.asarray(accuracy, dtype=np.float64)
        if wanted.ndim != 1:
            raise InvalidOptionError("worker_prior_accuracy must be one number per worker")
        floor = 1.0 / max(n_classes, 2) + 0.01
        own = np.where(np.isnan(wanted), self.accuracy, np.clip(wanted, floor, 0.98))
        return _pseudo_counts(n_classes, self.strength, own)


def _pseudo_counts(n_classes: int, strength: float, accuracy: FloatArray) -> FloatArray:
    """``strength`` pseudo-answers per row, ``accuracy`` of them on the diagonal: ``(l, k)`` for one accuracy,
    ``(W, l, k)`` for one per worker."""
    if n_classes == 1:
        return np.full((*accuracy.shape, 1, 1), strength)
    error = strength * (1.0 - accuracy[..., None, None]) / (n_classes - 1)
    correct = strength * accuracy[..., None, None]
    eye = np.eye(n_classes)
    return error * (1.0 - eye) + correct * eye


@dataclass(frozen=True, eq=False)
class _Problem:
    matrix: AnswerMatrix
    gold: Gold | None
    informative: FloatArray  # 1.0 for tasks with an answer or a gold label: the ones that inform ρ
    pseudo: FloatArray
    prior: DirichletPrior
    confusion_step: ConfusionStep


@dataclass(frozen=True, eq=False)
class _Fit:
    posteriors: FloatArray
    log_confusion: FloatArray  # (W, l, k)
    log_prior: FloatArray
    log_likelihood: float
    history: list[float]
    converged: bool


def dawid_skene(
    answers: Answers,
    *,
    gold: GoldInput | None = None,
    exclude_workers: npt.ArrayLike | None = None,
    init_posteriors: npt.ArrayLike | None = None,
    max_iter: int = 100,
    tol: float = 1e-6,
    prior: DirichletPrior | None = None,
    worker_prior_accuracy: npt.ArrayLike | None = None,
) -> DawidSkeneResult:
    """Fit full Dawid-Skene (one K×K confusion matrix per worker) by EM.

    ``gold`` clamps those tasks to their known label in every E-step; ``exclude_workers`` drops those workers'
    answers; ``init_posteriors`` ``(n_tasks, K)`` warm-starts EM from a previous run's posteriors (rows with a
    NaN, e.g. new tasks, start from majority vote); ``max_iter`` caps the EM iterations and ``tol`` is the
    relative change of the penalised log-likelihood under which EM has converged. ``worker_prior_accuracy``
    ``(n_workers,)``: each worker's accuracy elsewhere (their history; NaN: none), the mean of their confusion
    prior instead of ``prior.accuracy`` (:meth:`DirichletPrior.worker_pseudo_counts`).
    """
    return _fit(
        answers, gold, exclude_workers, init_posteriors, max_iter, tol, prior, _full_confusion, worker_prior_accuracy
    )


def one_coin_dawid_skene(
    answers: Answers,
    *,
    gold: GoldInput | None = None,
    exclude_workers: npt.ArrayLike | None = None,
    init_posteriors: npt.ArrayLike | None = None,
    max_iter: int = 100,
    tol: float = 1e-6,
    prior: DirichletPrior | None = None,
) -> DawidSkeneResult:
    """One-coin Dawid-Skene: worker w is right with probability ``p_w`` and otherwise picks a wrong label
    uniformly. Same arguments and result as :func:`dawid_skene` (``confusions`` built from ``p_w``)."""
    return _fit(answers, gold, exclude_workers, init_posteriors, max_iter, tol, prior, _one_coin_confusion)


def class_one_coin_dawid_skene(
    answers: Answers,
    *,
    gold: GoldInput | None = None,
    exclude_workers: npt.ArrayLike | None = None,
    init_posteriors: npt.ArrayLike | None = None,
    max_iter: int = 100,
    tol: float = 1e-6,
    prior: DirichletPrior | None = None,
) -> DawidSkeneResult:
    """Class-conditional one-coin Dawid-Skene, between one-coin and full DS: worker w recognises true class k with
    probability ``p_wk`` and otherwise picks a wrong label uniformly (K parameters per worker instead of 1 or
    K(K-1)). On two classes it is full DS. Same arguments and result as :func:`dawid_skene`."""
    return _fit(answers, gold, exclude_workers, init_posteriors, max_iter, tol, prior, _class_one_coin_confusion)


def dawid_skene_posteriors(
    answers: Answers, *, confusions: npt.ArrayLike, priors: npt.ArrayLike, prior: DirichletPrior | None = None
) -> FloatArray:
    """``P(true class of task t = k | its answers)`` under a model fitted before, without refitting: one E-step.

    ``confusions[w, k, l]`` (P(worker w answers l | truth k)) and ``priors[k]`` are laid out as a
    :class:`DawidSkeneResult` holds them. A worker whose matrix is unknown (a row of NaN, e.g. one who joined after
    the fit) counts as the mean of ``prior``, as DS rates a worker with no answers. A task with no answer gets
    ``priors``. It asks what some answers alone say, e.g. the other workers' answers on an appealed assignment's
    items: the cost is one sparse product over those answers, whatever the size of the fitted job.
    """
    k = answers.n_classes
    matrices = np.array(confusions, dtype=np.float64)
    class_priors = np.array(priors, dtype=np.float64)
    if matrices.shape != (answers.n_workers, k, k) or class_priors.shape != (k,):
        raise InvalidOptionError(f"need confusions of shape ({answers.n_workers}, {k}, {k}) and priors of shape ({k},)")
    unknown = np.isnan(matrices).any(axis=(1, 2))
    pseudo = (prior if prior is not None else DirichletPrior()).confusion_pseudo_counts(k)
    matrices[unknown] = pseudo / pseudo.sum(axis=1, keepdims=True)
    # Stored matrices are rounded: a 0 must stay a small probability, not a log 0 that no other answer can outvote.
    log_confusion = np.log(np.clip(matrices, _MIN_PROBABILITY, 1.0)).transpose(0, 2, 1).copy()
    log_joint = AnswerMatrix.build(answers).log_evidence(log_confusion)
    log_joint += np.log(np.clip(class_priors / class_priors.sum(), _MIN_PROBABILITY, 1.0))
    posteriors, _ = _normalise_log(log_joint)
    return posteriors


def _fit(
    answers: Answers,
    gold: GoldInput | None,
    exclude_workers: npt.ArrayLike | None,
    init_posteriors: npt.ArrayLike | None,
    max_iter: int,
    tol: float,
    prior: DirichletPrior | None,
    confusion_step: ConfusionStep,
    worker_prior_accuracy: npt.ArrayLike | None = None,
) -> DawidSkeneResult:
    if max_iter < 1 or not tol >= 0:
        raise InvalidOptionError("need max_iter >= 1 and tol >= 0")
    kept = answers.without_workers(exclude_workers)
    gold_labels = parse_gold(gold, n_tasks=kept.n_tasks, n_classes=kept.n_classes)
    warm = parse_init_posteriors(init_posteriors, n_tasks=kept.n_tasks, n_classes=kept.n_classes)
    prior = prior if prior is not None else DirichletPrior()
    task_counts = np.bincount(kept.tasks, minlength=kept.n_tasks).astype(np.int64)
    problem = _Problem(
        matrix=AnswerMatrix.build(kept),
        gold=gold_labels,
        informative=_informative_tasks(task_counts, gold_labels),
        pseudo=(
            prior.confusion_pseudo_counts(kept.n_classes)
            if worker_prior_accuracy is None
            else _per_worker(prior, kept, worker_prior_accuracy)
        ),
        prior=prior,
        confusion_step=confusion_step,
    )
    start = _initial_posteriors(kept, gold_labels, warm)
    fit = _em(problem, start, max_iter, tol)
    worker_counts = np.bincount(kept.workers, minlength=kept.n_workers).astype(np.int64)
    return _result(fit, task_counts, worker_counts)


def _per_worker(prior: DirichletPrior, answers: Answers, accuracy: npt.ArrayLike) -> FloatArray:
    pseudo = prior.worker_pseudo_counts(answers.n_classes, accuracy)
    if pseudo.shape[0] != answers.n_workers:
        raise InvalidOptionError("worker_prior_accuracy needs one entry per worker")
    return pseudo


def _em(problem: _Problem, posteriors: FloatArray, max_iter: int, tol: float) -> _Fit:
    history: list[float] = []
    for _ in range(max_iter):
        log_confusion, log_prior = _m_step(problem, posteriors)
        posteriors, log_likelihood = _e_step(problem, log_confusion, log_prior)
        history.append(log_likelihood + _log_prior_density(problem, log_confusion, log_prior))
        if _converged(history, tol):
            break
    return _Fit(posteriors, log_confusion, log_prior, log_likelihood, history, _converged(history, tol))


def _converged(history: list[float], tol: float) -> bool:
    # Relative, so that one tolerance fits a job of 100 answers and one of 10 million.
    return len(history) > 1 and abs(history[-1] - history[-2]) <= tol * abs(history[-1])


def _m_step(problem: _Problem, posteriors: FloatArray) -> tuple[FloatArray, FloatArray]:
    counts = problem.matrix.expected_counts(posteriors)
    confusion = problem.confusion_step(counts + problem.pseudo)
    class_counts = np.einsum("t,tk->k", problem.informative, posteriors) + problem.prior.classes
    return np.log(confusion), np.log(class_counts / class_counts.sum())


def _full_confusion(smoothed: FloatArray) -> FloatArray:
    """``π[w, k, ·]``: the smoothed counts ``(W, l, k)`` normalised over the answered label ``l``."""
    confusion: FloatArray = smoothed / smoothed.sum(axis=1, keepdims=True)
    return confusion


def _one_coin_confusion(smoothed: FloatArray) -> FloatArray:
    """Maximises ``Σ_{l,k} s[w,l,k] log π[w,l,k]`` under ``π = p_w`` on the diagonal, ``(1-p_w)/(K-1)`` off it:
    ``p_w`` = smoothed diagonal mass / smoothed total."""
    n_classes = smoothed.shape[1]
    diagonal = np.eye(n_classes, dtype=bool)
    accuracy = smoothed[:, diagonal].sum(axis=1) / smoothed.sum(axis=(1, 2))
    wrong = (1.0 - accuracy) / max(n_classes - 1, 1)
    confusion: FloatArray = np.where(diagonal, accuracy[:, None, None], wrong[:, None, None])
    return confusion


def _class_one_coin_confusion(smoothed: FloatArray) -> FloatArray:
    """Maximises the same sum under ``π = p_wk`` on the diagonal of true class k, ``(1-p_wk)/(K-1)`` off it:
    ``p_wk`` = the smoothed diagonal count of class k / the smoothed answers on class k."""
    n_classes = smoothed.shape[1]
    diagonal = np.eye(n_classes, dtype=bool)
    accuracy = np.einsum("wkk->wk", smoothed) / smoothed.sum(axis=1)  # (W, k): axis 1 is the answered label
    wrong = (1.0 - accuracy) / max(n_classes - 1, 1)
    confusion: FloatArray = np.where(diagonal[None], accuracy[:, None, :], wrong[:, None, :])
    return confusion


def _e_step(problem: _Problem, log_confusion: FloatArray, log_prior: FloatArray) -> tuple[FloatArray, float]:
    log_joint = problem.matrix.log_evidence(log_confusion)
    log_joint += log_prior
    gold = problem.gold
    if gold is None:
        posteriors, log_norm = _normalise_log(log_joint)
        return posteriors, float(log_norm.sum())
    known = log_joint[gold.tasks, gold.labels]
    posteriors, log_norm = _normalise_log(log_joint)
    # Only the known class is possible, so the task's likelihood term is the joint with its label.
    log_norm[gold.tasks] = known
    gold.clamp(posteriors)
    return posteriors, float(log_norm.sum())


def _normalise_log(log_joint: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Rows of ``exp(log_joint)`` normalised in place (log-sum-exp), and each row's ``log Z_t``.

    Row maxima and sums go column by column: NumPy's ``axis=1`` reductions over rows of only K entries cost
    several times more than the sparse products themselves, and a BLAS product (``@ ones``) would hand so
    small a job to OpenBLAS threads, whose start-up doubles the iteration time on a busy machine.
    Log-ratios to the row maximum are floored at ``_LOG_FLOOR``: below about -708, ``exp`` returns subnormal
    numbers, which the CPU processes tens of times slower (on confident data most entries land there), and a
    probability of e^-700 relative to the best class is 0 at float64 resolution anyway.
    """
    n_classes = log_joint.shape[1]
    top = log_joint[:, 0].copy()
    for k in range(1, n_classes):
        np.maximum(top, log_joint[:, k], out=top)
    log_joint -= top[:, None]
    np.maximum(log_joint, _LOG_FLOOR, out=log_joint)
    np.exp(log_joint, out=log_joint)
    totals = log_joint[:, 0].copy()
    for k in range(1, n_classes):
        totals += log_joint[:, k]
    log_joint /= totals[:, None]
    return log_joint, top + np.log(totals)


def _log_prior_density(problem: _Problem, log_confusion: FloatArray, log_prior: FloatArray) -> float:
    # Dirichlet log densities up to constants, so that "penalised log-likelihood" is what MAP-EM increases.
    confusion_term = float((log_confusion * problem.pseudo).sum())  # pseudo: (l, k) for all, or (W, l, k)
    return float(confusion_term + problem.prior.classes * log_prior.sum())


def _informative_tasks(task_counts: npt.NDArray[np.int64], gold: Gold | None) -> FloatArray:
    # A task nobody answered says nothing about ρ; counting its posterior (= ρ itself) only slows EM down.
    informative = (task_counts > 0).astype(np.float64)
    if gold is not None:
        informative[gold.tasks] = 1.0
    return informative


def _initial_posteriors(
    answers: Answers, gold: Gold | None, warm: tuple[FloatArray, npt.NDArray[np.bool_]] | None
) -> FloatArray:
    """What the first M-step counts: previous posteriors (warm start), else the gold tasks alone, else
    majority-vote shares.

    Why gold alone: workers are first judged against the known answers, as a requester would, and EM refines
    from there. Starting from majority vote instead would let a majority that is consistently wrong (two
    workers who swap two classes against one honest worker) define the labels: that optimum is a fixed point
    of EM, and a few gold tasks cannot pull it out. A zero row counts for nothing, and with little gold the
    prior keeps the first confusions close to "everyone 80% right", i.e. close to majority vote.
    """
    if warm is None and gold is not None:
        posteriors = np.zeros((answers.n_tasks, answers.n_classes))
        gold.clamp(posteriors)
        return posteriors
    posteriors = vote_shares(answers.vote_counts())
    if warm is not None:
        previous, known = warm
        posteriors[known] = previous[known]
    if gold is not None:
        gold.clamp(posteriors)
    return posteriors


def _result(fit: _Fit, task_counts: npt.NDArray[np.int64], worker_counts: npt.NDArray[np.int64]) -> DawidSkeneResult:
    confusions = np.ascontiguousarray(np.exp(fit.log_confusion).transpose(0, 2, 1))
    priors = np.exp(fit.log_prior)
    return DawidSkeneResult(
        posteriors=fit.posteriors,
        labels=fit.posteriors.argmax(axis=1).astype(np.int64),
        confidence=fit.posteriors.max(axis=1, initial=0.0),
        confusions=confusions,
        priors=priors,
        worker_accuracy=np.einsum("wkk,k->w", confusions, priors),
        worker_answer_counts=worker_counts,
        answer_counts=task_counts,
        log_likelihood=fit.log_likelihood,
        objective=fit.history[-1],
        iterations=len(fit.history),
        converged=fit.converged,
        history=tuple(fit.history),
    )

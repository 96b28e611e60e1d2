"""Pairwise comparisons: Bradley-Terry scores with a reliability per worker (CrowdBT), fitted by EM.

Model: item i has a score ``s_i ~ N(0, 1/λ)``; on task t (the pair L, R) the true order is "L first" with
probability ``σ(s_L − s_R)``. Worker w reports the true order with probability ``η_w`` and the reverse otherwise
(Chen et al., *Pairwise ranking aggregation in a crowdsourced setting*, WSDM 2013): a careless worker has η near
0.5, an adversarial one below. A tie (when allowed) says the two are close: half a win each, whatever the worker.

EM alternates:

- **E-step**: for each answer, ``h_n`` = P(the worker reported the true order | its answer, scores, η): the answer
  then counts as ``τ_n`` = P(L first) = ``h_n`` for "L", ``1 − h_n`` for "R" (a soft label). A gold pair fixes it.
- **M-step**: ``η_w = (Σ h_n + a) / (n_w + a + b)`` (Beta prior); one Newton step on the scores of the
  regularised logistic likelihood ``Σ τ log σ(d) + (1 − τ) log σ(−d) − λ/2 ‖s‖²``, whose Hessian is a weighted
  graph Laplacian plus λI (sparse, positive definite), solved by preconditioned conjugate gradients;
  ``λ = (n_items + 10) / (Σ (s² + var s) + 10)`` re-estimated each time (empirical Bayes: the spread of the
  scores sets the prior, with a hyperprior worth ten items at λ = 1).

Confidence: ``score_std`` from the Hessian's diagonal (each score's posterior spread, ignoring the others'), and
per task the probability of the chosen order, ``Φ(|s_L − s_R| / √(var_L + var_R))``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from scipy.special import expit, log_expit, ndtr

from marketplace.aggregation.crowd import CrowdAnswers, check_iterations, converged, gold_items, weighted_sums
from marketplace.aggregation.errors import InvalidAnswersError, InvalidGoldError
from marketplace.aggregation.inputs import FloatArray, IntArray, as_index_array, check_range

LEFT, TIE, RIGHT = 1, 0, -1
_PRIOR_ITEMS = 10.0
_MAX_MARGIN = 50.0  # exp(50) is far from overflow, and σ(50) is 1 to double precision


@dataclass(frozen=True, eq=False)
class PairwiseAnswers(CrowdAnswers):
    """Task t compares items ``task_left[t]`` and ``task_right[t]``; answer i's ``outcomes[i]`` is ``LEFT`` (1),
    ``RIGHT`` (-1) or ``TIE`` (0)."""

    task_left: IntArray
    task_right: IntArray
    outcomes: IntArray
    n_items: int

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("task_left", "task_right"):
            object.__setattr__(self, name, as_index_array(getattr(self, name), name).astype(np.int64, copy=False))
            check_range(getattr(self, name), self.n_items, name)
        if not len(self.task_left) == len(self.task_right) == self.n_tasks:
            raise InvalidAnswersError("task_left and task_right need one entry per task")
        if (self.task_left == self.task_right).any():
            raise InvalidAnswersError("a task compares an item with itself")
        outcomes = np.asarray(self.outcomes)
        if outcomes.shape != (self.n_answers,) or not np.isin(outcomes, (LEFT, TIE, RIGHT)).all():
            raise InvalidAnswersError("outcomes must hold 1 (left), 0 (tie) or -1 (right), one per answer")
        object.__setattr__(self, "outcomes", outcomes.astype(np.int64))


@dataclass(frozen=True)
class ReliabilityPrior:
    """Beta pseudo-counts on η: ``right`` reports of the true order and ``wrong`` reversed ones."""

    right: float = 8.0
    wrong: float = 2.0


@dataclass(frozen=True, eq=False)
class PairwiseResult:
    """``scores`` / ``score_std`` per item (logit units, mean about 0); per task the order the scores give,
    ``winners`` (LEFT or RIGHT), and its probability ``confidence``; ``worker_reliability`` η per worker."""

    scores: FloatArray
    score_std: FloatArray
    winners: IntArray
    confidence: FloatArray
    worker_reliability: FloatArray
    answer_counts: npt.NDArray[np.int64]
    worker_answer_counts: npt.NDArray[np.int64]
    log_likelihood: float
    iterations: int
    converged: bool


@dataclass(frozen=True, eq=False)
class _Job:
    """Per kept answer: its task, outcome, worker and gold order; per task: the pair and the answers counted.

    The scores see the answers only through per-task sums (the margin is the task's), so the Newton step works on
    the tasks: ``pairs`` is the (tasks, items) incidence matrix, +1 at L and -1 at R.
    """

    tasks: IntArray
    outcomes: IntArray
    workers: IntArray
    gold_order: FloatArray  # per answer: P(L first) if its task is gold, NaN otherwise
    pairs: sp.csr_array
    task_left: IntArray
    task_right: IntArray
    answer_counts: FloatArray
    n_workers: int

    def margins(self, scores: FloatArray) -> FloatArray:
        """``s_L − s_R`` per answer."""
        by_task: FloatArray = scores[self.task_left] - scores[self.task_right]
        return by_task[self.tasks]


def crowd_bradley_terry(
    answers: PairwiseAnswers,
    *,
    gold: Mapping[int, int] | None = None,
    exclude_workers: npt.ArrayLike | None = None,
    max_iter: int = 200,
    tol: float = 1e-6,
    prior: ReliabilityPrior | None = None,
) -> PairwiseResult:
    """Fit scores and worker reliabilities by EM; ``gold`` maps a task to its known outcome (LEFT, RIGHT, TIE)."""
    return _fit(answers, gold, exclude_workers, max_iter, tol, prior if prior is not None else ReliabilityPrior())


def bradley_terry(
    answers: PairwiseAnswers,
    *,
    gold: Mapping[int, int] | None = None,
    exclude_workers: npt.ArrayLike | None = None,
    max_iter: int = 200,
    tol: float = 1e-6,
) -> PairwiseResult:
    """The baseline: every answer taken at face value (η = 1 for everyone), same prior on the scores."""
    return _fit(answers, gold, exclude_workers, max_iter, tol, None)


def _fit(
    answers: PairwiseAnswers,
    gold: Mapping[int, int] | None,
    exclude_workers: npt.ArrayLike | None,
    max_iter: int,
    tol: float,
    prior: ReliabilityPrior | None,
) -> PairwiseResult:
    """EM, or with ``prior`` None plain MAP Bradley-Terry (η fixed at 1: no E-step)."""
    check_iterations(max_iter, tol)
    job, keep = _prepare(answers, gold, exclude_workers)
    scores, precision, penalty = np.zeros(answers.n_items), np.ones(answers.n_items), 1.0
    reliability = np.full(answers.n_workers, 1.0 if prior is None else prior.right / (prior.right + prior.wrong))
    honest = np.ones(len(job.outcomes))
    history: list[float] = []
    for _ in range(max_iter):
        if prior is not None:
            honest = _honesty(job, scores, reliability)
            reliability = _reliability(job, honest, prior)
        scores, precision, penalty = _newton(job, _soft_outcomes(job, honest), scores, penalty)
        history.append(_log_likelihood(job, scores, reliability) - 0.5 * penalty * float(scores @ scores))
        if converged(history, tol):
            break
    return _result(answers, keep, scores, precision, reliability, history, tol)


def _prepare(
    answers: PairwiseAnswers, gold: Mapping[int, int] | None, exclude_workers: npt.ArrayLike | None
) -> tuple[_Job, npt.NDArray[np.bool_]]:
    keep = answers.kept(exclude_workers)
    tasks = answers.tasks[keep]
    n_tasks = answers.n_tasks
    rows = np.repeat(np.arange(n_tasks), 2)
    cols = np.stack([answers.task_left, answers.task_right], axis=1).ravel()
    pairs = sp.csr_array((np.tile([1.0, -1.0], n_tasks), (rows, cols)), shape=(n_tasks, answers.n_items))
    task_order = np.full(n_tasks, np.nan)
    for task, outcome in gold_items(gold, n_tasks=n_tasks):
        if outcome not in (LEFT, TIE, RIGHT):
            raise InvalidGoldError(f"gold outcome of task {task} must be 1 (left), 0 (tie) or -1 (right)")
        task_order[task] = (outcome + 1) / 2
    job = _Job(
        tasks=tasks,
        outcomes=answers.outcomes[keep],
        workers=answers.workers[keep],
        gold_order=task_order[tasks],
        pairs=pairs,
        task_left=answers.task_left,
        task_right=answers.task_right,
        answer_counts=np.bincount(tasks, minlength=n_tasks).astype(np.float64),
        n_workers=answers.n_workers,
    )
    return job, keep


def _honesty(job: _Job, scores: FloatArray, reliability: FloatArray) -> FloatArray:
    """P(the answer reports the true order): Bayes between "as said" and "reversed" (0.5 for a tie).

    With ``g = exp(−margin of the order said)``: ``h = η σ(m) / (η σ(m) + (1 − η) σ(−m)) = 1 / (1 + g (1 − η) / η)``,
    one multiplication per answer once ``g`` is known per task and direction.
    """
    eta = np.clip(reliability, 1e-12, 1 - 1e-12)
    honest: FloatArray = 1.0 / (1.0 + _reversal_odds(job, scores) * ((1.0 - eta) / eta)[job.workers])
    honest[job.outcomes == TIE] = 0.5
    gold = ~np.isnan(job.gold_order)
    # A gold answer is honest when it agrees with the key (a tie key leaves it undecided).
    said_left = (job.outcomes[gold] + 1) / 2
    honest[gold] = 1.0 - np.abs(said_left - job.gold_order[gold])
    return honest


def _reversal_odds(job: _Job, scores: FloatArray) -> FloatArray:
    """Per answer, ``σ(−m) / σ(m) = exp(−m)`` for the margin m of the order it reported (1 for a tie): the
    exponentials are taken per task, the answers only look them up."""
    margin = np.clip(scores[job.task_left] - scores[job.task_right], -_MAX_MARGIN, _MAX_MARGIN)
    against_left, against_right = np.exp(-margin), np.exp(margin)
    odds: FloatArray = np.where(job.outcomes == LEFT, against_left[job.tasks], against_right[job.tasks])
    odds[job.outcomes == TIE] = 1.0
    return odds


def _reliability(job: _Job, honest: FloatArray, prior: ReliabilityPrior) -> FloatArray:
    decided = (job.outcomes != TIE).astype(np.float64)
    right = weighted_sums(job.workers, honest * decided, job.n_workers)
    total = weighted_sums(job.workers, decided, job.n_workers)
    eta: FloatArray = (right + prior.right) / (total + prior.right + prior.wrong)
    return np.clip(eta, 1e-6, 1 - 1e-6)


def _soft_outcomes(job: _Job, honest: FloatArray) -> FloatArray:
    """τ_n = P(L first) given the answer: ``h`` for "L", ``1 − h`` for "R", 0.5 for a tie."""
    tau = np.where(job.outcomes == LEFT, honest, 1.0 - honest)
    tau[job.outcomes == TIE] = 0.5
    gold = ~np.isnan(job.gold_order)
    tau[gold] = job.gold_order[gold]
    return tau


def _newton(job: _Job, tau: FloatArray, scores: FloatArray, penalty: float) -> tuple[FloatArray, FloatArray, float]:
    """One Newton step on the scores, then the empirical-Bayes λ; returns scores, Hessian diagonal, λ.

    The Hessian ``Pᵀ diag(c) P + λI`` (P: the task-item incidence, c: each task's answers × p(1 − p)) is never
    built: conjugate gradients only need its product with a vector, two sparse products.
    """
    p = expit(scores[job.task_left] - scores[job.task_right])
    curvature = job.answer_counts * p * (1.0 - p) + 1e-12
    wins = weighted_sums(job.tasks, tau, len(p))  # expected "L first" answers per task
    gradient = job.pairs.T @ (wins - job.answer_counts * p) - penalty * scores
    n_items = len(scores)
    diagonal = weighted_sums(job.task_left, curvature, n_items) + weighted_sums(job.task_right, curvature, n_items)
    diagonal += penalty
    pairs, pairs_t = job.pairs, job.pairs.T.tocsr()

    def product(vector: FloatArray) -> FloatArray:
        out: FloatArray = pairs_t @ (curvature * (pairs @ vector)) + penalty * vector
        return out

    hessian = spla.LinearOperator((n_items, n_items), matvec=product, dtype=np.float64)
    # An inexact step is enough inside EM: the next iteration corrects it.
    step, _ = spla.cg(hessian, gradient, rtol=1e-3, maxiter=100, M=sp.diags_array(1.0 / diagonal))
    scores = scores + step
    scores -= scores.mean()  # the likelihood sees only differences; the prior centres them
    # A Gamma hyperprior (mean 1, the weight of _PRIOR_ITEMS items) keeps λ finite when the data cannot tell:
    # with few comparisons per item the scores shrink, which raises λ, which shrinks them further.
    penalty = (n_items + _PRIOR_ITEMS) / (float(scores @ scores + (1.0 / diagonal).sum()) + _PRIOR_ITEMS)
    return scores, diagonal, penalty


def _log_likelihood(job: _Job, scores: FloatArray, reliability: FloatArray) -> float:
    """``Σ log(η σ(m) + (1 − η) σ(−m)) = Σ log((η + (1 − η) g) / (1 + g))`` with ``g`` as in :func:`_honesty`; a
    tie contributes ``(log σ(m) + log σ(−m)) / 2``."""
    odds = _reversal_odds(job, scores)
    eta = np.clip(reliability, 1e-12, 1 - 1e-12)[job.workers]
    terms = np.log((eta + (1.0 - eta) * odds) / (1.0 + odds))
    ties = job.outcomes == TIE
    if ties.any():
        margin = job.margins(scores)[ties]
        terms[ties] = 0.5 * (log_expit(margin) + log_expit(-margin))
    return float(terms.sum())


def _result(
    answers: PairwiseAnswers,
    keep: npt.NDArray[np.bool_],
    scores: FloatArray,
    precision: FloatArray,
    reliability: FloatArray,
    history: list[float],
    tol: float,
) -> PairwiseResult:
    variance = 1.0 / precision
    margin = scores[answers.task_left] - scores[answers.task_right]
    spread = np.sqrt(variance[answers.task_left] + variance[answers.task_right])
    # Equal scores (a symmetric job, a pair nobody compared) differ by rounding errors at most: left wins them.
    winners = np.where(margin >= -1e-9, LEFT, RIGHT).astype(np.int64)
    return PairwiseResult(
        scores=scores,
        score_std=np.sqrt(variance),
        winners=winners,
        confidence=ndtr(np.abs(margin) / spread),
        worker_reliability=reliability,
        answer_counts=answers.task_counts(keep),
        worker_answer_counts=answers.worker_counts(keep),
        log_likelihood=history[-1],
        iterations=len(history),
        converged=converged(history, tol),
    )

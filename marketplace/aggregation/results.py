"""Results of the aggregation methods: frozen dataclasses of NumPy arrays, indexed like the inputs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from marketplace.aggregation.inputs import FloatArray

LabelArray = npt.NDArray[np.int64]


@dataclass(frozen=True, eq=False)
class MajorityVoteResult:
    """Vote shares per task.

    ``posteriors[t]`` is the share of task t's answers given to each label (uniform for a task with no
    answer, one-hot for a gold task); ``labels[t]`` its argmax, ties going to the lowest label index;
    ``confidence[t]`` the winning share; ``answer_counts[t]`` the number of answers counted.
    """

    posteriors: FloatArray
    labels: LabelArray
    confidence: FloatArray
    answer_counts: LabelArray


@dataclass(frozen=True, eq=False)
class DawidSkeneResult:
    """A fitted Dawid-Skene model and its posteriors.

    - ``posteriors`` ``(n_tasks, K)``: P(true label of t = k | answers); a task with no answer gets the class
      priors, a gold task a one-hot row. ``labels`` is the argmax (ties: lowest index), ``confidence`` the max.
    - ``confusions`` ``(n_workers, K, K)``: ``confusions[w, k, l]`` = P(worker w answers l | truth is k); each
      row sums to 1. A worker with no (kept) answer gets the smoothing prior's mean.
    - ``priors`` ``(K,)``: class priors ρ.
    - ``worker_accuracy`` ``(n_workers,)``: Σ_k ρ_k π[w, k, k], the chance the worker is right on a random task.
    - ``worker_answer_counts`` / ``answer_counts``: answers counted per worker / per task (after exclusion).
    - ``log_likelihood``: log p(answers, gold labels | fitted parameters).
    - ``objective``: ``log_likelihood`` plus the log Dirichlet prior: the quantity EM increases and that the
      convergence test watches; ``history`` holds it per iteration.
    - ``iterations``: EM iterations run (an M-step then an E-step each); ``converged``: stopped on tolerance.
    """

    posteriors: FloatArray
    labels: LabelArray
    confidence: FloatArray
    confusions: FloatArray
    priors: FloatArray
    worker_accuracy: FloatArray
    worker_answer_counts: LabelArray
    answer_counts: LabelArray
    log_likelihood: float
    objective: float
    iterations: int
    converged: bool
    history: tuple[float, ...]

"""What every typed answer set shares: who answered which task, checked once, and the helpers the engines use.

The engines for multi-label, text, numeric and pairwise answers each take a frozen dataclass that extends
:class:`CrowdAnswers` with the answers themselves. Unlike :class:`~marketplace.aggregation.inputs.Answers` (single
choice, kept as it is), these refuse a worker who answers the same task twice: counting both would give that
worker double weight, and no rule for picking one is right for every caller, so the caller decides.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from marketplace.aggregation.errors import InvalidAnswersError, InvalidGoldError, InvalidOptionError
from marketplace.aggregation.inputs import BoolArray, FloatArray, IntArray, as_index_array, check_range

V = TypeVar("V")


@dataclass(frozen=True, eq=False)
class CrowdAnswers:
    """One row per answer: worker ``workers[i]`` answered task ``tasks[i]``; 0-based codes and explicit sizes."""

    tasks: IntArray
    workers: IntArray
    n_tasks: int
    n_workers: int

    def __post_init__(self) -> None:
        if self.n_tasks < 0 or self.n_workers < 0:
            raise InvalidAnswersError("need n_tasks >= 0 and n_workers >= 0")
        for name in ("tasks", "workers"):
            object.__setattr__(self, name, as_index_array(getattr(self, name), name).astype(np.int64, copy=False))
        if len(self.tasks) != len(self.workers):
            raise InvalidAnswersError("tasks and workers must have the same length")
        check_range(self.tasks, self.n_tasks, "tasks")
        check_range(self.workers, self.n_workers, "workers")
        _refuse_repeated_answers(self.tasks, self.workers, self.n_workers)

    @property
    def n_answers(self) -> int:
        return len(self.tasks)

    def kept(self, exclude_workers: npt.ArrayLike | None) -> BoolArray:
        """A mask of the answers to count: every answer but those of ``exclude_workers`` (e.g. blocked workers)."""
        keep = np.ones(self.n_answers, dtype=bool)
        if exclude_workers is None:
            return keep
        excluded = as_index_array(exclude_workers, "exclude_workers")
        check_range(excluded, self.n_workers, "exclude_workers")
        blocked = np.zeros(self.n_workers, dtype=bool)
        blocked[excluded] = True
        return ~blocked[self.workers]

    def task_counts(self, keep: BoolArray) -> npt.NDArray[np.int64]:
        return np.bincount(self.tasks[keep], minlength=self.n_tasks).astype(np.int64)

    def worker_counts(self, keep: BoolArray) -> npt.NDArray[np.int64]:
        return np.bincount(self.workers[keep], minlength=self.n_workers).astype(np.int64)


def _refuse_repeated_answers(tasks: IntArray, workers: IntArray, n_workers: int) -> None:
    if len(tasks) < 2:
        return
    pairs = tasks * max(n_workers, 1) + workers
    order = np.argsort(pairs, kind="stable")
    repeated = np.flatnonzero(pairs[order][1:] == pairs[order][:-1])
    if repeated.size:
        first, second = sorted((int(order[repeated[0]]), int(order[repeated[0] + 1])))
        raise InvalidAnswersError(
            f"worker {int(workers[first])} answered task {int(tasks[first])} twice (answers {first} and {second})"
        )


def gold_items(gold: Mapping[int, V] | None, *, n_tasks: int) -> list[tuple[int, V]]:
    """``gold`` as ``(task index, known answer)`` pairs sorted by task, range-checked; ``None`` gives ``[]``."""
    if not gold:
        return []
    tasks = np.fromiter((int(task) for task in gold), dtype=np.int64, count=len(gold))
    try:
        check_range(tasks, n_tasks, "gold tasks")
    except InvalidAnswersError as exc:
        raise InvalidGoldError(str(exc)) from exc
    return sorted(gold.items(), key=lambda pair: int(pair[0]))


def check_iterations(max_iter: int, tol: float) -> None:
    if max_iter < 1 or not tol >= 0:
        raise InvalidOptionError("need max_iter >= 1 and tol >= 0")


def converged(history: list[float], tol: float) -> bool:
    """Relative change of the last two objective values under ``tol`` (one tolerance for any job size)."""
    return len(history) > 1 and abs(history[-1] - history[-2]) <= tol * max(abs(history[-1]), 1e-12)


def weighted_sums(index: IntArray, weights: FloatArray, size: int) -> FloatArray:
    """``out[k] = Σ weights[i]`` over ``index[i] == k``: one bincount."""
    sums: FloatArray = np.bincount(index, weights=weights, minlength=size).astype(np.float64, copy=False)
    return sums


def as_float_array(values: npt.ArrayLike, name: str) -> FloatArray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise InvalidAnswersError(f"{name} must be a 1-D array, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise InvalidAnswersError(f"{name} must be finite numbers")
    return arr

"""Validated, integer-coded inputs: answers, gold labels, excluded workers, initial posteriors.

Everything here is checked once, up front and vectorised, so the EM loop can trust its arrays.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt

from marketplace.aggregation.errors import InvalidAnswersError, InvalidGoldError, InvalidOptionError

IntArray: TypeAlias = npt.NDArray[np.integer[Any]]
FloatArray: TypeAlias = npt.NDArray[np.float64]
BoolArray: TypeAlias = npt.NDArray[np.bool_]

#: Gold labels: ``{task index: label index}`` or a pair of equal-length arrays ``(task indices, label indices)``.
GoldInput: TypeAlias = Mapping[int, int] | tuple[npt.ArrayLike, npt.ArrayLike]


@dataclass(frozen=True, eq=False)
class Answers:
    """One row per answer: worker ``workers[i]`` gave label ``labels[i]`` to task ``tasks[i]``.

    Indices are 0-based codes. The sizes are explicit so that a task nobody answered yet, a worker whose
    answers were all excluded or a class nobody picked still gets its row in the results. Any integer dtype
    is accepted and kept as is, without a copy (int32 codes halve the memory of a large job), so the arrays
    must not be modified after validation.
    """

    tasks: IntArray
    workers: IntArray
    labels: IntArray
    n_tasks: int
    n_workers: int
    n_classes: int

    def __post_init__(self) -> None:
        if self.n_tasks < 0 or self.n_workers < 0 or self.n_classes < 1:
            raise InvalidAnswersError("need n_tasks >= 0, n_workers >= 0 and n_classes >= 1")
        for name in ("tasks", "workers", "labels"):
            object.__setattr__(self, name, as_index_array(getattr(self, name), name))
        if not len(self.tasks) == len(self.workers) == len(self.labels):
            raise InvalidAnswersError("tasks, workers and labels must have the same length")
        check_range(self.tasks, self.n_tasks, "tasks")
        check_range(self.workers, self.n_workers, "workers")
        check_range(self.labels, self.n_classes, "labels")

    @property
    def n_answers(self) -> int:
        return len(self.tasks)

    def without_workers(self, exclude_workers: npt.ArrayLike | None) -> Answers:
        """The same job without the answers of ``exclude_workers`` (e.g. workers blocked by quality control).

        Sizes are unchanged, so an excluded worker keeps its index (and gets a prior-only estimate).
        """
        if exclude_workers is None:
            return self
        excluded = as_index_array(exclude_workers, "exclude_workers")
        check_range(excluded, self.n_workers, "exclude_workers")
        if excluded.size == 0:
            return self
        blocked = np.zeros(self.n_workers, dtype=bool)
        blocked[excluded] = True
        return self.subset(~blocked[self.workers])

    def subset(self, keep: BoolArray) -> Answers:
        """The answers where ``keep`` (one flag per answer) is true; sizes unchanged, so every index keeps its row."""
        return Answers(
            tasks=self.tasks[keep],
            workers=self.workers[keep],
            labels=self.labels[keep],
            n_tasks=self.n_tasks,
            n_workers=self.n_workers,
            n_classes=self.n_classes,
        )

    def vote_counts(self) -> FloatArray:
        """Votes per task and label, shape ``(n_tasks, n_classes)``: one bincount, no loop over answers."""
        flat = self.tasks.astype(np.int64) * self.n_classes + self.labels
        counts = np.bincount(flat, minlength=self.n_tasks * self.n_classes)
        return counts.reshape(self.n_tasks, self.n_classes).astype(np.float64)


@dataclass(frozen=True, eq=False)
class Gold:
    """Known true labels for some tasks (unique task indices)."""

    tasks: npt.NDArray[np.int64]
    labels: npt.NDArray[np.int64]

    def clamp(self, posteriors: FloatArray) -> None:
        """Overwrite the gold tasks' rows with one-hot rows, in place."""
        posteriors[self.tasks] = 0.0
        posteriors[self.tasks, self.labels] = 1.0


def parse_gold(gold: GoldInput | None, *, n_tasks: int, n_classes: int) -> Gold | None:
    """Normalise ``gold`` to unique, range-checked index arrays; ``None`` or empty gives ``None``."""
    if gold is None:
        return None
    if isinstance(gold, Mapping):
        tasks_in: npt.ArrayLike = list(gold.keys())
        labels_in: npt.ArrayLike = list(gold.values())
    else:
        tasks_in, labels_in = gold
    try:
        tasks = as_index_array(tasks_in, "gold tasks").astype(np.int64)
        labels = as_index_array(labels_in, "gold labels").astype(np.int64)
        if len(tasks) != len(labels):
            raise InvalidAnswersError("gold tasks and labels must have the same length")
        check_range(tasks, n_tasks, "gold tasks")
        check_range(labels, n_classes, "gold labels")
    except InvalidAnswersError as exc:
        raise InvalidGoldError(str(exc)) from exc
    if tasks.size == 0:
        return None
    return _deduplicate_gold(tasks, labels)


def _deduplicate_gold(tasks: npt.NDArray[np.int64], labels: npt.NDArray[np.int64]) -> Gold:
    # Repeating a task with the same label is harmless; two different labels for one task is a data error.
    pairs = np.unique(np.stack([tasks, labels], axis=1), axis=0)
    unique_tasks, counts = np.unique(pairs[:, 0], return_counts=True)
    if (counts > 1).any():
        bad = int(unique_tasks[np.argmax(counts > 1)])
        raise InvalidGoldError(f"gold gives task {bad} more than one label")
    return Gold(tasks=pairs[:, 0].copy(), labels=pairs[:, 1].copy())


def parse_init_posteriors(
    init_posteriors: npt.ArrayLike | None, *, n_tasks: int, n_classes: int
) -> tuple[FloatArray, BoolArray] | None:
    """Validate warm-start posteriors: rows normalised, and a mask of the rows that are known.

    A row holding any NaN means "no previous estimate" (a new task): the caller fills it from majority vote.
    """
    if init_posteriors is None:
        return None
    post = np.array(init_posteriors, dtype=np.float64)
    if post.shape != (n_tasks, n_classes):
        raise InvalidOptionError(f"init_posteriors must have shape ({n_tasks}, {n_classes}), got {post.shape}")
    known: npt.NDArray[np.bool_] = np.logical_not(np.isnan(post).any(axis=1))
    rows = post[known]
    sums = rows.sum(axis=1)
    if (rows < 0).any() or np.isinf(rows).any() or (sums <= 0).any():
        raise InvalidOptionError("init_posteriors rows must be finite, non-negative and not all zero")
    post[known] = rows / sums[:, None]
    return post, known


def as_index_array(values: npt.ArrayLike, name: str) -> IntArray:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise InvalidAnswersError(f"{name} must be a 1-D array, got shape {arr.shape}")
    if arr.size == 0:
        return arr.astype(np.int64)
    if not np.issubdtype(arr.dtype, np.integer):
        raise InvalidAnswersError(f"{name} must hold integer codes, got dtype {arr.dtype}")
    return arr


def check_range(values: IntArray, size: int, name: str) -> None:
    if values.size and (int(values.min()) < 0 or int(values.max()) >= size):
        raise InvalidAnswersError(f"{name} must lie in [0, {size}), got [{values.min()}, {values.max()}]")

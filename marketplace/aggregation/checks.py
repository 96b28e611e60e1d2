"""Helpers shared by the structured answer types (boxes, spans): checks of integer arrays, ranges, one answer
per (task, worker), and the expansion of ranges into rows."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from marketplace.aggregation.errors import InvalidAnswersError

Int64Array = npt.NDArray[np.int64]


def int64_array(values: npt.ArrayLike, name: str) -> Int64Array:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise InvalidAnswersError(f"{name} must be a 1-D array, got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise InvalidAnswersError(f"{name} must hold integers, got dtype {arr.dtype}")
    return arr.astype(np.int64, copy=False)


def check_range(values: Int64Array, size: int, name: str) -> None:
    if values.size and (int(values.min()) < 0 or int(values.max()) >= size):
        raise InvalidAnswersError(f"{name} must lie in [0, {size}), got [{values.min()}, {values.max()}]")


def check_unique_responses(tasks: Int64Array, workers: Int64Array) -> None:
    if not len(tasks):
        return
    keys = tasks * (int(workers.max()) + 1) + workers
    unique, counts = np.unique(keys, return_counts=True)
    if (counts > 1).any():
        task, worker = divmod(int(unique[np.argmax(counts > 1)]), int(workers.max()) + 1)
        raise InvalidAnswersError(f"worker {worker} answered task {task} more than once")


def expand(first: Int64Array, size: Int64Array) -> tuple[Int64Array, Int64Array]:
    """``(group, step)`` for every element of the ranges ``[first[g], first[g] + size[g])``: element
    ``first[group] + step``. Sizes of 0 contribute nothing."""
    group = np.repeat(np.arange(len(first)), size)
    step = np.arange(int(size.sum())) - np.repeat(np.cumsum(size) - size, size)
    return group, step


def without_workers(
    workers: Int64Array, n_workers: int, exclude_workers: npt.ArrayLike, item_responses: Int64Array
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_], Int64Array]:
    """For answers made of responses and items (boxes, spans) pointing at them: the responses kept, the items
    kept, and the kept items' response indices renumbered among the kept responses."""
    excluded = int64_array(exclude_workers, "exclude_workers")
    check_range(excluded, n_workers, "exclude_workers")
    blocked = np.zeros(n_workers, dtype=bool)
    blocked[excluded] = True
    keep = ~blocked[workers]
    kept_items = keep[item_responses]
    return keep, kept_items, (np.cumsum(keep) - 1)[item_responses[kept_items]]

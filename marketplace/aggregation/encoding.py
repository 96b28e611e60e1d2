"""Integer codes for arbitrary task, worker and label keys (strings from a CSV file, database ids...).

Tasks and workers are numbered in order of first appearance, so results come back in input order; classes
are numbered in sorted key order unless given explicitly, which fixes what "lowest label index" means when
majority vote breaks a tie. All vectorised (``np.unique``, ``np.searchsorted``): no loop over answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from marketplace.aggregation.errors import InvalidAnswersError
from marketplace.aggregation.inputs import Answers

KeyArray = npt.NDArray[Any]


@dataclass(frozen=True, eq=False)
class Codebook:
    """Original keys by code: ``tasks[i]`` is the key of task index ``i``; likewise workers and classes."""

    tasks: KeyArray
    workers: KeyArray
    classes: KeyArray


def encode_answers(
    tasks: npt.ArrayLike,
    workers: npt.ArrayLike,
    labels: npt.ArrayLike,
    *,
    classes: npt.ArrayLike | None = None,
) -> tuple[Answers, Codebook]:
    """Code the three key columns of a list of answers.

    ``classes`` lists every possible label (e.g. a job's choices, some of which nobody may have picked);
    without it the classes are the distinct answered labels, sorted.
    """
    task_keys, task_codes = first_appearance_codes(tasks)
    worker_keys, worker_codes = first_appearance_codes(workers)
    class_keys = np.unique(np.asarray(labels)) if classes is None else np.asarray(classes)
    if class_keys.ndim != 1 or len(np.unique(class_keys)) != len(class_keys) or len(class_keys) == 0:
        raise InvalidAnswersError("classes must be a non-empty list of distinct keys")
    answers = Answers(
        tasks=task_codes,
        workers=worker_codes,
        labels=encode_keys(labels, class_keys, what="label"),
        n_tasks=len(task_keys),
        n_workers=len(worker_keys),
        n_classes=len(class_keys),
    )
    return answers, Codebook(tasks=task_keys, workers=worker_keys, classes=class_keys)


def first_appearance_codes(values: npt.ArrayLike) -> tuple[KeyArray, npt.NDArray[np.int64]]:
    """Distinct keys in order of first appearance, and each value's code into them."""
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise InvalidAnswersError(f"expected a 1-D list of keys, got shape {arr.shape}")
    uniques, first_index, inverse = np.unique(arr, return_index=True, return_inverse=True)
    order = np.argsort(first_index, kind="stable")
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return uniques[order], rank[inverse.reshape(-1)]


def encode_keys(keys: npt.ArrayLike, vocabulary: npt.ArrayLike, *, what: str = "key") -> npt.NDArray[np.int64]:
    """Codes of ``keys`` in ``vocabulary`` (distinct keys); names the first key that is not in it."""
    arr = np.asarray(keys)
    vocab = np.asarray(vocabulary)
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.argsort(vocab, kind="stable")
    sorted_vocab = vocab[order]
    position = np.clip(np.searchsorted(sorted_vocab, arr), 0, max(len(vocab) - 1, 0))
    found = (sorted_vocab[position] == arr) if len(vocab) else np.zeros(arr.shape, dtype=bool)
    if not found.all():
        raise InvalidAnswersError(f"unknown {what} {arr[np.argmin(found)].item()!r}")
    return order[position].astype(np.int64)

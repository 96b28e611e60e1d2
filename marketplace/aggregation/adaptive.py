"""Adaptive overlap: spend answers on the items that are still uncertain, stop on the ones that are settled.

With ``overlap_min < overlap_max``, every micro-task starts with an overlap target of ``overlap_min`` answers.
After each re-aggregation (Dawid-Skene, warm-started from the previous posteriors) :func:`overlap_targets`
decides, per micro-task, whether it gets one more answer:

- an item is **settled** when its posterior confidence has reached ``confidence_target`` with at least
  ``overlap_min`` answers (:func:`settled_items`);
- a micro-task whose items are all settled **stops**: its target stays where it is (no new slot);
- a micro-task with an uncertain item whose answers have reached its target **grows by one**, up to
  ``overlap_max``; one still waiting for the answers of its current target keeps it;
- targets never decrease (a slot a worker may already hold is never taken back) and never exceed
  ``overlap_max``.

The rule is stateless: it looks only at the current posteriors, so a micro-task that stopped resumes if a
later re-aggregation drops one of its items below the target (e.g. once a worker it trusted turns out to be a
spammer). Run it again after every re-aggregation until no target moves.

Vocabulary: the engine's other functions call "task" what is aggregated (here an **item**, one row of
``Answers``); a **micro-task** (``task`` below) groups ``items_per_task`` items answered together by one worker.

Design choice: a micro-task keeps receiving assignments while **any** of its items is uncertain. Every item
of a micro-task then keeps the same answer count, which is what the assignment engine's per-task counters
(``MicroTask.overlap_target`` / ``assigned_count`` / ``submitted_count``) and the "a worker answers a whole
micro-task" rule assume. The cost: the already-confident items of a growing micro-task receive extra answers
that change nothing, so the saving shrinks as ``items_per_task`` grows: the more items, the likelier one of
them is uncertain. On the simulated crowd of ``tests/aggregation/test_adaptive.py`` (4 classes, 3..7 answers,
target 0.95), adaptive overlap is more accurate than fixed overlap 5 and needs 75% of its answers with 1 item
per micro-task, 97% with 4 and 111% with 10 (still more accurate there than fixed 6, for fewer answers).
Splitting uncertain items into new micro-tasks would avoid that waste at the price of a second kind of task.

Pure and vectorised: NumPy reductions over items (``np.bincount``, ``np.minimum.at``), no Python loop.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from marketplace.aggregation.errors import InvalidOptionError
from marketplace.aggregation.inputs import BoolArray

TargetArray = npt.NDArray[np.int64]


def settled_items(
    *, confidence: npt.ArrayLike, answer_counts: npt.ArrayLike, overlap_min: int, confidence_target: float
) -> BoolArray:
    """Mask of the items whose confidence has reached ``confidence_target`` with at least ``overlap_min``
    answers; ``.sum()`` counts them. A NaN confidence is never settled."""
    conf = np.asarray(confidence, dtype=np.float64)
    counts = np.asarray(answer_counts)
    settled: BoolArray = (conf >= float(confidence_target)) & (counts >= overlap_min)
    return settled


def initial_overlap_targets(n_tasks: int, *, overlap_min: int) -> TargetArray:
    """Every micro-task starts at ``overlap_min`` answers."""
    return np.full(n_tasks, overlap_min, dtype=np.int64)


def overlap_targets(
    *,
    confidence: npt.ArrayLike,
    answer_counts: npt.ArrayLike,
    task_of_item: npt.ArrayLike,
    current_targets: npt.ArrayLike,
    overlap_min: int,
    overlap_max: int,
    confidence_target: float,
) -> TargetArray:
    """New overlap target of each micro-task, shape ``(n_tasks,)``, from its items' current posteriors.

    - ``confidence`` ``(n_items,)``: posterior probability of each item's label (``DawidSkeneResult.confidence``);
    - ``answer_counts`` ``(n_items,)``: answers each item has now (``DawidSkeneResult.answer_counts``);
    - ``task_of_item`` ``(n_items,)``: micro-task index of each item, in ``[0, n_tasks)``;
    - ``current_targets`` ``(n_tasks,)``: each micro-task's current target (:func:`initial_overlap_targets`
      at first); ``n_tasks`` is its length, so a micro-task with no item keeps its target.

    A micro-task's answer count is the smallest count among its items. One whose items are all settled gets
    ``max(current target, answer count)``: it stops. One with an uncertain item whose count has reached its
    target gets ``count + 1`` (i.e. target + 1, since the count never exceeds the target in the marketplace),
    capped at ``overlap_max``; otherwise it keeps its target. The result is never below ``current_targets``.
    """
    conf, counts, task, current = _validated(
        confidence, answer_counts, task_of_item, current_targets, overlap_min, overlap_max, confidence_target
    )
    n_tasks = len(current)
    settled = settled_items(
        confidence=conf, answer_counts=counts, overlap_min=overlap_min, confidence_target=confidence_target
    )
    uncertain = np.bincount(task, weights=~settled, minlength=n_tasks) > 0
    task_counts = _task_answer_counts(counts, task, current)
    stopped = np.maximum(current, task_counts)
    grown = np.where(task_counts >= current, np.minimum(task_counts + 1, overlap_max), current)
    targets: TargetArray = np.maximum(current, np.where(uncertain, grown, stopped))
    return targets


def _task_answer_counts(counts: TargetArray, task: TargetArray, current: TargetArray) -> TargetArray:
    # The fewest answers among a micro-task's items: the task has reached its target once all of them have.
    # An empty micro-task keeps the sentinel, replaced by its target so that it neither stops nor grows.
    task_counts = np.full(len(current), np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(task_counts, task, counts)
    return np.where(task_counts == np.iinfo(np.int64).max, current, task_counts)


def _validated(
    confidence: npt.ArrayLike,
    answer_counts: npt.ArrayLike,
    task_of_item: npt.ArrayLike,
    current_targets: npt.ArrayLike,
    overlap_min: int,
    overlap_max: int,
    confidence_target: float,
) -> tuple[npt.NDArray[np.float64], TargetArray, TargetArray, TargetArray]:
    if not 1 <= overlap_min <= overlap_max:
        raise InvalidOptionError("need 1 <= overlap_min <= overlap_max")
    if not 0.0 < confidence_target <= 1.0:
        raise InvalidOptionError("confidence_target must lie in (0, 1]")
    conf = np.asarray(confidence, dtype=np.float64)
    counts = _int_array(answer_counts, "answer_counts")
    task = _int_array(task_of_item, "task_of_item")
    current = _int_array(current_targets, "current_targets")
    if conf.ndim != 1 or current.ndim != 1 or not conf.shape == counts.shape == task.shape:
        raise InvalidOptionError("confidence, answer_counts and task_of_item must be 1-D arrays of one length")
    if task.size and (task.min() < 0 or task.max() >= len(current)):
        raise InvalidOptionError(f"task_of_item must lie in [0, {len(current)})")
    if (counts < 0).any() or (current < 0).any():
        raise InvalidOptionError("answer_counts and current_targets must be non-negative")
    if (current > overlap_max).any():
        # Targets may neither decrease nor exceed overlap_max: no answer satisfies both.
        raise InvalidOptionError(f"current_targets must not exceed overlap_max ({overlap_max})")
    return conf, counts, task, current


def _int_array(values: npt.ArrayLike, name: str) -> TargetArray:
    arr = np.asarray(values)
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise InvalidOptionError(f"{name} must hold integers, got dtype {arr.dtype}")
    return arr.astype(np.int64, copy=False)

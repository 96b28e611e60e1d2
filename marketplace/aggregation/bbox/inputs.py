"""Box answers as arrays: one row per response (a worker's answer to an image, boxes or none), one per box.

A response with no box is an answer too ("nothing to mark here"): it is evidence against every box the others
drew, so responses and boxes are separate tables. Boxes are ``[x, y, w, h]`` in pixels, ``(x, y)`` the top-left
corner, as the answers give them; the engine works on corners ``[x1, y1, x2, y2]``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from marketplace.aggregation.checks import (
    Int64Array,
    check_range,
    check_unique_responses,
    int64_array,
    without_workers,
)
from marketplace.aggregation.errors import InvalidAnswersError, InvalidGoldError
from marketplace.aggregation.inputs import FloatArray

#: Gold boxes: ``{task index: [(x, y, w, h, label index), ...]}``; an empty list means "no object here".
BoxGoldInput = Mapping[int, Sequence[Sequence[float]]]


@dataclass(frozen=True, eq=False)
class BoxAnswers:
    """Workers' boxes on ``n_tasks`` images.

    Responses: worker ``workers[r]`` answered image ``tasks[r]`` (at most once per pair). Boxes: box ``i``
    belongs to response ``box_responses[i]``, is ``boxes[i] = [x, y, w, h]`` (finite, ``w, h > 0``) and has
    label ``labels[i]``. Arrays are converted (int64, float64) and must not change afterwards.
    """

    tasks: Int64Array
    workers: Int64Array
    box_responses: Int64Array
    boxes: FloatArray
    labels: Int64Array
    n_tasks: int
    n_workers: int
    n_classes: int = 1

    def __post_init__(self) -> None:
        if self.n_tasks < 0 or self.n_workers < 0 or self.n_classes < 1:
            raise InvalidAnswersError("need n_tasks >= 0, n_workers >= 0 and n_classes >= 1")
        for name in ("tasks", "workers", "box_responses", "labels"):
            object.__setattr__(self, name, int64_array(getattr(self, name), name))
        object.__setattr__(self, "boxes", _box_array(self.boxes, "boxes"))
        if len(self.tasks) != len(self.workers):
            raise InvalidAnswersError("tasks and workers must have the same length")
        if not len(self.box_responses) == len(self.boxes) == len(self.labels):
            raise InvalidAnswersError("box_responses, boxes and labels must have the same length")
        check_range(self.tasks, self.n_tasks, "tasks")
        check_range(self.workers, self.n_workers, "workers")
        check_range(self.box_responses, len(self.tasks), "box_responses")
        check_range(self.labels, self.n_classes, "labels")
        check_unique_responses(self.tasks, self.workers)

    @property
    def n_responses(self) -> int:
        return len(self.tasks)

    @property
    def box_tasks(self) -> Int64Array:
        return self.tasks[self.box_responses]

    @property
    def box_workers(self) -> Int64Array:
        return self.workers[self.box_responses]

    def without_workers(self, exclude_workers: npt.ArrayLike | None) -> BoxAnswers:
        """The same images without the responses (and boxes) of ``exclude_workers``; sizes unchanged."""
        if exclude_workers is None:
            return self
        keep, kept_boxes, responses = without_workers(self.workers, self.n_workers, exclude_workers, self.box_responses)
        return BoxAnswers(
            tasks=self.tasks[keep],
            workers=self.workers[keep],
            box_responses=responses,
            boxes=self.boxes[kept_boxes],
            labels=self.labels[kept_boxes],
            n_tasks=self.n_tasks,
            n_workers=self.n_workers,
            n_classes=self.n_classes,
        )


@dataclass(frozen=True, eq=False)
class BoxGold:
    """Known objects: ``gold_tasks`` are the images whose every object is known (possibly none); the boxes are
    ``(tasks, boxes, labels)`` rows."""

    gold_tasks: Int64Array
    tasks: Int64Array
    boxes: FloatArray
    labels: Int64Array


def parse_box_gold(gold: BoxGoldInput | None, *, n_tasks: int, n_classes: int) -> BoxGold | None:
    """Validate ``{task: [(x, y, w, h, label), ...]}``: tasks and labels in range, boxes finite with w, h > 0."""
    if not gold:
        return None
    rows = [(int(task), *map(float, box)) for task, boxes in gold.items() for box in boxes]
    if any(len(row) != 6 for row in rows):
        raise InvalidGoldError("each gold box must be (x, y, w, h, label)")
    table = np.array(rows, dtype=np.float64).reshape(-1, 6)
    try:
        gold_tasks = np.unique(int64_array(list(gold.keys()), "gold tasks"))
        check_range(gold_tasks, n_tasks, "gold tasks")
        labels = table[:, 5]
        if (labels != np.round(labels)).any():
            raise InvalidAnswersError("gold labels must be integer codes")
        check_range(labels.astype(np.int64), n_classes, "gold labels")
        boxes = _box_array(table[:, 1:5], "gold boxes")
    except InvalidAnswersError as exc:
        raise InvalidGoldError(str(exc)) from exc
    return BoxGold(gold_tasks, table[:, 0].astype(np.int64), boxes, table[:, 5].astype(np.int64))


def _box_array(values: npt.ArrayLike, name: str) -> FloatArray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.size == 0:
        return arr.reshape(0, 4)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise InvalidAnswersError(f"{name} must have shape (n, 4): [x, y, w, h] rows, got {arr.shape}")
    bad = ~np.isfinite(arr).all(axis=1) | (arr[:, 2] <= 0) | (arr[:, 3] <= 0)
    if bad.any():
        i = int(np.argmax(bad))
        raise InvalidAnswersError(f"{name} row {i} is {arr[i].tolist()}: need finite values and w, h > 0")
    return arr

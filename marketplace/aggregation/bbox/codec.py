"""The ``bbox`` rows of the command line: JSON answers to :class:`BoxAnswers`, aggregated boxes back to JSON.

An answer is a list of boxes ``[x, y, w, h, label]`` (``label`` a string or an integer; leave it out everywhere
for a job with one kind of object), or one bare box ``[x, y, w, h(, label)]``. When every answer (and gold) is a
bare box, each image has exactly one object: the output is one bare box per task. The confidence is the
probability that the task's boxes are exactly right (:attr:`BoxAggregationResult.task_confidence`).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from marketplace.aggregation.bbox.engine import box_aggregate
from marketplace.aggregation.bbox.inputs import BoxAnswers
from marketplace.aggregation.rows import Rows, first_appearance, unique_pairs

Label = str | int | None


@dataclass(frozen=True)
class _Answer:
    bare: bool
    boxes: list[tuple[float, float, float, float, Label]]


def aggregate_bbox_rows(answers: Rows, gold: Rows | None) -> tuple[list[tuple[str, str, str]], str]:
    tasks, workers = answers.columns["task"], answers.columns["worker"]
    unique_pairs(answers, tasks, workers)
    parsed = [_parse(answers, i) for i in range(len(answers))]
    gold_parsed = [_parse(gold, i) for i in range(len(gold))] if gold else []
    every = parsed + gold_parsed
    classes = _classes(answers, parsed, gold, gold_parsed)
    task_ids, worker_ids = first_appearance(tasks), first_appearance(workers)
    class_ids = {json.dumps(label): number for number, label in enumerate(classes)}
    box_rows = [(r, box) for r, answer in enumerate(parsed) for box in answer.boxes]
    job = BoxAnswers(
        tasks=np.array([task_ids[t] for t in tasks], dtype=np.int64),
        workers=np.array([worker_ids[w] for w in workers], dtype=np.int64),
        box_responses=np.array([r for r, _ in box_rows], dtype=np.int64),
        boxes=np.array([box[:4] for _, box in box_rows], dtype=np.float64).reshape(-1, 4),
        labels=np.array([class_ids[json.dumps(box[4])] for _, box in box_rows], dtype=np.int64),
        n_tasks=len(task_ids),
        n_workers=len(worker_ids),
        n_classes=len(classes),
    )
    known = {}
    for index, answer in enumerate(gold_parsed):
        if gold is not None and gold.columns["task"][index] in task_ids:
            known[task_ids[gold.columns["task"][index]]] = [(*b[:4], class_ids[json.dumps(b[4])]) for b in answer.boxes]
    single = all(answer.bare for answer in every)
    result = box_aggregate(job, gold=known, min_objects=int(single), max_objects=1 if single else None)
    per_task: list[list[Any]] = [[] for _ in task_ids]
    for task, box, label in zip(result.task.tolist(), result.box.tolist(), result.label.tolist(), strict=True):
        per_task[task].append([*map(_number, box)] + ([] if classes == [None] else [classes[label]]))
    rows = [
        (key, json.dumps(boxes[0] if single and boxes else boxes), f"{confidence:.6f}")
        for key, boxes, confidence in zip(task_ids, per_task, result.task_confidence.tolist(), strict=True)
    ]
    report = (
        f"tasks={len(task_ids)} workers={len(worker_ids)} boxes={len(box_rows)} gold={len(known)} "
        f"kept={len(result.task)}"
    )
    return rows, report


def _parse(rows: Rows, index: int) -> _Answer:
    value = rows.json(index)
    if isinstance(value, list) and value and not isinstance(value[0], list):
        return _Answer(True, [_box(rows, index, 0, value)])
    if not isinstance(value, list):
        raise rows.error(index, "answer must be a JSON list of [x, y, w, h, label] boxes")
    return _Answer(False, [_box(rows, index, number, box) for number, box in enumerate(value)])


def _box(rows: Rows, index: int, number: int, box: object) -> tuple[float, float, float, float, Label]:
    if not isinstance(box, list) or len(box) not in (4, 5):
        raise rows.error(index, f"box {number}: expected [x, y, w, h] or [x, y, w, h, label]")
    values = box[:4]
    if not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in values):
        raise rows.error(index, f"box {number}: x, y, w and h must be finite numbers")
    if values[2] <= 0 or values[3] <= 0:
        raise rows.error(index, f"box {number}: w and h must be > 0")
    label = box[4] if len(box) == 5 else None
    if label is not None and (not isinstance(label, str | int) or isinstance(label, bool)):
        raise rows.error(index, f"box {number}: label must be a string or an integer")
    return (float(values[0]), float(values[1]), float(values[2]), float(values[3]), label)


def _classes(answers: Rows, parsed: list[_Answer], gold: Rows | None, gold_parsed: list[_Answer]) -> list[Label]:
    """The distinct labels, sorted; ``[None]`` when no box has a label. Mixing both is an error."""
    found = {json.dumps(box[4]): box[4] for answer in parsed + gold_parsed for box in answer.boxes}
    if len(found) > 1 and "null" in found:
        for rows, answers_of in ((answers, parsed), (gold, gold_parsed)):
            for index, answer in enumerate(answers_of):
                if rows is not None and any(box[4] is None for box in answer.boxes):
                    raise rows.error(index, "a box has no label while other boxes have one")
    return sorted(found.values(), key=json.dumps) if found else [None]


def _number(value: float) -> float | int:
    rounded = round(value, 3)
    return int(rounded) if rounded.is_integer() else rounded

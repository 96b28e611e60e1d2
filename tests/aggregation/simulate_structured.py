"""Seeded crowds of boxes and spans whose truth is known by construction (tests and bench/spatial.py).

Both are vectorised, so the bench can build its 100,000-image and 100,000-sentence jobs in seconds. Worker
kinds are fixed by the worker's index: every ``spammer_every``-th worker is a spammer (random boxes or spans),
every ``sloppy_every``-th other one is sloppy (large localisation noise, boundary errors), the rest careful.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from marketplace.aggregation.bbox import BoxAnswers
from marketplace.aggregation.spans import SpanAnswers

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class BoxCrowd:
    answers: BoxAnswers
    truth_tasks: Ints
    truth_boxes: Floats  # [x, y, w, h]
    truth_labels: Ints
    spammers: Ints


@dataclass(frozen=True)
class SpanCrowd:
    answers: SpanAnswers
    truth_tasks: Ints
    truth_starts: Ints
    truth_ends: Ints
    truth_labels: Ints
    spammers: Ints


def _workers(n_tasks: int, per_task: int, n_workers: int, rng: np.random.Generator) -> tuple[Ints, Ints]:
    """``per_task`` distinct workers per task, drawn at random: random gaps that add up to less than the pool."""
    first = rng.integers(0, n_workers, n_tasks)
    gaps = rng.integers(1, max(n_workers // per_task, 2), (n_tasks, per_task))
    gaps[:, 0] = 0
    workers = (first[:, None] + np.cumsum(gaps, axis=1)) % n_workers
    return np.repeat(np.arange(n_tasks), per_task), workers.reshape(-1).astype(np.int64)


def box_crowd(
    n_images: int,
    *,
    per_image: int = 5,
    objects: int = 3,
    n_workers: int = 500,
    n_classes: int = 3,
    recall: float = 0.9,
    label_accuracy: float = 0.9,
    careful_noise: float = 0.03,
    sloppy_noise: float = 0.15,
    sloppy_every: int = 5,
    spammer_every: int = 25,
    seed: int = 0,
) -> BoxCrowd:
    """``objects`` labelled objects per 1000×800 image, one per cell of a row, so they never overlap; each worker
    draws each object with probability ``recall``, corners off by Gaussian noise of ``careful_noise`` (or
    ``sloppy_noise``) times the object's size, the right label with probability ``label_accuracy``; a spammer
    draws ``objects`` boxes anywhere."""
    rng = np.random.default_rng(seed)
    truth_tasks = np.repeat(np.arange(n_images), objects)
    cell = 1000.0 / objects
    size = rng.uniform(0.3, 0.9, (len(truth_tasks), 2)) * [cell, 700.0]
    corner = (
        rng.uniform(0, 1, (len(truth_tasks), 2)) * ([cell, 800.0] - size)
        + np.c_[np.tile(np.arange(objects), n_images) * cell, np.zeros(len(truth_tasks))]
    )
    truth = np.c_[corner, size]
    truth_labels = rng.integers(0, n_classes, len(truth_tasks))
    tasks, workers = _workers(n_images, per_image, n_workers, rng)
    spammer = np.arange(n_workers) % spammer_every == spammer_every - 1
    noise = np.where(np.arange(n_workers) % sloppy_every == 0, sloppy_noise, careful_noise)
    response = np.repeat(np.arange(len(tasks)), objects)
    target = tasks[response] * objects + np.tile(np.arange(objects), len(tasks))
    who = workers[response]
    drawn = spammer[who] | (rng.random(len(response)) < recall)
    scale = np.c_[size[target], size[target]] * noise[who][:, None]
    x1y1x2y2 = np.c_[truth[target, :2], truth[target, :2] + size[target]] + rng.normal(0, 1, (len(response), 4)) * scale
    x1y1x2y2[:, 2:] = np.maximum(x1y1x2y2[:, 2:], x1y1x2y2[:, :2] + 1.0)
    boxes = np.c_[x1y1x2y2[:, :2], x1y1x2y2[:, 2:] - x1y1x2y2[:, :2]]
    random_boxes = np.c_[rng.uniform(0, 900, (len(response), 2)), rng.uniform(20, 300, (len(response), 2))]
    boxes = np.where(spammer[who][:, None], random_boxes, boxes)
    right = rng.random(len(response)) < label_accuracy
    labels = np.where(right & ~spammer[who], truth_labels[target], rng.integers(0, n_classes, len(response)))
    answers = BoxAnswers(
        tasks=tasks,
        workers=workers,
        box_responses=response[drawn],
        boxes=boxes[drawn],
        labels=labels[drawn],
        n_tasks=n_images,
        n_workers=n_workers,
        n_classes=n_classes,
    )
    return BoxCrowd(answers, truth_tasks, truth, truth_labels, np.flatnonzero(spammer))


def span_crowd(
    n_texts: int,
    *,
    per_text: int = 5,
    slots: int = 4,
    slot_length: int = 6,
    n_workers: int = 300,
    n_classes: int = 4,
    entity_rate: float = 0.5,
    recall: float = 0.8,
    label_accuracy: float = 0.9,
    boundary_error: float = 0.1,
    sloppy_every: int = 5,
    spammer_every: int = 25,
    seed: int = 0,
) -> SpanCrowd:
    """Texts of ``slots × slot_length`` tokens; each slot holds an entity (1-3 tokens) with probability
    ``entity_rate``. A worker marks each entity with probability ``recall`` (sloppy: half as likely to get its
    boundaries right), the right label with probability ``label_accuracy``; a spammer marks one random span
    per slot."""
    rng = np.random.default_rng(seed)
    slot_tasks = np.repeat(np.arange(n_texts), slots)
    slot_first = np.tile(np.arange(slots) * slot_length, n_texts)
    present = rng.random(len(slot_tasks)) < entity_rate
    starts = slot_first + rng.integers(0, slot_length - 3, len(slot_tasks))
    ends = starts + rng.integers(1, 4, len(slot_tasks))
    labels = rng.integers(0, n_classes, len(slot_tasks))
    tasks, workers = _workers(n_texts, per_text, n_workers, rng)
    spammer = np.arange(n_workers) % spammer_every == spammer_every - 1
    sloppy = np.arange(n_workers) % sloppy_every == 0
    response = np.repeat(np.arange(len(tasks)), slots)
    slot = tasks[response] * slots + np.tile(np.arange(slots), len(tasks))
    who = workers[response]
    marked = np.where(
        spammer[who], rng.random(len(response)) < 0.5, present[slot] & (rng.random(len(response)) < recall)
    )
    shifted = rng.random(len(response)) < boundary_error * np.where(sloppy[who], 2.0, 1.0)
    end = np.where(shifted, ends[slot] + rng.choice([-1, 1], len(response)), ends[slot])
    end = np.clip(end, starts[slot] + 1, slot_first[slot] + slot_length)
    start = starts[slot]
    start = np.where(spammer[who], slot_first[slot] + rng.integers(0, slot_length - 1, len(response)), start)
    end = np.where(spammer[who], start + 1 + rng.integers(0, 2, len(response)), end)
    right = (rng.random(len(response)) < label_accuracy) & ~spammer[who]
    label = np.where(right, labels[slot], rng.integers(0, n_classes, len(response)))
    answers = SpanAnswers(
        tasks=tasks,
        workers=workers,
        span_responses=response[marked],
        starts=start[marked],
        ends=end[marked],
        labels=label[marked],
        lengths=np.full(n_texts, slots * slot_length),
        n_workers=n_workers,
        n_classes=n_classes,
    )
    return SpanCrowd(
        answers, slot_tasks[present], starts[present], ends[present], labels[present], np.flatnonzero(spammer)
    )

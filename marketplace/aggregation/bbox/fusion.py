"""Fuse each object's boxes into one, weighting each worker by its estimated localisation precision (EM).

Model: worker ``w``'s box for an object is the true box plus noise on each corner, of variance ``v_w`` in units
of the object's size (``x`` corners relative to its width, ``y`` corners to its height), with heavy tails (a
Student-t, ν = 3): a worker who now and then outlines half the object is not thrown off by one such box.

- **Fused box** (given the ``v_w``): per coordinate, the weighted median of the object's boxes, weights
  ``t_i / v_w`` (``t_i`` the Student-t weight of box i: small for a box far from the others). A median, not a
  mean: when workers split between two readings of an object, it stays with the heavier reading instead of
  averaging into a box nobody drew. Two boxes of equal weight fuse to their midpoint.
- **Worker precision** (given the boxes): ``v_w`` is the t-weighted mean of the worker's squared normalised
  residuals, each residual taken against the weighted mean of the **other** workers' boxes of that object, less
  that mean's own variance (``1 / Σ_{others} 1/v``), and shrunk toward the job's typical value by a prior of
  ``_PRIOR_BOXES`` boxes. Leaving the worker out is what stops EM from trusting a worker because the fused box
  sits on its own box. On a gold object the residual is taken against the gold box.
An object of one box carries no information on its worker. EM stops when at most 1% of the objects still see
a corner move by more than ``tol`` of their size and at most 1% of the workers see their variance move by more
than 1%, or after ``max_iter`` iterations. (A median is not a smooth M-step: an object of two or three boxes can
flip between them forever as their weights shift by a hair, and its workers' variances with it; on the
100,000-image bench 0.4% of the objects do, so no test on the largest move would ever be met.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from marketplace.aggregation.checks import Int64Array
from marketplace.aggregation.inputs import BoolArray, FloatArray

_DEGREES_OF_FREEDOM = 3.0
_PRIOR_BOXES = 3.0
_MIN_VARIANCE = 1e-6
_STILL_MOVING = 0.01  # converged: at most this share of objects (workers) still moves by more than tol (1%)
_VARIANCE_TOL = 0.01


@dataclass(frozen=True, eq=False)
class Fusion:
    """``boxes`` (objects, 4 corners); ``variance`` per worker (NaN: no information); per input box its
    normalised squared residual and its Student-t weight; iterations run and whether EM converged."""

    boxes: FloatArray
    variance: FloatArray
    residual: FloatArray
    weight: FloatArray
    iterations: int
    converged: bool


@dataclass(frozen=True, eq=False)
class _Members:
    objects: Int64Array
    workers: Int64Array
    corners: FloatArray
    columns: list[FloatArray]  # the corners' four columns, contiguous
    order: list[Int64Array]  # per coordinate: rows sorted by (object, value)
    starts: Int64Array  # first sorted row of each object (objects without boxes excluded)
    present: Int64Array  # the objects that have boxes, in object order


def fuse(
    objects: Int64Array,
    workers: Int64Array,
    corner_rows: FloatArray,
    *,
    n_objects: int,
    n_workers: int,
    known: BoolArray,
    known_boxes: FloatArray,
    max_iter: int = 30,
    tol: float = 1e-3,
) -> Fusion:
    """Fused corners of ``n_objects`` objects from the boxes ``corner_rows`` of ``workers`` in ``objects``;
    objects where ``known`` keep ``known_boxes`` (gold)."""
    members = _members(objects, workers, corner_rows)
    weights = np.ones(len(objects))
    fused = _fixed(_weighted_median(members, weights, n_objects), known, known_boxes)
    # The prior's centre: the typical squared residual of a box against its object's plain median.
    start = (((corner_rows - fused[objects]) / _sizes(fused)[objects]) ** 2).mean(axis=1)
    typical = max(float(np.median(start)) if len(start) else 1e-3, _MIN_VARIANCE)
    variance = np.full(n_workers, typical)
    converged = False
    iterations = 0
    recent: list[tuple[FloatArray, FloatArray]] = [(fused, variance)]  # the last two states
    for iterations in range(1, max_iter + 1):  # noqa: B007 - the count is reported
        residual = _loo_residual(members, fused, variance, known)
        informative = np.isfinite(residual)
        spread = np.where(informative, np.maximum(residual, 0.0), 0.0)
        t_weight = (_DEGREES_OF_FREEDOM + 1.0) / (_DEGREES_OF_FREEDOM + spread / variance[workers])
        counted = np.where(informative, t_weight, 0.0)
        variance = (np.bincount(workers, counted * spread, n_workers) + _PRIOR_BOXES * typical) / (
            np.bincount(workers, counted, n_workers) + _PRIOR_BOXES
        )
        variance = np.maximum(variance, _MIN_VARIANCE)
        fused = _fixed(_weighted_median(members, t_weight / variance[workers], n_objects), known, known_boxes)
        if _settled(fused, variance, recent, tol):
            converged = True
            break
        recent = [*recent[-1:], (fused, variance)]
    boxes_per_worker = np.bincount(workers[np.isfinite(residual)], minlength=n_workers)
    return Fusion(
        boxes=fused,
        variance=np.where(boxes_per_worker > 0, variance, np.nan),
        residual=residual,
        weight=t_weight if iterations else weights,
        iterations=iterations,
        converged=converged,
    )


def _settled(fused: FloatArray, variance: FloatArray, recent: list[tuple[FloatArray, FloatArray]], tol: float) -> bool:
    """At most 1% of the objects move by more than ``tol`` of their size and at most 1% of the workers' variances
    by more than 1%, each compared with the state one iteration back or, for a flip-flop, two."""
    size = np.maximum(_sizes(fused), 1e-12)
    boxes = np.min([(np.abs(fused - old) / size).max(axis=1) for old, _ in recent], axis=0) > tol
    spreads = np.min([np.abs(variance / old - 1.0) for _, old in recent], axis=0) > _VARIANCE_TOL
    return bool(boxes.sum() <= _STILL_MOVING * len(boxes) and spreads.sum() <= _STILL_MOVING * len(spreads))


def _members(objects: Int64Array, workers: Int64Array, corner_rows: FloatArray) -> _Members:
    columns = [np.ascontiguousarray(corner_rows[:, j]) for j in range(4)]
    order = [_by_object_then_value(objects, column) for column in columns]
    sorted_objects = objects[order[0]]
    boundaries: BoolArray | list[bool] = (
        np.concatenate([[True], sorted_objects[1:] != sorted_objects[:-1]]) if len(objects) else []
    )
    starts = np.flatnonzero(boundaries).astype(np.int64)
    return _Members(objects, workers, corner_rows, columns, order, starts, sorted_objects[starts])


def _by_object_then_value(objects: Int64Array, values: FloatArray) -> Int64Array:
    """Rows sorted by object, then value: one float sort of ``object + value scaled into [0, 0.5]`` (a lexsort is
    two passes). Objects stay below 2**26 and values keep ~25 bits, plenty to order one object's few boxes."""
    if not len(values) or objects.max() >= 1 << 26:
        return np.lexsort((values, objects))
    low, high = values.min(), values.max()
    scaled = (values - low) / (2 * (high - low)) if high > low else np.zeros_like(values)
    return np.argsort(objects + scaled, kind="stable")


def _weighted_median(members: _Members, weights: FloatArray, n_objects: int) -> FloatArray:
    """Per object and coordinate, the weighted median of its boxes; at an exact half, the midpoint of the two
    middle values (so two boxes of equal weight give their average). Objects without boxes get NaN."""
    fused = np.full((n_objects, 4), np.nan)
    if not len(members.objects):
        return fused
    ends = np.append(members.starts[1:], len(members.objects))
    for j, order in enumerate(members.order):
        cumulative = np.cumsum(weights[order])
        before = np.where(members.starts > 0, cumulative[members.starts - 1], 0.0)
        half = before + (cumulative[ends - 1] - before) / 2
        at = np.minimum(np.searchsorted(cumulative, half * (1 - 1e-12)), ends - 1)
        values = members.corners[order, j]
        exact = np.isclose(cumulative[at], half, rtol=1e-9) & (at + 1 < ends)
        upper = values[np.minimum(at + 1, len(values) - 1)]
        fused[members.present, j] = np.where(exact, (values[at] + upper) / 2, values[at])
    return fused


def _loo_residual(members: _Members, fused: FloatArray, variance: FloatArray, known: BoolArray) -> FloatArray:
    """Each box's mean squared corner residual, normalised by its object's size, against the precision-weighted
    mean of the other workers' boxes (less that mean's variance), or against the gold box; NaN when the object
    has no other box and no gold. Column by column: four 1-D passes cost far less than (n, 4) temporaries."""
    objects = members.objects
    n_objects = len(fused)
    precision = 1.0 / variance[members.workers]
    total = np.bincount(objects, precision, n_objects)
    others = total[objects] - precision
    gold = known[objects]
    sizes = _sizes(fused)
    residual = np.zeros(len(objects))
    with np.errstate(invalid="ignore", divide="ignore"):
        for j in range(4):
            column = members.columns[j]
            weighted = precision * column
            leave_one_out = (np.bincount(objects, weighted, n_objects)[objects] - weighted) / others
            if gold.any():
                leave_one_out[gold] = fused[objects[gold], j]
            residual += ((column - leave_one_out) / sizes[objects, j]) ** 2
        residual /= 4
        residual -= np.where(gold, 0.0, 1.0 / others)
    return np.where(gold | (others > 0), residual, np.nan)


def _sizes(corner_rows: FloatArray) -> FloatArray:
    """Width, height, width, height of each box: the scale of each corner coordinate."""
    width = corner_rows[:, 2] - corner_rows[:, 0]
    height = corner_rows[:, 3] - corner_rows[:, 1]
    return np.stack([width, height, width, height], axis=1)


def _fixed(fused: FloatArray, known: BoolArray, known_boxes: FloatArray) -> FloatArray:
    fused[known] = known_boxes[known]
    return fused

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
An object of one box carries no information on its worker. EM stops when no worker's variance moves by more
than ``tol`` (relative), or after ``max_iter`` iterations. (A median is not a smooth M-step: when one worker's
few boxes sit at the edge of their objects' medians, its variance can flip between two values ~1% apart
forever; the fused boxes do not change by more than a pixel's fraction by then.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from marketplace.aggregation.checks import Int64Array
from marketplace.aggregation.inputs import BoolArray, FloatArray

_DEGREES_OF_FREEDOM = 3.0
_PRIOR_BOXES = 3.0
_MIN_VARIANCE = 1e-6


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
    tol: float = 0.02,
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
    for iterations in range(1, max_iter + 1):  # noqa: B007 - the count is reported
        residual = _loo_residual(members, fused, variance, known)
        informative = np.isfinite(residual)
        spread = np.where(informative, np.maximum(residual, 0.0), 0.0)
        t_weight = (_DEGREES_OF_FREEDOM + 1.0) / (_DEGREES_OF_FREEDOM + spread / variance[workers])
        counted = np.where(informative, t_weight, 0.0)
        previous = variance
        variance = (np.bincount(workers, counted * spread, n_workers) + _PRIOR_BOXES * typical) / (
            np.bincount(workers, counted, n_workers) + _PRIOR_BOXES
        )
        variance = np.maximum(variance, _MIN_VARIANCE)
        fused = _fixed(_weighted_median(members, t_weight / variance[workers], n_objects), known, known_boxes)
        if np.abs(variance / previous - 1.0).max(initial=0.0) <= tol:
            converged = True
            break
    boxes_per_worker = np.bincount(workers[np.isfinite(residual)], minlength=n_workers)
    return Fusion(
        boxes=fused,
        variance=np.where(boxes_per_worker > 0, variance, np.nan),
        residual=residual,
        weight=t_weight if iterations else weights,
        iterations=iterations,
        converged=converged,
    )


def _members(objects: Int64Array, workers: Int64Array, corner_rows: FloatArray) -> _Members:
    order = [np.lexsort((corner_rows[:, j], objects)) for j in range(4)]
    sorted_objects = objects[order[0]]
    starts = (
        np.flatnonzero(np.concatenate([[True], sorted_objects[1:] != sorted_objects[:-1]]))
        if len(objects)
        else np.zeros(0, dtype=np.int64)
    )
    return _Members(objects, workers, corner_rows, order, starts, sorted_objects[starts])


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
    has no other box and no gold."""
    objects, corners = members.objects, members.corners
    n_objects = len(fused)
    precision = 1.0 / variance[members.workers]
    totals = np.stack([np.bincount(objects, precision * corners[:, j], n_objects) for j in range(4)], axis=1)
    others = np.bincount(objects, precision, n_objects)[objects] - precision
    with np.errstate(invalid="ignore", divide="ignore"):
        leave_one_out = (totals[objects] - precision[:, None] * corners) / others[:, None]
        size = _sizes(fused)[objects]
        gold = known[objects]
        reference = np.where(gold[:, None], fused[objects], leave_one_out)
        residual = (((corners - reference) / size) ** 2).mean(axis=1) - np.where(gold, 0.0, 1.0 / others)
    return np.where(gold | (others > 0), residual, np.nan)


def _sizes(corner_rows: FloatArray) -> FloatArray:
    """Width, height, width, height of each box: the scale of each corner coordinate."""
    width = corner_rows[:, 2] - corner_rows[:, 0]
    height = corner_rows[:, 3] - corner_rows[:, 1]
    return np.stack([width, height, width, height], axis=1)


def _fixed(fused: FloatArray, known: BoolArray, known_boxes: FloatArray) -> FloatArray:
    fused[known] = known_boxes[known]
    return fused

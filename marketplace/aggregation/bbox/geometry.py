"""Box geometry on arrays: corners, areas, IoU of row pairs, and the overlapping pairs within each image."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from marketplace.aggregation.checks import Int64Array, expand
from marketplace.aggregation.inputs import FloatArray

#: Pairs are generated and filtered this many at a time, so memory stays flat on a large job.
_PAIR_CHUNK = 1 << 21


def corners(boxes: FloatArray) -> FloatArray:
    """``[x, y, w, h]`` rows to ``[x1, y1, x2, y2]``."""
    return np.concatenate([boxes[:, :2], boxes[:, :2] + boxes[:, 2:]], axis=1)


def xywh(corner_rows: FloatArray) -> FloatArray:
    """``[x1, y1, x2, y2]`` rows to ``[x, y, w, h]``."""
    return np.concatenate([corner_rows[:, :2], corner_rows[:, 2:] - corner_rows[:, :2]], axis=1)


def iou(a: FloatArray, b: FloatArray) -> FloatArray:
    """Intersection over union of corner rows ``a[i]`` and ``b[i]`` (0 when either has no area)."""
    width = np.clip(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0.0, None)
    height = np.clip(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0.0, None)
    inter = width * height
    union = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]) + (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]) - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def overlapping_pairs(
    groups: Int64Array, owners: Int64Array, boxes: FloatArray, threshold: float
) -> tuple[Int64Array, Int64Array, FloatArray]:
    """Pairs ``(i, j)``, ``i < j``, of rows in the same group (image) with different owners (workers) whose
    IoU is at least ``threshold``, and their IoU. ``groups`` must be sorted."""
    columns = [np.ascontiguousarray(boxes[:, k]) for k in range(4)]
    areas = (columns[2] - columns[0]) * (columns[3] - columns[1])
    firsts, seconds, overlaps = [np.zeros(0, dtype=np.int64)], [np.zeros(0, dtype=np.int64)], [np.zeros(0)]
    for i, j in _pairs_within_groups(groups):
        width = np.minimum(columns[2][i], columns[2][j]) - np.maximum(columns[0][i], columns[0][j])
        height = np.minimum(columns[3][i], columns[3][j]) - np.maximum(columns[1][i], columns[1][j])
        inter = np.maximum(width, 0.0) * np.maximum(height, 0.0)
        overlap = inter / (areas[i] + areas[j] - inter)
        keep = np.flatnonzero((overlap >= threshold) & (owners[i] != owners[j]))
        firsts.append(i[keep])
        seconds.append(j[keep])
        overlaps.append(overlap[keep])
    return np.concatenate(firsts), np.concatenate(seconds), np.concatenate(overlaps)


def _pairs_within_groups(groups: Int64Array) -> Iterator[tuple[Int64Array, Int64Array]]:
    """Every ``(i, j)``, ``i < j``, with ``groups[i] == groups[j]``, in chunks of about ``_PAIR_CHUNK`` pairs."""
    n = len(groups)
    later = np.searchsorted(groups, groups, side="right") - np.arange(n) - 1  # row i's partners after it
    reached = np.cumsum(later)
    done = 0
    while done < n:
        budget = (reached[done - 1] if done else 0) + _PAIR_CHUNK
        stop = max(done + 1, int(np.searchsorted(reached, budget, side="right")))
        rows, step = expand(np.arange(done, stop), later[done:stop])
        yield done + rows, done + rows + 1 + step
        done = stop

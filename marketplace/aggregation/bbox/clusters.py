"""Group the boxes of each image into objects: at most one box per worker in a group, boxes that overlap.

Rounds of "densest box first", every image at once: in each round, each image's unassigned box with the highest
density (the summed IoU with the other workers' unassigned boxes it overlaps by at least the threshold) becomes
an object's centre, and every other worker gives it its unassigned box that overlaps the centre most (if one
reaches the threshold). Assigned boxes leave; the next round starts from those left. A box nobody's box
overlaps ends as an object of its own (a false positive, as far as the other workers are concerned).

Why not connected components of the overlap graph: on crowded images they chain neighbouring objects through
sloppy boxes, and one worker's two boxes end in one object. The densest centre is a medoid: it sits in the
middle of the main mode of an object's boxes, so a minority of stretched or shifted boxes joins it only if they
really overlap it. Each round is a few passes over the surviving pairs; the number of rounds is the largest
number of objects (true or spurious) in one image.

Gold boxes are the first centres of their images (the caller gives them top priority): workers' boxes are
matched to them first, as a grader matching at the IoU threshold would.
"""

from __future__ import annotations

import numpy as np

from marketplace.aggregation.bbox.geometry import overlapping_pairs
from marketplace.aggregation.checks import Int64Array
from marketplace.aggregation.inputs import FloatArray


def cluster_boxes(
    tasks: Int64Array, owners: Int64Array, corner_rows: FloatArray, priority: FloatArray, threshold: float
) -> tuple[Int64Array, Int64Array]:
    """An object number per box (objects numbered per round, then by image) and each object's centre box.

    ``owners``: the worker of each box (two boxes of one owner never share an object); ``priority`` is added to
    the density when choosing centres (``inf`` for gold boxes)."""
    # Boxes by image, then by their corners: ties between equally dense boxes then go the same way whatever the
    # order of the answers (the aggregate does not depend on it).
    order = np.lexsort((corner_rows[:, 3], corner_rows[:, 2], corner_rows[:, 1], corner_rows[:, 0], tasks))
    sorted_tasks = tasks[order]
    first, second, overlap = overlapping_pairs(sorted_tasks, owners[order], corner_rows[order], threshold)
    sorted_owners, sorted_priority = owners[order], priority[order]
    cluster = np.full(len(order), -1, dtype=np.int64)
    centres: list[Int64Array] = []
    n_objects = 0
    while (left := np.flatnonzero(cluster < 0)).size:
        live = (cluster[first] < 0) & (cluster[second] < 0)
        first, second, overlap = first[live], second[live], overlap[live]
        # A box that overlaps no unassigned box any more is an object of its own: settle them all at once
        # rather than one per image and round (a spammer's scattered boxes would take a round each).
        paired = np.zeros(len(order), dtype=bool)
        paired[first] = paired[second] = True
        alone = left[~paired[left]]
        cluster[alone] = n_objects + np.arange(len(alone))
        n_objects += len(alone)
        centres.append(alone)
        if not (left := left[paired[left]]).size:
            break
        density = np.bincount(first, overlap, len(order)) + np.bincount(second, overlap, len(order))
        centre = _densest_per_group(left, sorted_tasks[left], density[left] + sorted_priority[left])
        cluster[centre] = n_objects + np.arange(len(centre))
        n_objects += len(centre)
        members, joins = _best_partner_per_owner(centre, first, second, overlap, sorted_owners)
        cluster[members] = cluster[joins]
        centres.append(centre)
    object_of_box = np.empty_like(cluster)
    object_of_box[order] = cluster
    return object_of_box, order[np.concatenate(centres)] if centres else np.zeros(0, dtype=np.int64)


def _densest_per_group(rows: Int64Array, groups: Int64Array, density: FloatArray) -> Int64Array:
    """The row of highest density in each group (``groups`` sorted; ties: the first row)."""
    starts = np.flatnonzero(np.concatenate([[True], groups[1:] != groups[:-1]]))
    top = np.maximum.reduceat(density, starts)
    is_top = density == np.repeat(top, np.diff(np.append(starts, len(rows))))
    position = np.where(is_top, np.arange(len(rows)), len(rows))
    return rows[np.minimum.reduceat(position, starts)]


def _best_partner_per_owner(
    centre: Int64Array, first: Int64Array, second: Int64Array, overlap: FloatArray, owners: Int64Array
) -> tuple[Int64Array, Int64Array]:
    """For every centre and every other owner, that owner's box overlapping the centre most: ``(box, centre)``."""
    is_centre = np.zeros(len(owners), dtype=bool)
    is_centre[centre] = True
    touches_first = is_centre[first]
    touches = touches_first | is_centre[second]
    hub = np.where(touches_first, first, second)[touches]
    other = np.where(touches_first, second, first)[touches]
    best = np.lexsort((-overlap[touches], owners[other], hub))
    hub, other = hub[best], other[best]
    lead = np.ones(len(hub), dtype=bool)
    lead[1:] = (hub[1:] != hub[:-1]) | (owners[other][1:] != owners[other][:-1])
    return other[lead], hub[lead]

"""Box aggregation: group boxes into objects, decide which objects exist and their labels, fuse their boxes.

    result = box_aggregate(answers, gold={3: [(10, 20, 50, 40, 0)]}, exclude_workers=[7], max_objects=5)
    result.task, result.box, result.label, result.confidence     # one row per aggregated object

1. **Objects** (:mod:`.clusters`): each image's boxes are grouped, at most one per worker, boxes overlapping
   by IoU ≥ ``iou_threshold``; gold boxes are the first centres of their images.
2. **Existence**: every worker who answered an image votes on each of its candidate objects, 1 if it drew a
   box there, 0 if not; a two-class Dawid-Skene (:func:`marketplace.aggregation.em.dawid_skene`) learns each
   worker's recall and false-positive rate across the job, so a spammer's stray boxes count for little and a
   careful worker's lone box for more. Objects with P(object) ≥ 1/2 are kept (at most ``max_objects`` per
   image, the most probable first). Gold clamps: an object with a gold box exists, any other on a gold image
   does not.
3. **Labels**: Dawid-Skene on the labels of each object's boxes (gold clamped).
4. **Boxes** (:mod:`.fusion`): the weighted median of each object's boxes, by EM over each worker's
   localisation precision.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from marketplace.aggregation.bbox.clusters import cluster_boxes
from marketplace.aggregation.bbox.fusion import fuse
from marketplace.aggregation.bbox.geometry import corners
from marketplace.aggregation.bbox.inputs import BoxAnswers, BoxGold, BoxGoldInput, parse_box_gold
from marketplace.aggregation.bbox.results import BoxAggregationResult
from marketplace.aggregation.bbox.summary import summarise
from marketplace.aggregation.checks import Int64Array, expand
from marketplace.aggregation.em import DirichletPrior, dawid_skene
from marketplace.aggregation.errors import InvalidOptionError
from marketplace.aggregation.inputs import Answers, BoolArray, FloatArray


def box_aggregate(
    answers: BoxAnswers,
    *,
    gold: BoxGoldInput | None = None,
    exclude_workers: npt.ArrayLike | None = None,
    iou_threshold: float = 0.5,
    min_objects: int = 0,
    max_objects: int | None = None,
    max_iter: int = 30,
    tol: float = 1e-3,
    prior: DirichletPrior | None = None,
) -> BoxAggregationResult:
    """Aggregate the workers' boxes of every image into a set of labelled boxes with confidences.

    ``gold`` clamps those images to their known boxes (an empty list: no object); ``exclude_workers`` drops
    those workers' answers; ``iou_threshold`` is the overlap at which two boxes may be one object;
    ``min_objects`` / ``max_objects`` bound the objects kept per image (a schema's ``min_boxes`` / ``max_boxes``:
    the job says every image has that many): the most probable candidates fill up to ``min_objects`` even below
    P = 1/2, and no more than ``max_objects`` are kept; ``max_iter`` and ``tol``
    bound the localisation EM; ``prior`` is the Dirichlet prior of the existence and label models.
    """
    if not 0 < iou_threshold <= 1 or max_iter < 1 or tol < 0:
        raise InvalidOptionError("need 0 < iou_threshold <= 1, max_iter >= 1 and tol >= 0")
    if min_objects < 0 or (max_objects is not None and max_objects < max(min_objects, 1)):
        raise InvalidOptionError("need 0 <= min_objects <= max_objects and max_objects >= 1")
    kept = answers.without_workers(exclude_workers)
    gold_boxes = parse_box_gold(gold, n_tasks=kept.n_tasks, n_classes=kept.n_classes)
    objects, object_task, gold_object = _objects(kept, gold_boxes, iou_threshold)
    n_objects = len(object_task)
    worker_objects = objects[: len(kept.labels)]
    existence = _existence(kept, worker_objects, object_task, gold_object, gold_boxes, prior, max_objects)
    label_posteriors = _labels(kept, worker_objects, n_objects, gold_object, gold_boxes, prior)
    known = gold_object >= 0
    fusion = fuse(
        worker_objects,
        kept.box_workers,
        corners(kept.boxes),
        n_objects=n_objects,
        n_workers=kept.n_workers,
        known=known,
        known_boxes=_known_boxes(gold_object, gold_boxes),
        max_iter=max_iter,
        tol=tol,
    )
    gold_image = np.zeros(kept.n_tasks, dtype=bool)
    if gold_boxes is not None:
        gold_image[gold_boxes.gold_tasks] = True
    keep = _kept_objects(object_task, existence, min_objects, max_objects, known, gold_image)
    kept_boxes = np.ones(len(answers.labels), dtype=bool)
    if exclude_workers is not None and len(kept.labels) < len(answers.labels):
        kept_boxes = np.isin(answers.box_workers, np.asarray(exclude_workers), invert=True)
    return summarise(answers, kept_boxes, kept, worker_objects, object_task, keep, existence, label_posteriors, fusion)


def _objects(answers: BoxAnswers, gold: BoxGold | None, threshold: float) -> tuple[Int64Array, Int64Array, Int64Array]:
    """Object of every box (workers' boxes, then gold boxes), each object's task, and its gold box (-1: none).

    Objects are renumbered by task, then in the order they were found."""
    n_gold = 0 if gold is None else len(gold.tasks)
    tasks = np.concatenate([answers.box_tasks, gold.tasks if gold else np.zeros(0, dtype=np.int64)])
    owners = np.concatenate([answers.box_workers, np.full(n_gold, answers.n_workers, dtype=np.int64)])
    rows = np.concatenate([answers.boxes, gold.boxes if gold else np.zeros((0, 4))])
    priority = np.concatenate([np.zeros(len(answers.labels)), np.full(n_gold, np.inf)])
    found, centres = cluster_boxes(tasks, owners, corners(rows), priority, threshold)
    renumber = np.empty(len(centres), dtype=np.int64)
    renumber[np.lexsort((np.arange(len(centres)), tasks[centres]))] = np.arange(len(centres))
    objects = renumber[found]
    object_task = np.empty(len(centres), dtype=np.int64)
    object_task[objects] = tasks
    gold_object = np.full(len(centres), -1, dtype=np.int64)
    gold_object[objects[len(answers.labels) :]] = np.arange(n_gold)
    return objects, object_task, gold_object


def _existence(
    answers: BoxAnswers,
    objects: Int64Array,
    object_task: Int64Array,
    gold_object: Int64Array,
    gold: BoxGold | None,
    prior: DirichletPrior | None,
    max_objects: int | None,
) -> FloatArray:
    """P(object) for every candidate: a two-class Dawid-Skene over every responder's mark / no mark.

    A responder who drew ``max_objects`` boxes on the image had none left to give: it abstains on the
    candidates it did not mark (with one box each, a worker's choice of one object says nothing against the
    others, only for its own)."""
    n_objects = len(object_task)
    if n_objects == 0:
        return np.zeros(0)
    order = np.argsort(answers.tasks, kind="stable")
    per_task = np.bincount(answers.tasks, minlength=answers.n_tasks)
    first = np.cumsum(per_task) - per_task
    # One vote row per (candidate, responder of its image), in candidate order then response order.
    target, step = expand(first[object_task], per_task[object_task])
    responses = order[first[object_task][target] + step]
    voters = answers.workers[responses]
    # A box's row: its candidate's first row, plus its response's rank among its image's responses.
    rank = np.empty(answers.n_responses, dtype=np.int64)
    rank[order] = np.arange(answers.n_responses) - first[answers.tasks[order]]
    candidate_first_row = np.cumsum(per_task[object_task]) - per_task[object_task]
    marked = np.zeros(len(target), dtype=bool)
    marked[candidate_first_row[objects] + rank[answers.box_responses]] = True
    if max_objects is not None:
        drawn = np.bincount(answers.box_responses, minlength=answers.n_responses)
        voting = marked | (drawn[responses] < max_objects)
        target, voters, marked = target[voting], voters[voting], marked[voting]
    votes = Answers(
        tasks=target,
        workers=voters,
        labels=marked.astype(np.int64),
        n_tasks=n_objects,
        n_workers=answers.n_workers,
        n_classes=2,
    )
    gold_tasks = np.flatnonzero(np.isin(object_task, gold.gold_tasks)) if gold else np.zeros(0, dtype=np.int64)
    known = (gold_tasks, (gold_object[gold_tasks] >= 0).astype(np.int64))
    return dawid_skene(votes, gold=known, prior=prior).posteriors[:, 1]


def _labels(
    answers: BoxAnswers,
    objects: Int64Array,
    n_objects: int,
    gold_object: Int64Array,
    gold: BoxGold | None,
    prior: DirichletPrior | None,
) -> FloatArray:
    """P(label) of every object: Dawid-Skene over its boxes' labels (one class: certain)."""
    if answers.n_classes == 1 or n_objects == 0:
        return np.ones((n_objects, answers.n_classes))
    votes = Answers(
        tasks=objects,
        workers=answers.box_workers,
        labels=answers.labels,
        n_tasks=n_objects,
        n_workers=answers.n_workers,
        n_classes=answers.n_classes,
    )
    with_gold = np.flatnonzero(gold_object >= 0)
    known = (with_gold, gold.labels[gold_object[with_gold]]) if gold is not None else None
    return dawid_skene(votes, gold=known, prior=prior).posteriors


def _known_boxes(gold_object: Int64Array, gold: BoxGold | None) -> FloatArray:
    rows = np.full((len(gold_object), 4), np.nan)
    if gold is not None:
        has = gold_object >= 0
        rows[has] = corners(gold.boxes[gold_object[has]])
    return rows


def _kept_objects(
    object_task: Int64Array,
    existence: FloatArray,
    min_objects: int,
    max_objects: int | None,
    known: BoolArray,
    gold_image: BoolArray,
) -> Int64Array:
    """The objects kept, by task then existence (highest first): rank < ``min_objects`` or P(object) >= 1/2,
    and rank < ``max_objects``. A gold image keeps exactly its gold objects."""
    order = np.lexsort((-existence, object_task))
    tasks = object_task[order]
    starts = np.flatnonzero(np.concatenate([[True], tasks[1:] != tasks[:-1]])) if len(order) else order
    rank = np.arange(len(order)) - np.repeat(starts, np.diff(np.append(starts, len(order))))
    chosen = (existence[order] >= 0.5) | (rank < min_objects)
    if max_objects is not None:
        chosen &= rank < max_objects
    chosen = np.where(gold_image[tasks], known[order], chosen)
    return order[chosen]

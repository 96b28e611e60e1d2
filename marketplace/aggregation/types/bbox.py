"""``bbox``: boxes around the objects of an item's image. Schema ``{"labels": ["car", "person"], "min_boxes": 0,
"max_boxes": null, "iou_threshold": 0.5, "pass_threshold": 0.5, "image_field": null}``.

An answer is a list of boxes ``[x, y, w, h, label]`` in image pixels, ``(x, y)`` the top-left corner, ``w, h > 0``,
``label`` one of ``labels``; ``min_boxes`` .. ``max_boxes`` of them (an empty list: nothing to mark). When the
item's image (its ``image_field``, or its only image field) has a known size, every box must lie inside it. Gold
is graded by matching boxes one to one (same label, IoU ≥ ``iou_threshold``): the score is the F1 of the matches,
passing at ``pass_threshold``. Aggregation (``em``): the workers' boxes clustered by IoU, each candidate's existence
and label by Dawid-Skene over who marked it, its box fused weighted by each worker's localisation precision
(:mod:`marketplace.aggregation.bbox`); the answer's confidence is the probability that the image's set is exactly
right, each box has its own; a worker's quality is the F1 of its boxes against the aggregate. Export: COCO JSON.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from marketplace.aggregation.bbox.answers import (
    Box,
    bbox_answer_issues,
    bbox_schema_issues,
    grade_bbox,
    parse_bbox_answer,
)
from marketplace.aggregation.bbox.coco import CocoBox, CocoImage, coco_dataset
from marketplace.aggregation.bbox.engine import box_aggregate
from marketplace.aggregation.bbox.inputs import BoxAnswers
from marketplace.aggregation.errors import InvalidAnswerError, InvalidSchemaError
from marketplace.aggregation.types.base import (
    AnswerType,
    ExportFormat,
    ExportRow,
    Fit,
    Grade,
    Job,
    f1_quality,
    schema_fields,
    schema_fraction,
)

FIELDS = ("labels", "min_boxes", "max_boxes", "iou_threshold", "pass_threshold", "image_field")


@dataclass(frozen=True)
class BboxSchema:
    labels: tuple[str, ...]
    min_boxes: int = 0
    max_boxes: int | None = None
    iou_threshold: float = 0.5
    pass_threshold: float = 0.5
    image_field: str | None = None

    @property
    def rules(self) -> dict[str, Any]:
        """The schema as the pure checks of :mod:`marketplace.aggregation.bbox.answers` read it."""
        return {"labels": list(self.labels), "min_boxes": self.min_boxes, "max_boxes": self.max_boxes}


class Bbox(AnswerType):
    name = "bbox"
    methods = ("em",)
    needs_item = True
    parts = "boxes"
    exports = {"coco": ExportFormat("application/json", "coco.json", lambda schema, rows: coco_export(schema, rows))}  # noqa: RUF012

    def parse_schema(self, raw: Mapping[str, Any] | None) -> BboxSchema:
        fields = schema_fields(raw, FIELDS)
        issues = bbox_schema_issues(fields)
        if issues:
            raise InvalidSchemaError(issues[0].message)
        image_field = fields.get("image_field")
        if image_field is not None and (not isinstance(image_field, str) or not image_field):
            raise InvalidSchemaError("image_field must name a field of the items (an image)")
        return BboxSchema(
            labels=tuple(fields["labels"]),
            min_boxes=int(fields.get("min_boxes", 0)),
            max_boxes=fields.get("max_boxes"),
            iou_threshold=float(fields.get("iou_threshold", 0.5)),
            pass_threshold=schema_fraction(fields, "pass_threshold", 0.5),
            image_field=image_field,
        )

    def clean(self, schema: BboxSchema, value: Any, *, item: Mapping[str, Any] | None = None) -> list[list[Any]]:
        size = image_size(image_of(schema, item))
        issues = bbox_answer_issues(value, schema.rules, image_size=size)
        if issues:
            raise InvalidAnswerError("; ".join(issue.message for issue in issues[:5]))
        return [[x, y, w, h, label] for x, y, w, h, label in value]

    def grade(self, schema: BboxSchema, answer: list[list[Any]], key: list[list[Any]]) -> Grade:
        graded = grade_bbox(parse_bbox_answer(answer), parse_bbox_answer(key), iou_threshold=schema.iou_threshold)
        return Grade(score=graded.f1, passed=graded.f1 >= schema.pass_threshold)

    def fit(self, schema: BboxSchema, job: Job) -> Fit:
        keys, answers = job.keys, job.answers
        index = {label: code for code, label in enumerate(schema.labels)}
        boxes = [box for answer in answers for box in parse_bbox_answer(answer)]
        lengths = np.fromiter((len(answer) for answer in answers), dtype=np.int64, count=len(answers))
        coded = BoxAnswers(
            tasks=keys.task_codes,
            workers=keys.worker_codes,
            box_responses=np.repeat(np.arange(len(answers)), lengths),
            boxes=np.array([[b.x, b.y, b.w, b.h] for b in boxes], dtype=np.float64).reshape(-1, 4),
            labels=np.fromiter((index[b.label] for b in boxes), dtype=np.int64, count=len(boxes)),
            n_tasks=len(keys.tasks),
            n_workers=len(keys.workers),
            n_classes=len(schema.labels),
        )
        gold = {
            task: [(b.x, b.y, b.w, b.h, index[b.label]) for b in parse_bbox_answer(key)]
            for task, key in keys.gold.items()
        }
        result = box_aggregate(
            coded,
            gold=gold or None,
            exclude_workers=keys.excluded,
            iou_threshold=schema.iou_threshold,
            min_objects=schema.min_boxes,
            max_objects=schema.max_boxes,
            **job.options,
        )
        per_task: list[list[list[Any]]] = [[] for _ in keys.tasks]
        confidence: list[list[float]] = [[] for _ in keys.tasks]
        rows = zip(
            result.task.tolist(), result.box.tolist(), result.label.tolist(), result.confidence.tolist(), strict=True
        )
        for task, box, label, box_confidence in rows:
            per_task[task].append([*(_number(v) for v in box), schema.labels[label]])
            confidence[task].append(round(float(box_confidence), 6))
        quality = f1_quality(result.worker_precision, result.worker_recall)
        return Fit(per_task, result.task_confidence, quality, result, part_confidence=confidence)


def image_of(schema: BboxSchema, item: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """The item's image as the marketplace describes it (``{"media", "kind", "width", "height"}``): its
    ``image_field``, or its only image field; None when unknown."""
    if item is None:
        return None
    if schema.image_field is not None:
        found = item.get(schema.image_field)
        return found if isinstance(found, Mapping) else None
    images = [value for value in item.values() if isinstance(value, Mapping) and value.get("kind") == "image"]
    return images[0] if len(images) == 1 else None


def image_size(image: Mapping[str, Any] | None) -> tuple[float, float] | None:
    if image is None:
        return None
    width, height = image.get("width"), image.get("height")
    if isinstance(width, int) and isinstance(height, int) and width > 0 and height > 0:
        return float(width), float(height)
    return None


def coco_export(schema: BboxSchema, rows: Iterable[ExportRow]) -> Iterator[str]:
    """COCO detection JSON (:mod:`marketplace.aggregation.bbox.coco`): one image per item (its id the item's id,
    its ``file_name`` the media file's name, else the external id), one annotation per aggregated box with its
    ``score``. The whole file is one JSON document, written at once."""
    images: list[CocoImage] = []
    boxes: list[CocoBox] = []
    for row in rows:
        image = image_of(schema, row.fields) or {}
        size = image_size(image) or (0, 0)
        name = image.get("media") if isinstance(image.get("media"), str) else row.external_id
        images.append(CocoImage(row.item_id, str(name or row.item_id), int(size[0]), int(size[1])))
        scores = list(row.part_confidence or ())
        for number, (x, y, w, h, label) in enumerate(row.answer or ()):
            score = scores[number] if number < len(scores) else float(row.confidence or 0.0)
            boxes.append(CocoBox(row.item_id, (x, y, w, h), label, score))
    yield json.dumps(coco_dataset(images=images, categories=list(schema.labels), boxes=boxes))


def _number(value: float) -> float | int:
    rounded = round(value, 2)
    return int(rounded) if rounded.is_integer() else rounded


BBOX = Bbox()

__all__ = ["BBOX", "Box", "BboxSchema"]

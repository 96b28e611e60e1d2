"""COCO detection JSON from aggregated boxes: what detection tools (pycocotools, torchvision, Detectron2...) read.

    dataset = coco_dataset(images=[CocoImage(1, "a.jpg", 640, 480)], categories=["car"],
                           boxes=[CocoBox(image_id=1, bbox=(10, 20, 50, 40), category="car", score=0.93)])
    json.dumps(dataset)

``images`` and ``categories`` as in the COCO format (category ids are 1-based positions in ``categories``);
each annotation carries the box's ``score`` (its confidence), ``area`` = w × h and ``iscrowd`` = 0. Images
without a known size get width and height 0 (COCO has no "unknown").
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class CocoImage:
    id: int
    file_name: str
    width: int = 0
    height: int = 0


@dataclass(frozen=True)
class CocoBox:
    image_id: int
    bbox: tuple[float, float, float, float]
    category: str
    score: float


def coco_dataset(
    *, images: Sequence[CocoImage], categories: Sequence[str], boxes: Iterable[CocoBox], description: str = ""
) -> dict[str, Any]:
    """The COCO dictionary (see the module doc); raises ``ValueError`` on an unknown category or image."""
    category_ids = {name: position + 1 for position, name in enumerate(categories)}
    image_ids = {image.id for image in images}
    annotations = []
    for number, box in enumerate(boxes, start=1):
        if box.category not in category_ids or box.image_id not in image_ids:
            raise ValueError(f"box {number - 1}: unknown category {box.category!r} or image {box.image_id!r}")
        x, y, w, h = (float(v) for v in box.bbox)
        annotations.append(
            {
                "id": number,
                "image_id": box.image_id,
                "category_id": category_ids[box.category],
                "bbox": [x, y, w, h],
                "area": w * h,
                "iscrowd": 0,
                "score": float(box.score),
            }
        )
    return {
        "info": {"description": description or "crowdmarket aggregated boxes"},
        "images": [
            {"id": image.id, "file_name": image.file_name, "width": image.width, "height": image.height}
            for image in images
        ],
        "categories": [{"id": category_ids[name], "name": name, "supercategory": ""} for name in categories],
        "annotations": annotations,
    }

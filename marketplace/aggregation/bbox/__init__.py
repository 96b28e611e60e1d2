"""Bounding boxes on images: ``[x, y, w, h, label]`` per box, aggregated by clustering, Dawid-Skene and EM fusion."""

from marketplace.aggregation.bbox.engine import box_aggregate
from marketplace.aggregation.bbox.inputs import BoxAnswers, BoxGoldInput
from marketplace.aggregation.bbox.results import BoxAggregationResult

__all__ = ["BoxAggregationResult", "BoxAnswers", "BoxGoldInput", "box_aggregate"]

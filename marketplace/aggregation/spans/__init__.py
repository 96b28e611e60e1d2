"""Spans in text: ``[start, end, label]`` half-open offsets (characters or tokens), aggregated by a sequence model."""

from marketplace.aggregation.spans.engine import span_aggregate
from marketplace.aggregation.spans.inputs import SpanAnswers, SpanGoldInput
from marketplace.aggregation.spans.results import SpanAggregationResult

__all__ = ["SpanAggregationResult", "SpanAnswers", "SpanGoldInput", "span_aggregate"]

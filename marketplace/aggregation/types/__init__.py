"""The answer types the engine knows: one module each, one entry each in :data:`ANSWER_TYPES`.

Adding a type (bounding boxes, spans...) means one module here with the five functions of
:class:`~marketplace.aggregation.types.base.AnswerType`, an engine module for its aggregation, and one entry below;
the command line and every caller pick it up from the registry.
"""

from __future__ import annotations

from collections.abc import Mapping

from marketplace.aggregation.errors import InvalidOptionError
from marketplace.aggregation.types.base import AnswerType, Consensus, Grade
from marketplace.aggregation.types.bbox import BBOX
from marketplace.aggregation.types.multi_choice import MULTI_CHOICE
from marketplace.aggregation.types.number import NUMBER
from marketplace.aggregation.types.pairwise import PAIRWISE
from marketplace.aggregation.types.single_choice import SINGLE_CHOICE
from marketplace.aggregation.types.spans import SPANS
from marketplace.aggregation.types.text import TEXT

ANSWER_TYPES: Mapping[str, AnswerType] = {
    answer_type.name: answer_type for answer_type in (SINGLE_CHOICE, MULTI_CHOICE, TEXT, NUMBER, PAIRWISE, BBOX, SPANS)
}


def answer_type(name: str) -> AnswerType:
    try:
        return ANSWER_TYPES[name]
    except KeyError:
        raise InvalidOptionError(f"unknown answer type {name!r}; known: {', '.join(ANSWER_TYPES)}") from None


__all__ = ["ANSWER_TYPES", "AnswerType", "Consensus", "Grade", "answer_type"]

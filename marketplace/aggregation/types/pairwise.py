"""``pairwise``: which of two items is better (harder, more relevant...). Schema ``{"allow_tie": false}``; a task's
item names its two sides (``{"left": "<id>", "right": "<id>"}``; on the command line the task is
``<left id>|<right id>``). An answer names the winning side: ``"left"`` or ``"right"``, or ``"tie"`` when ties are
allowed; that is its canonical form, the one the marketplace stores. Where the item is known (the command line),
the winner's id is accepted too (an id wins over a side's name), and ``null`` for a tie. Gold is graded by agreement
with the known order (1; a tie against a known order 0.5, not a pass). Aggregation: Bradley-Terry scores with a
reliability per worker (``em``, CrowdBT) or plain Bradley-Terry (``bt``); each task's answer is the side the scores
put first, with the probability of that order as confidence, and every item gets a score."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from marketplace.aggregation.bradley_terry import LEFT, RIGHT, TIE, PairwiseAnswers, bradley_terry, crowd_bradley_terry
from marketplace.aggregation.errors import InvalidAnswerError, InvalidItemError, InvalidSchemaError
from marketplace.aggregation.types.base import AnswerType, Fit, Grade, Job, schema_fields

SEPARATOR = "|"
SIDES = {"left": LEFT, "right": RIGHT, "tie": TIE}


@dataclass(frozen=True)
class PairwiseSchema:
    allow_tie: bool = False


class Pairwise(AnswerType):
    name = "pairwise"
    methods = ("em", "bt")
    item_fields = ("left", "right")

    def parse_schema(self, raw: Mapping[str, Any] | None) -> PairwiseSchema:
        fields = schema_fields(raw, {"allow_tie"})
        allow_tie = fields.get("allow_tie", False)
        if not isinstance(allow_tie, bool):
            raise InvalidSchemaError("allow_tie must be true or false")
        return PairwiseSchema(allow_tie)

    def clean(self, schema: PairwiseSchema, value: Any, *, item: Mapping[str, Any] | None = None) -> str:
        if item is not None and value is not None and value in (item["left"], item["right"]):
            return "left" if value == item["left"] else "right"
        if value is None or value == "tie":
            if not schema.allow_tie:
                raise InvalidAnswerError(f"expected {self._expected(schema, item)} (ties are not allowed)")
            return "tie"
        if value in ("left", "right"):
            return str(value)
        if item is not None and isinstance(value, str):
            raise InvalidAnswerError(f"expected {item['left']!r} or {item['right']!r}, got {value!r}")
        raise InvalidAnswerError(f"expected {self._expected(schema, item)}, got {value!r}")

    @staticmethod
    def _expected(schema: PairwiseSchema, item: Mapping[str, Any] | None) -> str:
        sides = "the winner's id" if item is not None else '"left" or "right"'
        return sides + (', or "tie" (null) for a tie' if schema.allow_tie else "")

    def grade(self, schema: PairwiseSchema, answer: str | None, key: str | None) -> Grade:
        if answer == key:
            return Grade(score=1.0, passed=True)
        tie = answer in (None, "tie") or key in (None, "tie")
        return Grade(score=0.5 if tie else 0.0, passed=False)

    def decode(self, text: str) -> Any:
        """JSON, or a side's name written plainly (a CSV cell ``left``)."""
        return text if text in SIDES else super().decode(text)

    def check_item(self, schema: PairwiseSchema, payload: Mapping[str, Any]) -> None:
        for side in ("left", "right"):
            value = payload.get(side)
            if isinstance(value, bool) or not isinstance(value, str | int) or value == "":
                raise InvalidItemError(side, "a pairwise item names its side by a non-empty string or integer id")
        if str(payload["left"]) == str(payload["right"]):
            raise InvalidItemError("right", "a pairwise item compares two different ids")

    def fit(self, schema: PairwiseSchema, job: Job) -> Fit:
        keys, answers, method, options = job.keys, job.answers, job.method, job.options
        sides = [_sides(task, job.items) for task in keys.tasks.tolist()]
        names = sorted({side for pair in sides for side in pair})
        index = {name: code for code, name in enumerate(names)}
        coded = PairwiseAnswers(
            tasks=keys.task_codes,
            workers=keys.worker_codes,
            n_tasks=len(keys.tasks),
            n_workers=len(keys.workers),
            task_left=np.array([index[pair[0]] for pair in sides], dtype=np.int64),
            task_right=np.array([index[pair[1]] for pair in sides], dtype=np.int64),
            outcomes=_outcomes([sides[code] for code in keys.task_codes.tolist()], answers),
            n_items=len(names),
        )
        known = {task: int(_outcomes([sides[task]], [key])[0]) for task, key in keys.gold.items()} or None
        fitted = crowd_bradley_terry if method == "em" else bradley_terry
        result = fitted(coded, gold=known, exclude_workers=keys.excluded, **options)
        winners = ["left" if w == LEFT else "right" for w in result.winners.tolist()]
        names_array = np.asarray(names, dtype=object)
        return Fit(winners, result.confidence, result.worker_reliability, result, names_array, result.scores)

    def item_of_task(self, task: str) -> Mapping[str, Any] | None:
        parts = task.split(SEPARATOR)
        if len(parts) != 2 or not all(parts) or parts[0] == parts[1]:
            raise InvalidAnswerError(
                f"a pairwise task must be '<left id>{SEPARATOR}<right id>' (two different ids), got {task!r}"
            )
        return {"left": parts[0], "right": parts[1]}


def _sides(task: Any, items: Mapping[Any, Mapping[str, Any]] | None) -> tuple[str, str]:
    item = items.get(task) if items is not None else None
    if item is None:
        item = PAIRWISE.item_of_task(str(task))
    assert item is not None
    return str(item["left"]), str(item["right"])


def _outcomes(sides: Sequence[tuple[str, str]], answers: Sequence[str | None]) -> np.ndarray:
    """Each answer as LEFT, RIGHT or TIE: a side's name (the canonical form), the winner's id, or null for a tie."""
    out = np.empty(len(answers), dtype=np.int64)
    for i, ((left, right), answer) in enumerate(zip(sides, answers, strict=True)):
        if answer is None:
            out[i] = TIE
        elif answer in SIDES:
            out[i] = SIDES[answer]
        elif answer == left:
            out[i] = LEFT
        elif answer == right:
            out[i] = RIGHT
        else:
            raise InvalidAnswerError(f"answer {answer!r} names neither side of {left!r} vs {right!r}")
    return out


PAIRWISE = Pairwise()

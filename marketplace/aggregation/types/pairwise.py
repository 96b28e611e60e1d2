"""``pairwise``: which of two items is better (harder, more relevant...). Schema ``{"allow_tie": false}``; a task's
item names its two sides (``{"left": "<id>", "right": "<id>"}``; on the command line the task is
``<left id>|<right id>``); an answer is the winner's id, or ``null`` for a tie when ties are allowed. Gold is graded
by agreement with the known order (1; a tie against a known order 0.5, not a pass). Aggregation: Bradley-Terry
scores with a reliability per worker (``em``, CrowdBT) or plain Bradley-Terry (``bt``); each task's answer is the
side the scores put first, with the probability of that order as confidence, and every item gets a score."""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from marketplace.aggregation.bradley_terry import LEFT, RIGHT, TIE, PairwiseAnswers, bradley_terry, crowd_bradley_terry
from marketplace.aggregation.errors import InvalidAnswerError, InvalidSchemaError
from marketplace.aggregation.types.base import (
    Consensus,
    Grade,
    choose_method,
    decode_json,
    iteration_options,
    keyed,
    schema_fields,
)

SEPARATOR = "|"


@dataclass(frozen=True)
class PairwiseSchema:
    allow_tie: bool = False


class Pairwise:
    name = "pairwise"
    methods = ("em", "bt")

    def parse_schema(self, raw: Mapping[str, Any] | None) -> PairwiseSchema:
        fields = schema_fields(raw, {"allow_tie"})
        allow_tie = fields.get("allow_tie", False)
        if not isinstance(allow_tie, bool):
            raise InvalidSchemaError("allow_tie must be true or false")
        return PairwiseSchema(allow_tie)

    def clean(self, schema: PairwiseSchema, value: Any, *, item: Mapping[str, Any] | None = None) -> str | None:
        if value is None:
            if not schema.allow_tie:
                raise InvalidAnswerError("expected the winner's id (ties are not allowed)")
            return None
        if not isinstance(value, str) or not value:
            raise InvalidAnswerError(
                "expected the winner's id, a non-empty string" + (", or null for a tie" if schema.allow_tie else "")
            )
        if item is not None and value not in (item["left"], item["right"]):
            raise InvalidAnswerError(f"expected {item['left']!r} or {item['right']!r}, got {value!r}")
        return value

    def grade(self, schema: PairwiseSchema, answer: str | None, key: str | None) -> Grade:
        if answer == key:
            return Grade(score=1.0, passed=True)
        return Grade(score=0.5 if answer is None or key is None else 0.0, passed=False)

    def aggregate(
        self,
        schema: PairwiseSchema,
        tasks: Sequence[Hashable],
        workers: Sequence[Hashable],
        answers: Sequence[str | None],
        *,
        gold: Mapping[Any, str | None] | None = None,
        exclude_workers: Iterable[Hashable] | None = None,
        items: Mapping[Any, Mapping[str, Any]] | None = None,
        method: str | None = None,
        max_iter: int | None = None,
        tol: float | None = None,
    ) -> Consensus:
        chosen = choose_method(self.methods, method)
        keys = keyed(tasks, workers, gold, exclude_workers)
        sides = [_sides(task, items) for task in keys.tasks.tolist()]
        names = sorted({side for pair in sides for side in pair})
        index = {name: code for code, name in enumerate(names)}
        left = np.array([index[pair[0]] for pair in sides], dtype=np.int64)
        right = np.array([index[pair[1]] for pair in sides], dtype=np.int64)
        outcomes = _outcomes([sides[code] for code in keys.task_codes.tolist()], answers)
        coded = PairwiseAnswers(
            tasks=keys.task_codes,
            workers=keys.worker_codes,
            n_tasks=len(keys.tasks),
            n_workers=len(keys.workers),
            task_left=left,
            task_right=right,
            outcomes=outcomes,
            n_items=len(names),
        )
        known = {task: int(_outcomes([sides[task]], [key])[0]) for task, key in keys.gold.items()} or None
        fit = crowd_bradley_terry if chosen == "em" else bradley_terry
        result = fit(coded, gold=known, exclude_workers=keys.excluded, **iteration_options(max_iter, tol))
        winners = [
            pair[0] if winner == LEFT else pair[1] for pair, winner in zip(sides, result.winners.tolist(), strict=True)
        ]
        return Consensus(
            tasks=keys.tasks,
            answers=winners,
            confidence=result.confidence,
            workers=keys.workers,
            worker_quality=result.worker_reliability,
            model=result,
            gold_used=len(keys.gold),
            gold_skipped=keys.gold_skipped,
            items=np.asarray(names, dtype=object),
            item_scores=result.scores,
        )

    def decode(self, text: str) -> Any:
        return decode_json(text)

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
    out = np.empty(len(answers), dtype=np.int64)
    for i, ((left, right), answer) in enumerate(zip(sides, answers, strict=True)):
        if answer is None:
            out[i] = TIE
        elif answer == left:
            out[i] = LEFT
        elif answer == right:
            out[i] = RIGHT
        else:
            raise InvalidAnswerError(f"answer {answer!r} names neither side of {left!r} vs {right!r}")
    return out


PAIRWISE = Pairwise()

"""``number``: a number in a range with a step (ratings and Likert scales too: ``{"min": 1, "max": 5, "step": 1}``).
Schema ``{"min": null, "max": null, "step": null, "tolerance": null}``; an answer is a JSON number within
[min, max], on the grid ``min + k·step`` when a step is set. Gold passes when the answer is within ``tolerance``
of the key (default: half a step, or exact without a step); the score is 1 or 0. Aggregation: per-worker bias
and noise by EM (``em``), the mean (``mean``) or the median (``median``); the estimate is not rounded to the grid,
and its confidence is the probability that the truth lies within ``tolerance`` of it (within 5% of the answers'
spread when the schema gives no tolerance and no step)."""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from marketplace.aggregation.errors import InvalidAnswerError, InvalidSchemaError
from marketplace.aggregation.numeric import NumericAnswers, bias_noise_em, numeric_mean, numeric_median
from marketplace.aggregation.types.base import (
    Consensus,
    Grade,
    choose_method,
    decode_json,
    iteration_options,
    keyed,
    schema_fields,
    schema_number,
)

_GRID_SLACK = 1e-9


@dataclass(frozen=True)
class NumberSchema:
    min: float | None = None
    max: float | None = None
    step: float | None = None
    tolerance: float | None = None

    @property
    def grading_tolerance(self) -> float:
        if self.tolerance is not None:
            return self.tolerance
        return self.step / 2 if self.step is not None else 0.0


class Number:
    name = "number"
    methods = ("em", "mean", "median")

    def parse_schema(self, raw: Mapping[str, Any] | None) -> NumberSchema:
        fields = schema_fields(raw, {"min", "max", "step", "tolerance"})
        low, high = schema_number(fields, "min", None), schema_number(fields, "max", None)
        step, tolerance = schema_number(fields, "step", None), schema_number(fields, "tolerance", None)
        if low is not None and high is not None and high < low:
            raise InvalidSchemaError("max must be >= min")
        if step is not None and (step <= 0 or low is None):
            raise InvalidSchemaError("step must be > 0 and needs a min to count from")
        if tolerance is not None and tolerance < 0:
            raise InvalidSchemaError("tolerance must be >= 0")
        return NumberSchema(low, high, step, tolerance)

    def clean(self, schema: NumberSchema, value: Any, *, item: Mapping[str, Any] | None = None) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise InvalidAnswerError("expected a finite number")
        number = float(value)
        if schema.min is not None and number < schema.min:
            raise InvalidAnswerError(f"expected a number >= {schema.min:g}, got {number:g}")
        if schema.max is not None and number > schema.max:
            raise InvalidAnswerError(f"expected a number <= {schema.max:g}, got {number:g}")
        if schema.step is not None and schema.min is not None:
            steps = (number - schema.min) / schema.step
            if abs(steps - round(steps)) > _GRID_SLACK * max(1.0, abs(steps)):
                raise InvalidAnswerError(f"expected a multiple of {schema.step:g} from {schema.min:g}, got {number:g}")
        return number

    def grade(self, schema: NumberSchema, answer: float, key: float) -> Grade:
        passed = abs(answer - key) <= schema.grading_tolerance + _GRID_SLACK * max(1.0, abs(key))
        return Grade(score=float(passed), passed=passed)

    def aggregate(
        self,
        schema: NumberSchema,
        tasks: Sequence[Hashable],
        workers: Sequence[Hashable],
        answers: Sequence[float],
        *,
        gold: Mapping[Any, float] | None = None,
        exclude_workers: Iterable[Hashable] | None = None,
        items: Mapping[Any, Mapping[str, Any]] | None = None,
        method: str | None = None,
        max_iter: int | None = None,
        tol: float | None = None,
    ) -> Consensus:
        chosen = choose_method(self.methods, method)
        keys = keyed(tasks, workers, gold, exclude_workers)
        coded = NumericAnswers(
            tasks=keys.task_codes,
            workers=keys.worker_codes,
            n_tasks=len(keys.tasks),
            n_workers=len(keys.workers),
            values=np.asarray(list(answers), dtype=np.float64),
        )
        tolerance = schema.tolerance if schema.tolerance is not None else (schema.step / 2 if schema.step else None)
        options = {**keys.engine_options(), "tolerance": tolerance}
        if chosen == "em":
            result = bias_noise_em(coded, **options, **iteration_options(max_iter, tol))
        else:
            result = (numeric_mean if chosen == "mean" else numeric_median)(coded, **options)
        return Consensus(
            tasks=keys.tasks,
            answers=[float(value) for value in result.values.tolist()],
            confidence=result.confidence,
            workers=keys.workers,
            worker_quality=result.worker_reliability,
            model=result,
            gold_used=len(keys.gold),
            gold_skipped=keys.gold_skipped,
        )

    def decode(self, text: str) -> Any:
        return decode_json(text)

    def item_of_task(self, task: str) -> Mapping[str, Any] | None:
        return None


NUMBER = Number()

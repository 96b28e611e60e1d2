"""``number``: a number in a range with a step (ratings and Likert scales too: ``{"min": 1, "max": 5, "step": 1}``).
Schema ``{"min": null, "max": null, "step": null, "tolerance": null}``; an answer is a JSON number within
[min, max], on the grid ``min + k·step`` when a step is set. Gold passes when the answer is within ``tolerance``
of the key (default: half a step, or exact without a step); the score is 1 or 0. Aggregation: per-worker bias
and noise by EM (``em``), the mean (``mean``) or the median (``median``); the estimate is not rounded to the grid,
and its confidence is the probability that the truth lies within ``tolerance`` of it (within 5% of the answers'
spread when the schema gives no tolerance and no step)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from marketplace.aggregation.errors import InvalidAnswerError, InvalidSchemaError
from marketplace.aggregation.numeric import NumericAnswers, bias_noise_em, numeric_mean, numeric_median
from marketplace.aggregation.types.base import AnswerType, Fit, Grade, Job, schema_fields, schema_number

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


class Number(AnswerType):
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

    def fit(self, schema: NumberSchema, job: Job) -> Fit:
        keys, answers, method, options = job.keys, job.answers, job.method, job.options
        coded = NumericAnswers(
            tasks=keys.task_codes,
            workers=keys.worker_codes,
            n_tasks=len(keys.tasks),
            n_workers=len(keys.workers),
            values=np.asarray(answers, dtype=np.float64),
        )
        tolerance = schema.tolerance if schema.tolerance is not None else (schema.step / 2 if schema.step else None)
        engine = {**keys.engine_options(), "tolerance": tolerance}
        if method == "em":
            result = bias_noise_em(coded, **engine, **options)
        else:
            result = (numeric_mean if method == "mean" else numeric_median)(coded, **engine)
        return Fit(
            [float(value) for value in result.values.tolist()], result.confidence, result.worker_reliability, result
        )


NUMBER = Number()

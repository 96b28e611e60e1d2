"""``multi_choice``: a set of classes. Schema ``{"choices": [...], "min_count": 0, "max_count": null,
"measure": "jaccard" | "f1", "pass_threshold": 0.5}``; answer: a list of distinct choices (written back in the
choices' order); gold is graded by Jaccard (or F1) agreement with the key, passing at ``pass_threshold``;
aggregation: per-class Dawid-Skene sharing each worker's quality (``ds``) or per-class majority (``mv``), the set
kept within ``min_count`` .. ``max_count``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from marketplace.aggregation.binary_relevance import MultiLabelAnswers, multi_label_ds, per_class_majority
from marketplace.aggregation.errors import InvalidAnswerError, InvalidSchemaError
from marketplace.aggregation.types.base import (
    AnswerType,
    Fit,
    Grade,
    Job,
    schema_choices,
    schema_fields,
    schema_fraction,
    schema_int,
)

MEASURES = ("jaccard", "f1")


@dataclass(frozen=True)
class MultiChoiceSchema:
    choices: tuple[str, ...] | None = None
    min_count: int = 0
    max_count: int | None = None
    measure: str = "jaccard"
    pass_threshold: float = 0.5


class MultiChoice(AnswerType):
    name = "multi_choice"
    methods = ("ds", "mv")

    def parse_schema(self, raw: Mapping[str, Any] | None) -> MultiChoiceSchema:
        fields = schema_fields(raw, {"choices", "min_count", "max_count", "measure", "pass_threshold"})
        choices = schema_choices(fields)
        min_count = schema_int(fields, "min_count", 0) or 0
        max_count = schema_int(fields, "max_count", None, minimum=1)
        if max_count is not None and max_count < min_count:
            raise InvalidSchemaError("max_count must be >= min_count")
        if choices is not None and min_count > len(choices):
            raise InvalidSchemaError("min_count cannot exceed the number of choices")
        measure = fields.get("measure", "jaccard")
        if measure not in MEASURES:
            raise InvalidSchemaError(f"measure must be one of {', '.join(MEASURES)}")
        threshold = schema_fraction(fields, "pass_threshold", 0.5)
        return MultiChoiceSchema(choices, min_count, max_count, measure, threshold)

    def clean(self, schema: MultiChoiceSchema, value: Any, *, item: Mapping[str, Any] | None = None) -> list[str]:
        if not isinstance(value, list) or not all(isinstance(choice, str) and choice for choice in value):
            raise InvalidAnswerError("expected a list of choices (non-empty strings)")
        repeated = sorted({choice for choice in value if value.count(choice) > 1})
        if repeated:
            raise InvalidAnswerError(f"choice {repeated[0]!r} is listed twice")
        if schema.choices is not None:
            unknown = [choice for choice in value if choice not in schema.choices]
            if unknown:
                raise InvalidAnswerError(f"{unknown[0]!r} is not one of the choices {list(schema.choices)}")
        if len(value) < schema.min_count:
            raise InvalidAnswerError(f"expected at least {schema.min_count} choice(s), got {len(value)}")
        if schema.max_count is not None and len(value) > schema.max_count:
            raise InvalidAnswerError(f"expected at most {schema.max_count} choice(s), got {len(value)}")
        return _ordered(schema, value)

    def grade(self, schema: MultiChoiceSchema, answer: list[str], key: list[str]) -> Grade:
        given, wanted = set(answer), set(key)
        common = len(given & wanted)
        if not given and not wanted:
            score = 1.0
        elif schema.measure == "f1":
            score = 2 * common / (len(given) + len(wanted))
        else:
            score = common / len(given | wanted)
        return Grade(score=score, passed=score >= schema.pass_threshold)

    def fit(self, schema: MultiChoiceSchema, job: Job) -> Fit:
        keys, answers, method, options = job.keys, job.answers, job.method, job.options
        seen = {choice for answer in answers for choice in answer} | {c for key in keys.gold.values() for c in key}
        classes = list(schema.choices) if schema.choices is not None else sorted(seen)
        index = {choice: code for code, choice in enumerate(classes)}
        lengths = np.fromiter((len(answer) for answer in answers), dtype=np.int64, count=len(answers))
        coded = MultiLabelAnswers(
            tasks=keys.task_codes,
            workers=keys.worker_codes,
            n_tasks=len(keys.tasks),
            n_workers=len(keys.workers),
            choice_answers=np.repeat(np.arange(len(answers)), lengths),
            choice_classes=np.fromiter(
                (index[c] for answer in answers for c in answer), dtype=np.int64, count=int(lengths.sum())
            ),
            n_classes=max(len(classes), 1),
        )
        engine: dict[str, Any] = {
            "gold": {task: [index[c] for c in key] for task, key in keys.gold.items()} or None,
            "exclude_workers": keys.excluded,
            "min_count": schema.min_count,
            "max_count": schema.max_count,
        }
        result = multi_label_ds(coded, **engine, **options) if method == "ds" else per_class_majority(coded, **engine)
        names = np.asarray(classes, dtype=object)
        sets = [names[row].tolist() for row in result.labels] if classes else [[] for _ in keys.tasks]
        return Fit(sets, result.confidence, result.worker_accuracy, result)


def _ordered(schema: MultiChoiceSchema, value: list[str]) -> list[str]:
    """The schema's order when it lists choices, else sorted: one spelling per set."""
    if schema.choices is None:
        return sorted(value)
    position = {choice: i for i, choice in enumerate(schema.choices)}
    return sorted(value, key=position.__getitem__)


MULTI_CHOICE = MultiChoice()

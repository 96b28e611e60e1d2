"""``single_choice``: one class out of a list. Schema ``{"choices": [...]}``; answer: the class's string; gold is
graded by equality; aggregation: Dawid-Skene (``ds``, the default), one-coin DS (``onecoin``) or majority vote
(``mv``), the engine's existing methods, unchanged."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from marketplace.aggregation.em import dawid_skene, one_coin_dawid_skene
from marketplace.aggregation.encoding import encode_keys
from marketplace.aggregation.errors import InvalidAnswerError
from marketplace.aggregation.inputs import Answers
from marketplace.aggregation.majority import majority_vote
from marketplace.aggregation.types.base import AnswerType, Fit, Grade, Job, schema_choices, schema_fields

TIE = 1e-9


@dataclass(frozen=True)
class SingleChoiceSchema:
    choices: tuple[str, ...] | None = None


class SingleChoice(AnswerType):
    name = "single_choice"
    methods = ("ds", "onecoin", "mv")

    def parse_schema(self, raw: Mapping[str, Any] | None) -> SingleChoiceSchema:
        return SingleChoiceSchema(choices=schema_choices(schema_fields(raw, {"choices"})))

    def clean(self, schema: SingleChoiceSchema, value: Any, *, item: Mapping[str, Any] | None = None) -> str:
        if not isinstance(value, str) or not value:
            raise InvalidAnswerError("expected one choice, a non-empty string")
        if schema.choices is not None and value not in schema.choices:
            raise InvalidAnswerError(f"{value!r} is not one of the choices {list(schema.choices)}")
        return value

    def grade(self, schema: SingleChoiceSchema, answer: str, key: str) -> Grade:
        right = answer == key
        return Grade(score=float(right), passed=right)

    def fit(self, schema: SingleChoiceSchema, job: Job) -> Fit:
        keys, answers, method, options = job.keys, job.answers, job.method, job.options
        labels = answers + list(keys.gold.values())
        classes = np.asarray(schema.choices) if schema.choices is not None else np.unique(np.asarray(labels, dtype=str))
        coded = Answers(
            tasks=keys.task_codes,
            workers=keys.worker_codes,
            labels=encode_keys(np.asarray(answers, dtype=str), classes, what="answer"),
            n_tasks=len(keys.tasks),
            n_workers=len(keys.workers),
            n_classes=len(classes),
        )
        gold = {
            task: int(encode_keys(np.asarray([key]), classes, what="gold answer")[0]) for task, key in keys.gold.items()
        }
        engine: dict[str, Any] = {"gold": gold or None, "exclude_workers": keys.excluded}
        if method == "mv":
            vote = majority_vote(coded, **engine)
            agree = (vote.labels[coded.tasks] == coded.labels).astype(np.float64)
            answered = np.maximum(np.bincount(coded.workers, minlength=coded.n_workers), 1)
            quality = np.bincount(coded.workers, weights=agree, minlength=coded.n_workers) / answered
            return Fit(classes[vote.labels].tolist(), vote.confidence, quality, vote)
        fitted = (dawid_skene if method == "ds" else one_coin_dawid_skene)(coded, **engine, **options)
        # Exact ties (a symmetric job) come out of EM a rounding error apart, in an order that follows the answers'
        # order: within TIE of the best counts as a tie, and the lowest class index wins it.
        near_best = fitted.posteriors >= fitted.posteriors.max(axis=1, keepdims=True) - TIE
        return Fit(classes[near_best.argmax(axis=1)].tolist(), fitted.confidence, fitted.worker_accuracy, fitted)

    def decode(self, text: str) -> str:
        """A JSON string, or the text itself (a plain string is accepted, as in the old ``label`` column)."""
        try:
            value = json.loads(text)
        except ValueError:
            return text
        return value if isinstance(value, str) else text


SINGLE_CHOICE = SingleChoice()

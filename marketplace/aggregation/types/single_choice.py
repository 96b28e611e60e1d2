"""``single_choice``: one class out of a list. Schema ``{"choices": [...]}``; answer: the class's string; gold is
graded by equality; aggregation: Dawid-Skene (``ds``, the default), one-coin DS (``onecoin``) or majority vote
(``mv``), the engine's existing methods, unchanged."""

from __future__ import annotations

import json
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from marketplace.aggregation.em import dawid_skene, one_coin_dawid_skene
from marketplace.aggregation.encoding import encode_keys
from marketplace.aggregation.errors import InvalidAnswerError
from marketplace.aggregation.inputs import Answers
from marketplace.aggregation.majority import majority_vote
from marketplace.aggregation.types.base import (
    Consensus,
    Grade,
    choose_method,
    iteration_options,
    keyed,
    schema_choices,
    schema_fields,
)

TIE = 1e-9


@dataclass(frozen=True)
class SingleChoiceSchema:
    choices: tuple[str, ...] | None = None


class SingleChoice:
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

    def aggregate(
        self,
        schema: SingleChoiceSchema,
        tasks: Sequence[Hashable],
        workers: Sequence[Hashable],
        answers: Sequence[str],
        *,
        gold: Mapping[Any, str] | None = None,
        exclude_workers: Iterable[Hashable] | None = None,
        items: Mapping[Any, Mapping[str, Any]] | None = None,
        method: str | None = None,
        max_iter: int | None = None,
        tol: float | None = None,
    ) -> Consensus:
        chosen = choose_method(self.methods, method)
        keys = keyed(tasks, workers, gold, exclude_workers)
        keys.crowd  # noqa: B018 -- validates, and refuses a worker answering a task twice
        labels = list(answers) + list(keys.gold.values())
        classes = (
            np.asarray(schema.choices)
            if schema.choices is not None
            else np.unique(np.asarray(labels, dtype=object).astype(str))
        )
        coded = Answers(
            tasks=keys.task_codes,
            workers=keys.worker_codes,
            labels=encode_keys(np.asarray(list(answers)), classes, what="answer"),
            n_tasks=len(keys.tasks),
            n_workers=len(keys.workers),
            n_classes=len(classes),
        )
        gold_codes = {
            task: int(encode_keys(np.asarray([label]), classes, what="gold answer")[0])
            for task, label in keys.gold.items()
        }
        options = {"gold": gold_codes or None, "exclude_workers": keys.excluded}
        if chosen == "mv":
            vote = majority_vote(coded, **options)
            agree = (vote.labels[coded.tasks] == coded.labels).astype(np.float64)
            quality = np.bincount(coded.workers, weights=agree, minlength=coded.n_workers) / np.maximum(
                np.bincount(coded.workers, minlength=coded.n_workers), 1
            )
            result: object = vote
            labels_out, confidence = vote.labels, vote.confidence
        else:
            fit = dawid_skene if chosen == "ds" else one_coin_dawid_skene
            model = fit(coded, **options, **iteration_options(max_iter, tol))
            # Exact ties (a symmetric job) come out of EM a rounding error apart, in an order that follows the
            # answers' order: within TIE of the best counts as a tie, and the lowest class index wins it.
            near_best = model.posteriors >= model.posteriors.max(axis=1, keepdims=True) - TIE
            result, labels_out, confidence, quality = (
                model,
                near_best.argmax(axis=1),
                model.confidence,
                model.worker_accuracy,
            )
        return Consensus(
            tasks=keys.tasks,
            answers=classes[labels_out].tolist(),
            confidence=confidence,
            workers=keys.workers,
            worker_quality=quality,
            model=result,
            gold_used=len(keys.gold),
            gold_skipped=keys.gold_skipped,
        )

    def decode(self, text: str) -> str:
        """A JSON string, or the text itself (a plain string is accepted, as in the old ``label`` column)."""
        try:
            value = json.loads(text)
        except ValueError:
            return text
        return value if isinstance(value, str) else text

    def item_of_task(self, task: str) -> Mapping[str, Any] | None:
        return None


SINGLE_CHOICE = SingleChoice()

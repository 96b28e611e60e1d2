"""What every answer type provides, and the pieces they share.

An answer type is one object in :data:`marketplace.aggregation.types.ANSWER_TYPES`: data first (its name, its
aggregation methods, the default first), then five small functions, all pure (no Django, no I/O):

- ``parse_schema(raw)``: the job's schema (a JSON object, ``None`` for the defaults) as a frozen dataclass, or
  :class:`InvalidSchemaError` naming the field.
- ``clean(schema, value, item=...)``: one answer as decoded from JSON, checked and put in its canonical form, or
  :class:`InvalidAnswerError` saying what was expected. ``item`` is the task's item data when the answer
  depends on it (a pairwise answer names one of the item's two sides).
- ``grade(schema, answer, key)``: a cleaned answer against a gold key: a score in [0, 1] and pass or fail.
- ``aggregate(schema, tasks, workers, answers, ...)``: keys and cleaned answers in, a :class:`Consensus` out
  (one answer and a confidence per task, a quality per worker), through the pure engine.
- ``decode(text)``: one answer as written in a CSV file (JSON), for the command line and gold uploads.
- ``item_fields`` and ``check_item(schema, payload)``: the item fields the type's answers and aggregation read (a
  pairwise item's ``left`` and ``right``; none for the others), and their check on upload
  (:class:`InvalidItemError` naming the field).

A type whose answers depend on the item (a box must lie inside the image, a span inside the text) sets
``needs_item``: the marketplace then passes ``item``, the item's fields by name, each media field as a mapping of
what is known of its file (``{"media": name, "kind": "image", "width": 640, "height": 480}``). A type whose answer
is a list of parts (boxes, spans) names them in ``parts`` and reports one confidence per part of each aggregated
answer (``Fit.part_confidence``). ``exports`` are the file formats of the type's own (COCO, CoNLL...), pure
writers of :class:`ExportRow` rows.

A worker who answers the same task twice is refused (:class:`InvalidAnswersError`), whatever the type.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from marketplace.aggregation.crowd import CrowdAnswers
from marketplace.aggregation.encoding import first_appearance_codes
from marketplace.aggregation.errors import InvalidAnswerError, InvalidOptionError, InvalidSchemaError
from marketplace.aggregation.inputs import FloatArray

KeyArray = npt.NDArray[Any]


@dataclass(frozen=True)
class Grade:
    """A cleaned answer against its gold key: ``score`` in [0, 1] (1 = the key) and whether it ``passed``."""

    score: float
    passed: bool


@dataclass(frozen=True, eq=False)
class Consensus:
    """One aggregation, in the type's own terms.

    ``answers[i]`` (JSON-ready) and ``confidence[i]`` belong to task ``tasks[i]`` (tasks in order of first
    appearance); ``worker_quality[j]`` (0 to 1, the type's reliability estimate) to worker ``workers[j]``;
    ``model`` is the engine's own result with every estimate it made. A pairwise job also scores its items
    (``items``, ``item_scores``). ``gold_used`` / ``gold_skipped``: gold keys clamped / ignored because nobody
    answered their task.
    """

    tasks: KeyArray
    answers: list[Any]
    confidence: FloatArray
    workers: KeyArray
    worker_quality: FloatArray
    model: object
    gold_used: int = 0
    gold_skipped: int = 0
    items: KeyArray | None = None
    item_scores: FloatArray | None = field(default=None)
    part_confidence: list[list[float]] | None = None

    def rows(self) -> tuple[list[str], list[list[Any]]]:
        """The command line's output table: ``item,score`` when items are scored, else ``task,answer,confidence``."""
        if self.items is not None and self.item_scores is not None:
            return ["item", "score"], [
                [item, f"{score:.6f}"]
                for item, score in zip(self.items.tolist(), self.item_scores.tolist(), strict=True)
            ]
        encoded = [json.dumps(answer, ensure_ascii=False) for answer in self.answers]
        confidence = [f"{value:.6f}" for value in self.confidence.tolist()]
        return ["task", "answer", "confidence"], [
            list(row) for row in zip(self.tasks.tolist(), encoded, confidence, strict=True)
        ]


@dataclass(frozen=True, eq=False)
class Keyed:
    """Task and worker keys coded by first appearance, with gold and exclusions translated to codes."""

    tasks: KeyArray
    task_codes: npt.NDArray[np.int64]
    workers: KeyArray
    worker_codes: npt.NDArray[np.int64]
    gold: dict[int, Any]
    gold_skipped: int
    excluded: npt.NDArray[np.int64]

    @property
    def crowd(self) -> CrowdAnswers:
        """Validates the codes and refuses a worker answering a task twice."""
        return CrowdAnswers(self.task_codes, self.worker_codes, len(self.tasks), len(self.workers))

    def engine_options(self) -> dict[str, Any]:
        return {"gold": self.gold or None, "exclude_workers": self.excluded}


@dataclass(frozen=True, eq=False)
class Fit:
    """What a type's engine found, in the type's terms, before the task and worker keys are put back."""

    answers: list[Any]
    confidence: FloatArray
    worker_quality: FloatArray
    model: object
    items: KeyArray | None = None
    item_scores: FloatArray | None = None
    part_confidence: list[list[float]] | None = None


@dataclass(frozen=True)
class ExportRow:
    """One item as an export of the type's own receives it: its ``fields`` as ``clean`` receives ``item`` (media
    resolved), and its aggregated ``answer`` (None before any aggregation) with its confidences."""

    item_id: int
    external_id: str
    fields: Mapping[str, Any]
    answer: Any
    confidence: float | None
    part_confidence: Sequence[float] | None


@dataclass(frozen=True)
class ExportFormat:
    """A file format of a type's own: ``write(schema, rows)`` yields the file's text in pieces."""

    content_type: str
    extension: str
    write: Callable[[Any, Iterable[ExportRow]], Iterator[str]]


@dataclass(frozen=True, eq=False)
class Job:
    """One aggregation as a type's ``fit`` receives it: coded keys, cleaned answers, the method and its options."""

    keys: Keyed
    answers: list[Any]
    method: str
    options: dict[str, Any]
    items: Mapping[Any, Mapping[str, Any]] | None


class AnswerType:
    """An answer type: ``parse_schema``, ``clean``, ``grade`` and ``fit`` (the engine call on coded keys) are its
    own; the rest is shared: keys coded, the method chosen, the result as a :class:`Consensus`, JSON answers."""

    name: str
    methods: tuple[str, ...]
    needs_item: bool = False
    parts: str | None = None
    exports: Mapping[str, ExportFormat] = {}  # noqa: RUF012 -- read only, replaced (never mutated) by a type
    item_fields: tuple[str, ...] = ()

    def parse_schema(self, raw: Mapping[str, Any] | None) -> Any:
        raise NotImplementedError

    def clean(self, schema: Any, value: Any, *, item: Mapping[str, Any] | None = None) -> Any:
        raise NotImplementedError

    def grade(self, schema: Any, answer: Any, key: Any) -> Grade:
        raise NotImplementedError

    def aggregate(
        self,
        schema: Any,
        tasks: Sequence[Hashable],
        workers: Sequence[Hashable],
        answers: Sequence[Any],
        *,
        gold: Mapping[Any, Any] | None = None,
        exclude_workers: Iterable[Hashable] | None = None,
        items: Mapping[Any, Mapping[str, Any]] | None = None,
        method: str | None = None,
        max_iter: int | None = None,
        tol: float | None = None,
    ) -> Consensus:
        keys = keyed(tasks, workers, gold, exclude_workers)
        keys.crowd  # noqa: B018 -- validates the codes and refuses a worker answering a task twice, for every type
        chosen = choose_method(self.methods, method)
        fit = self.fit(schema, Job(keys, list(answers), chosen, iteration_options(max_iter, tol), items))
        return Consensus(
            tasks=keys.tasks,
            answers=fit.answers,
            confidence=fit.confidence,
            workers=keys.workers,
            worker_quality=fit.worker_quality,
            model=fit.model,
            gold_used=len(keys.gold),
            gold_skipped=keys.gold_skipped,
            items=fit.items,
            item_scores=fit.item_scores,
            part_confidence=fit.part_confidence,
        )

    def fit(self, schema: Any, job: Job) -> Fit:
        raise NotImplementedError

    def decode(self, text: str) -> Any:
        return decode_json(text)

    def item_of_task(self, task: str) -> Mapping[str, Any] | None:
        return None

    def check_item(self, schema: Any, payload: Mapping[str, Any]) -> None:
        """An item's payload, checked for what the type reads from it; nothing by default."""


def keyed(
    tasks: Sequence[Hashable],
    workers: Sequence[Hashable],
    gold: Mapping[Any, Any] | None,
    exclude_workers: Iterable[Hashable] | None,
) -> Keyed:
    if len(tasks) != len(workers):
        raise InvalidOptionError("tasks and workers need one entry per answer")
    task_keys, task_codes = first_appearance_codes(_key_array(tasks))
    worker_keys, worker_codes = first_appearance_codes(_key_array(workers))
    task_index = {key: code for code, key in enumerate(task_keys.tolist())}
    worker_index = {key: code for code, key in enumerate(worker_keys.tolist())}
    known = {task_index[key]: value for key, value in (gold or {}).items() if key in task_index}
    excluded = [worker_index[key] for key in (exclude_workers or ()) if key in worker_index]
    return Keyed(
        tasks=task_keys,
        task_codes=task_codes,
        workers=worker_keys,
        worker_codes=worker_codes,
        gold=known,
        gold_skipped=len(gold or {}) - len(known),
        excluded=np.asarray(sorted(excluded), dtype=np.int64),
    )


def _key_array(keys: Sequence[Hashable]) -> KeyArray:
    arr = np.asarray(list(keys))
    if arr.ndim != 1:
        # e.g. tuples as keys: code them as strings of their repr, which keeps them distinct.
        arr = np.asarray([repr(key) for key in keys])
    return arr


def choose_method(methods: tuple[str, ...], method: str | None) -> str:
    if method is None:
        return methods[0]
    if method not in methods:
        raise InvalidOptionError(f"unknown method {method!r}; expected one of {', '.join(methods)}")
    return method


def iteration_options(max_iter: int | None, tol: float | None) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if max_iter is not None:
        options["max_iter"] = max_iter
    if tol is not None:
        options["tol"] = tol
    return options


def decode_json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise InvalidAnswerError(f"not valid JSON ({exc.msg})") from exc


def schema_fields(raw: Mapping[str, Any] | None, allowed: Iterable[str]) -> dict[str, Any]:
    """``raw`` as a dict, refusing a non-object and any field outside ``allowed``."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise InvalidSchemaError("the schema must be a JSON object")
    unknown = sorted(set(raw) - set(allowed))
    if unknown:
        raise InvalidSchemaError(
            f"unknown schema field(s): {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}"
        )
    return dict(raw)


def schema_int(fields: Mapping[str, Any], name: str, default: int | None, *, minimum: int = 0) -> int | None:
    value = fields.get(name, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InvalidSchemaError(f"{name} must be an integer >= {minimum}")
    return value


def schema_number(fields: Mapping[str, Any], name: str, default: float | None) -> float | None:
    value = fields.get(name, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not np.isfinite(value):
        raise InvalidSchemaError(f"{name} must be a finite number")
    return float(value)


def schema_fraction(fields: Mapping[str, Any], name: str, default: float) -> float:
    value = schema_number(fields, name, default)
    if value is None or not 0.0 <= value <= 1.0:
        raise InvalidSchemaError(f"{name} must be a number between 0 and 1")
    return value


def schema_choices(fields: Mapping[str, Any]) -> tuple[str, ...] | None:
    """The ``choices`` list: distinct non-empty strings, or ``None`` when the schema names none."""
    choices = fields.get("choices")
    if choices is None:
        return None
    if not isinstance(choices, list) or not choices or not all(isinstance(c, str) and c for c in choices):
        raise InvalidSchemaError("choices must be a non-empty list of non-empty strings")
    if len(set(choices)) != len(choices):
        raise InvalidSchemaError("choices must be distinct")
    return tuple(choices)


def f1_quality(precision: FloatArray, recall: FloatArray) -> FloatArray:
    """Each worker's F1 of its parts (boxes, spans) against the aggregate, from its precision and recall (NaN: not
    measured; one alone is taken as it is); a worker with neither measured gets 0.5, "unknown"."""
    p, r = np.asarray(precision, dtype=np.float64), np.asarray(recall, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(p + r > 0, 2 * p * r / (p + r), 0.0)
    f1 = np.where(np.isnan(p), r, np.where(np.isnan(r), p, f1))
    return np.where(np.isnan(f1), 0.5, f1)

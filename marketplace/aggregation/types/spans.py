"""``spans``: labelled stretches of an item's text (named entities, say). Schema ``{"text_field": "sentence",
"labels": ["PER", "LOC"], "min_spans": 0, "max_spans": null, "allow_overlap": false, "measure": "exact",
"pass_threshold": 0.5}``.

An answer is a list of spans ``[start, end, label]``: half-open character offsets into the item's
``text_field``, a string or a text file (``0 <= start < end <= len(text)``; a text file's length is the
``characters`` the marketplace counted at upload, its ``text`` there in exports), ``label`` one of ``labels``;
``min_spans`` .. ``max_spans`` of them, not overlapping unless ``allow_overlap`` (adjacent spans may touch). It is
kept sorted by start. Gold is
graded by span-level F1 against the key, ``exact`` (same start, end and label, as CoNLL scores entities) or
``overlap`` (a span counts if it overlaps one of its label), passing at ``pass_threshold``. Aggregation (``em``):
a sequence model over the workers' BIO tags of the text's units, fitted by EM and decoded by Viterbi
(:mod:`marketplace.aggregation.spans`); the answer's confidence is the probability that the text's spans are
exactly right, each span has its own; a worker's quality is the F1 of its spans against the aggregate. Exports:
CoNLL BIO (whitespace tokens) and spaCy-style JSONL (character offsets).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from marketplace.aggregation.errors import InvalidAnswerError, InvalidSchemaError
from marketplace.aggregation.spans.answers import (
    grade_spans,
    parse_spans_answer,
    spans_answer_issues,
    spans_schema_issues,
)
from marketplace.aggregation.spans.engine import span_aggregate
from marketplace.aggregation.spans.export import ConllSentence, SpacyDoc, char_to_token_spans, conll_bio, spacy_jsonl
from marketplace.aggregation.spans.inputs import SpanAnswers
from marketplace.aggregation.types.base import (
    AnswerType,
    ExportFormat,
    ExportRow,
    Fit,
    Grade,
    Job,
    f1_quality,
    schema_fields,
    schema_fraction,
)

FIELDS = ("text_field", "labels", "min_spans", "max_spans", "allow_overlap", "measure", "pass_threshold")
MEASURES = ("exact", "overlap")
TOKEN = re.compile(r"\S+")


@dataclass(frozen=True)
class SpansSchema:
    text_field: str
    labels: tuple[str, ...]
    min_spans: int = 0
    max_spans: int | None = None
    allow_overlap: bool = False
    measure: str = "exact"
    pass_threshold: float = 0.5

    @property
    def rules(self) -> dict[str, Any]:
        """The schema as the pure checks of :mod:`marketplace.aggregation.spans.answers` read it."""
        return {
            "labels": list(self.labels),
            "min_spans": self.min_spans,
            "max_spans": self.max_spans,
            "allow_overlap": self.allow_overlap,
        }


class Spans(AnswerType):
    name = "spans"
    methods = ("em",)
    needs_item = True
    parts = "spans"

    def parse_schema(self, raw: Mapping[str, Any] | None) -> SpansSchema:
        fields = schema_fields(raw, FIELDS)
        text_field = fields.get("text_field")
        if not isinstance(text_field, str) or not text_field:
            raise InvalidSchemaError("text_field must name the items' field holding the text the spans point into")
        issues = spans_schema_issues(fields)
        if issues:
            raise InvalidSchemaError(issues[0].message)
        measure = fields.get("measure", "exact")
        if measure not in MEASURES:
            raise InvalidSchemaError(f"measure must be one of {', '.join(MEASURES)}")
        return SpansSchema(
            text_field=text_field,
            labels=tuple(fields["labels"]),
            min_spans=int(fields.get("min_spans", 0)),
            max_spans=fields.get("max_spans"),
            allow_overlap=bool(fields.get("allow_overlap", False)),
            measure=measure,
            pass_threshold=schema_fraction(fields, "pass_threshold", 0.5),
        )

    def item_fields(self, schema: SpansSchema) -> dict[str, tuple[str, tuple[str, ...]]]:
        return {"text_field": (schema.text_field, ("string", "text_file"))}

    def clean(self, schema: SpansSchema, value: Any, *, item: Mapping[str, Any] | None = None) -> list[list[Any]]:
        issues = spans_answer_issues(value, schema.rules, length=length_of(schema, item))
        if issues:
            raise InvalidAnswerError("; ".join(issue.message for issue in issues[:5]))
        return sorted([[start, end, label] for start, end, label in value], key=lambda s: (s[0], s[1], s[2]))

    def grade(self, schema: SpansSchema, answer: list[list[Any]], key: list[list[Any]]) -> Grade:
        graded = grade_spans(parse_spans_answer(answer), parse_spans_answer(key))
        score = graded.exact_f1 if schema.measure == "exact" else graded.overlap_f1
        return Grade(score=score, passed=score >= schema.pass_threshold)

    def fit(self, schema: SpansSchema, job: Job) -> Fit:
        keys, answers = job.keys, job.answers
        index = {label: code for code, label in enumerate(schema.labels)}
        spans = [span for answer in answers for span in parse_spans_answer(answer)]
        counts = np.fromiter((len(answer) for answer in answers), dtype=np.int64, count=len(answers))
        coded = SpanAnswers(
            tasks=keys.task_codes,
            workers=keys.worker_codes,
            span_responses=np.repeat(np.arange(len(answers)), counts),
            starts=np.fromiter((s.start for s in spans), dtype=np.int64, count=len(spans)),
            ends=np.fromiter((s.end for s in spans), dtype=np.int64, count=len(spans)),
            labels=np.fromiter((index[s.label] for s in spans), dtype=np.int64, count=len(spans)),
            lengths=_lengths(schema, job),
            n_workers=len(keys.workers),
            n_classes=len(schema.labels),
        )
        gold = {
            task: [(s.start, s.end, index[s.label]) for s in parse_spans_answer(key)] for task, key in keys.gold.items()
        }
        result = span_aggregate(coded, gold=gold or None, exclude_workers=keys.excluded, **job.options)
        per_task: list[list[list[Any]]] = [[] for _ in keys.tasks]
        confidence: list[list[float]] = [[] for _ in keys.tasks]
        rows = zip(
            result.task.tolist(),
            result.start.tolist(),
            result.end.tolist(),
            result.label.tolist(),
            result.confidence.tolist(),
            strict=True,
        )
        for task, start, end, label, span_confidence in rows:
            per_task[task].append([start, end, schema.labels[label]])
            confidence[task].append(round(float(span_confidence), 6))
        quality = f1_quality(result.worker_precision, result.worker_recall)
        return Fit(per_task, result.task_confidence, quality, result, part_confidence=confidence)

    exports = {  # noqa: RUF012 -- replaced, never mutated
        "conll": ExportFormat("text/plain; charset=utf-8", "conll", lambda schema, rows: conll_export(schema, rows)),
        "spacy": ExportFormat("application/x-ndjson", "spacy.jsonl", lambda schema, rows: spacy_export(schema, rows)),
    }


def text_of(schema: SpansSchema, item: Mapping[str, Any] | None) -> str | None:
    """The item's text (its ``text_field``: a string, or a text file described with its ``text``), None when
    unknown."""
    text = item.get(schema.text_field) if item is not None else None
    if isinstance(text, Mapping):
        text = text.get("text")
    return text if isinstance(text, str) else None


def length_of(schema: SpansSchema, item: Mapping[str, Any] | None) -> int | None:
    """The item's text length in characters (a text file's counted ``characters``), None when unknown."""
    text = item.get(schema.text_field) if item is not None else None
    if isinstance(text, Mapping):
        characters = text.get("characters")
        return characters if isinstance(characters, int) else None
    return len(text) if isinstance(text, str) else None


def _lengths(schema: SpansSchema, job: Job) -> np.ndarray:
    """Each task's text length: its text's when the item is known, else (at least) the furthest span end."""
    lengths = np.zeros(len(job.keys.tasks), dtype=np.int64)
    for code, answer in zip(job.keys.task_codes.tolist(), job.answers, strict=True):
        lengths[code] = max(lengths[code], max((end for _, end, _ in answer), default=0))
    for code, key in job.keys.gold.items():
        lengths[code] = max(lengths[code], max((end for _, end, _ in key), default=0))
    if job.items is not None:
        for code, task in enumerate(job.keys.tasks.tolist()):
            length = length_of(schema, job.items.get(task))
            if length is not None:
                lengths[code] = max(lengths[code], length)
    return lengths


def _spans_in(text: str, answer: Any) -> list[tuple[int, int, str]]:
    """The answer's spans that fit the text, without overlaps (the first kept), as tuples."""
    kept: list[tuple[int, int, str]] = []
    for start, end, label in sorted(tuple(span) for span in (answer or ())):
        if 0 <= start < end <= len(text) and (not kept or start >= kept[-1][1]):
            kept.append((start, end, label))
    return kept


def conll_export(schema: SpansSchema, rows: Iterable[ExportRow]) -> Iterator[str]:
    """CoNLL BIO: one ``token<TAB>tag`` line per whitespace-separated token of each item's text, a blank line after
    each item (items in id order); a span tags every token it touches (a span within a token already tagged is
    left out)."""
    for row in rows:
        text = text_of(schema, row.fields) or ""
        matches = list(TOKEN.finditer(text))
        token_spans = char_to_token_spans([m.span() for m in matches], _spans_in(text, row.answer))
        flat: list[tuple[int, int, str]] = []
        for span in token_spans:
            if not flat or span[0] >= flat[-1][1]:
                flat.append(span)
        yield conll_bio([ConllSentence(tokens=[m.group() for m in matches], spans=flat)]) if matches else "\n"


def spacy_export(schema: SpansSchema, rows: Iterable[ExportRow]) -> Iterator[str]:
    """spaCy / Prodigy-style JSONL: ``{"text", "spans": [{"start", "end", "label"}], "meta"}`` per item, character
    offsets; ``meta`` holds the item's id, external id and confidences."""
    for row in rows:
        text = text_of(schema, row.fields) or ""
        meta = {
            "item_id": row.item_id,
            "external_id": row.external_id,
            "confidence": row.confidence,
            "span_confidence": list(row.part_confidence or ()),
        }
        yield spacy_jsonl([SpacyDoc(text=text, spans=_spans_in(text, row.answer), meta=meta)])


SPANS = Spans()

__all__ = ["SPANS", "SpansSchema"]

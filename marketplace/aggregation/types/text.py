"""``text``: free text (a transcription, a short description). Schema ``{"min_length": 0, "max_length": 10000,
"normalize": ["case", "punctuation", "whitespace"], "measure": "wer" | "cer", "pass_threshold": 0.9}``.

An answer is a string of ``min_length`` to ``max_length`` characters once normalised, kept as typed (Unicode NFKC,
ends trimmed). ``normalize`` says which differences do not count when answers are compared: letter case,
punctuation (Unicode category P), runs of whitespace; by default all three. Gold is graded by the word
error rate against the key (``wer``: word edit distance over the key's word count) or the character error rate
(``cer``), both after normalisation; the score is ``1 − rate`` (at least 0), passing at ``pass_threshold``.
Aggregation: the worker-weighted word consensus (``em``) or the plain medoid (``medoid``), on the normalised words;
the consensus is written in that normalised form.
"""

from __future__ import annotations

import sys
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from marketplace.aggregation.alignment import Packed, distances
from marketplace.aggregation.errors import InvalidAnswerError, InvalidSchemaError
from marketplace.aggregation.text_consensus import TextAnswers, text_consensus, text_medoid
from marketplace.aggregation.types.base import (
    AnswerType,
    Fit,
    Grade,
    Job,
    schema_fields,
    schema_fraction,
    schema_int,
)

RULES = ("case", "punctuation", "whitespace")
MEASURES = ("wer", "cer")


@dataclass(frozen=True)
class TextSchema:
    min_length: int = 0
    max_length: int = 10_000
    normalize: frozenset[str] = frozenset(RULES)
    measure: str = "wer"
    pass_threshold: float = 0.9


class Text(AnswerType):
    name = "text"
    methods = ("em", "medoid")

    def parse_schema(self, raw: Mapping[str, Any] | None) -> TextSchema:
        fields = schema_fields(raw, {"min_length", "max_length", "normalize", "measure", "pass_threshold"})
        min_length = schema_int(fields, "min_length", 0) or 0
        max_length = schema_int(fields, "max_length", 10_000, minimum=1) or 10_000
        if max_length < min_length:
            raise InvalidSchemaError("max_length must be >= min_length")
        rules = fields.get("normalize", list(RULES))
        if not isinstance(rules, list) or not set(rules) <= set(RULES):
            raise InvalidSchemaError(f"normalize must be a list of rules among {', '.join(RULES)}")
        measure = fields.get("measure", "wer")
        if measure not in MEASURES:
            raise InvalidSchemaError(f"measure must be one of {', '.join(MEASURES)}")
        return TextSchema(
            min_length, max_length, frozenset(rules), measure, schema_fraction(fields, "pass_threshold", 0.9)
        )

    def clean(self, schema: TextSchema, value: Any, *, item: Mapping[str, Any] | None = None) -> str:
        if not isinstance(value, str):
            raise InvalidAnswerError("expected a string")
        text = unicodedata.normalize("NFKC", value).strip()
        length = len(normalise(text, schema.normalize))
        if length < schema.min_length:
            raise InvalidAnswerError(
                f"expected at least {schema.min_length} character(s) once normalised, got {length}"
            )
        if length > schema.max_length:
            raise InvalidAnswerError(f"expected at most {schema.max_length} characters once normalised, got {length}")
        return text

    def grade(self, schema: TextSchema, answer: str, key: str) -> Grade:
        rate = error_rate(normalise(answer, schema.normalize), normalise(key, schema.normalize), schema.measure)
        score = max(0.0, 1.0 - rate)
        return Grade(score=score, passed=score >= schema.pass_threshold)

    def fit(self, schema: TextSchema, job: Job) -> Fit:
        keys, answers, method, options = job.keys, job.answers, job.method, job.options
        words = [normalise(answer, schema.normalize).split() for answer in answers]
        key_words = {task: normalise(key, schema.normalize).split() for task, key in keys.gold.items()}
        vocabulary = sorted({w for answer in words for w in answer} | {w for key in key_words.values() for w in key})
        index = {word: code for code, word in enumerate(vocabulary)}
        packed = encode_words(words, index)
        coded = TextAnswers(
            tasks=keys.task_codes,
            workers=keys.worker_codes,
            n_tasks=len(keys.tasks),
            n_workers=len(keys.workers),
            tokens=packed.tokens,
            offsets=packed.offsets,
            n_vocabulary=max(len(vocabulary), 1),
        )
        gold = {task: [index[w] for w in key] for task, key in key_words.items()} or None
        if method == "em":
            result = text_consensus(coded, gold=gold, exclude_workers=keys.excluded, **options)
        else:
            result = text_medoid(coded, gold=gold, exclude_workers=keys.excluded)
        names = np.asarray(vocabulary + [""], dtype=object)
        bounds = zip(result.offsets[:-1].tolist(), result.offsets[1:].tolist(), strict=True)
        texts = [" ".join(names[result.tokens[start:stop]].tolist()) for start, stop in bounds]
        return Fit(texts, result.confidence, result.worker_reliability, result)


def normalise(text: str, rules: frozenset[str]) -> str:
    """``text`` with the schema's normalisation rules applied (NFKC always)."""
    text = unicodedata.normalize("NFKC", text)
    if "case" in rules:
        text = text.casefold()
    if "punctuation" in rules:
        text = text.translate(_punctuation())
    if "whitespace" in rules:
        text = " ".join(text.split())
    return text


@cache
def _punctuation() -> dict[int, None]:
    """Every Unicode punctuation code point (categories Pc, Pd, Ps, Pe, Pi, Pf, Po), mapped to deletion."""
    return {cp: None for cp in range(sys.maxunicode + 1) if unicodedata.category(chr(cp)).startswith("P")}


def encode_words(sequences: Sequence[Sequence[str]], index: Mapping[str, int]) -> Packed:
    lengths = np.fromiter((len(seq) for seq in sequences), dtype=np.int64, count=len(sequences))
    offsets = np.zeros(len(sequences) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    tokens = np.fromiter((index[word] for seq in sequences for word in seq), dtype=np.int64, count=int(offsets[-1]))
    return Packed(tokens, offsets)


def error_rate(answer: str, key: str, measure: str) -> float:
    """Word (``wer``) or character (``cer``) edit distance from ``answer`` to ``key``, over the key's length (an
    empty key: 0 for an empty answer, else 1)."""
    units_a = answer.split() if measure == "wer" else list(answer)
    units_k = key.split() if measure == "wer" else list(key)
    if not units_k:
        return 0.0 if not units_a else 1.0
    index = {unit: code for code, unit in enumerate(sorted(set(units_a) | set(units_k)))}
    packed = encode_words([units_a, units_k], index)
    distance = int(distances(packed, packed, np.array([0]), np.array([1]))[0])
    return distance / len(units_k)


TEXT = Text()

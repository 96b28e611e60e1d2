"""Span exports that NLP tools read: CoNLL-style BIO (one token per line) and spaCy / Prodigy-style JSONL.

    conll = conll_bio([ConllSentence(tokens=["Ada", "Lovelace", "wrote"], spans=[(0, 2, "PER")])])
    jsonl = spacy_jsonl([SpacyDoc(text="Ada Lovelace wrote", spans=[(0, 12, "PER")])])

CoNLL: ``token<TAB>tag`` lines, a blank line after each sentence, optionally ``-DOCSTART-`` lines between
documents; spans are token indices. spaCy JSONL: one ``{"text", "spans": [{"start", "end", "label"}],
"meta"}`` object per line, offsets in characters (what ``Doc.char_span`` takes). :func:`char_to_token_spans`
maps character spans onto a tokenisation for the CoNLL export; :func:`read_conll` reads CoNLL back.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from marketplace.aggregation.spans.bio import spans_to_tags

SpanTuple = tuple[int, int, str]


@dataclass(frozen=True)
class ConllSentence:
    tokens: Sequence[str]
    spans: Sequence[SpanTuple]  # token indices, half-open
    document: str | None = None  # a new value starts a document (a -DOCSTART- line)


@dataclass(frozen=True)
class SpacyDoc:
    text: str
    spans: Sequence[SpanTuple]  # character offsets, half-open
    meta: dict[str, Any] = field(default_factory=dict)


def conll_bio(sentences: Iterable[ConllSentence], *, docstart: bool = False) -> str:
    """CoNLL-style BIO text (see the module doc). Tokens may not contain whitespace."""
    lines: list[str] = []
    document: str | None = None
    for number, sentence in enumerate(sentences):
        if docstart and (number == 0 or sentence.document != document):
            lines += ["-DOCSTART-\tO", ""]
        document = sentence.document
        if any(not token or any(c.isspace() for c in token) for token in sentence.tokens):
            raise ValueError(f"sentence {number}: a CoNLL token cannot be empty or contain whitespace")
        tags = spans_to_tags(sentence.spans, len(sentence.tokens))
        lines += [f"{token}\t{tag}" for token, tag in zip(sentence.tokens, tags, strict=True)]
        lines.append("")
    return "\n".join(lines) + ("\n" if lines else "")


def read_conll(text: str) -> list[tuple[list[str], list[str]]]:
    """``(tokens, tags)`` per sentence of CoNLL text: the first and the last column; ``-DOCSTART-`` skipped."""
    sentences: list[tuple[list[str], list[str]]] = []
    tokens: list[str] = []
    tags: list[str] = []
    for line in [*text.splitlines(), ""]:
        columns = line.split()
        if columns and columns[0] != "-DOCSTART-":
            tokens.append(columns[0])
            tags.append(columns[-1])
        elif not columns and tokens:
            sentences.append((tokens, tags))
            tokens, tags = [], []
    return sentences


def spacy_jsonl(docs: Iterable[SpacyDoc]) -> str:
    """One JSON object per line (see the module doc); spans sorted by start."""
    lines = []
    for number, doc in enumerate(docs):
        if any(not 0 <= start < end <= len(doc.text) for start, end, _ in doc.spans):
            raise ValueError(f"document {number}: a span lies outside the text")
        spans = [{"start": s, "end": e, "label": label} for s, e, label in sorted(doc.spans)]
        lines.append(json.dumps({"text": doc.text, "spans": spans, "meta": doc.meta}, ensure_ascii=False))
    return "\n".join(lines) + ("\n" if lines else "")


def char_to_token_spans(token_offsets: Sequence[tuple[int, int]], spans: Iterable[SpanTuple]) -> list[SpanTuple]:
    """Character spans to token-index spans: the tokens a span touches (a span inside no token is dropped)."""
    result = []
    for start, end, label in spans:
        touched = [i for i, (a, b) in enumerate(token_offsets) if a < end and start < b]
        if touched:
            result.append((touched[0], touched[-1] + 1, label))
    return result

"""BIO tags: state numbering for the sequence model, and conversions between spans and tag sequences.

With ``C`` span labels the model has ``K = 2C + 1`` states: ``O = 0``, ``B-c = 1 + 2c``, ``I-c = 2 + 2c``.
``I-c`` may only follow ``B-c`` or ``I-c`` and cannot open a text: the transition mask encodes that, so no
decoded sequence is ill-formed.

The string conversions read tags as ``conlleval`` does (an ``I-X`` after ``O`` or after another type opens a
span), so a slightly ill-formed tagging still gives the spans CoNLL scoring would count.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

OUTSIDE = 0

BoolMatrix = npt.NDArray[np.bool_]


def n_states(n_classes: int) -> int:
    return 2 * n_classes + 1


def begin(label: npt.ArrayLike) -> npt.NDArray[np.int64]:
    return 1 + 2 * np.asarray(label, dtype=np.int64)


def inside(label: npt.ArrayLike) -> npt.NDArray[np.int64]:
    return 2 + 2 * np.asarray(label, dtype=np.int64)


def allowed_transitions(n_classes: int) -> tuple[BoolMatrix, npt.NDArray[np.bool_]]:
    """``allowed[i, j]``: may state ``j`` follow state ``i``; ``first[j]``: may a text open with ``j``."""
    k = n_states(n_classes)
    allowed = np.ones((k, k), dtype=bool)
    first = np.ones(k, dtype=bool)
    for label in range(n_classes):
        i_tag = int(inside(label))
        allowed[:, i_tag] = False
        allowed[[int(begin(label)), i_tag], i_tag] = True
        first[i_tag] = False
    return allowed, first


def spans_to_tags(spans: Sequence[tuple[int, int, str]], length: int, outside: str = "O") -> list[str]:
    """``[start, end, label]`` spans (non-overlapping, label a string) to ``length`` BIO tags."""
    tags = [outside] * length
    for start, end, label in sorted((int(s), int(e), str(lab)) for s, e, lab in spans):
        if not 0 <= start < end <= length:
            raise ValueError(f"span [{start}, {end}) does not fit in {length} tokens")
        if any(tag != outside for tag in tags[start:end]):
            raise ValueError(f"span [{start}, {end}) overlaps another span")
        tags[start:end] = [f"B-{label}"] + [f"I-{label}"] * (end - start - 1)
    return tags


def tags_to_spans(tags: Sequence[str]) -> list[tuple[int, int, str]]:
    """Spans ``(start, end, label)`` of a BIO (or IOB1) tag sequence, read as ``conlleval`` reads it."""
    spans: list[tuple[int, int, str]] = []
    start, label = -1, ""
    for position, tag in enumerate([*tags, "O"]):
        prefix, _, kind = tag.partition("-")
        if start >= 0 and (prefix != "I" or kind != label):
            spans.append((start, position, label))
            start = -1
        if prefix == "B" or (prefix == "I" and start < 0):
            start, label = position, kind
    return spans

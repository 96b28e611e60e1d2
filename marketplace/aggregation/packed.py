"""Sequences of word codes packed end to end (one flat array and offsets), and the index arithmetic on them.

Everything here works on all sequences at once, without a Python loop over them: ``ranges`` and ``within`` turn
lengths into flat positions, the building block of every gather and scatter of the text engine.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from marketplace.aggregation.inputs import IntArray


@dataclass(frozen=True, eq=False)
class Packed:
    """Sequence s is ``tokens[offsets[s]:offsets[s + 1]]``."""

    tokens: IntArray
    offsets: IntArray

    @property
    def lengths(self) -> IntArray:
        lengths: IntArray = np.diff(self.offsets)
        return lengths

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def take(self, chosen: IntArray) -> Packed:
        """Sequence ``chosen[i]`` as sequence i (an empty one where ``chosen[i]`` is -1)."""
        lengths = np.where(chosen >= 0, self.lengths[np.maximum(chosen, 0)], 0)
        starts = self.offsets[np.maximum(chosen, 0)]
        return Packed(self.tokens[ranges(starts, lengths)], offsets_of(lengths))

    def where(self, mask: npt.NDArray[np.bool_], other: Packed) -> Packed:
        """Sequence i of ``other`` where ``mask[i]``, of ``self`` elsewhere (both hold as many sequences)."""
        lengths = np.where(mask, other.lengths, self.lengths)
        positions = within(lengths)
        from_self = _gather(self, np.repeat(self.offsets[:-1], lengths) + positions)
        from_other = _gather(other, np.repeat(other.offsets[:-1], lengths) + positions)
        return Packed(np.where(np.repeat(mask, lengths), from_other, from_self), offsets_of(lengths))

    def differs(self, other: Packed) -> npt.NDArray[np.bool_]:
        """Per sequence, whether it differs from ``other``'s (both hold as many sequences)."""
        changed = self.lengths != other.lengths
        same_length = np.flatnonzero(~changed & (self.lengths > 0))
        lengths = self.lengths[same_length]
        mismatch = (
            self.tokens[ranges(self.offsets[same_length], lengths)]
            != other.tokens[ranges(other.offsets[same_length], lengths)]
        )
        owner = np.repeat(np.arange(len(same_length)), lengths)
        changed[same_length] = np.bincount(owner, weights=mismatch, minlength=len(same_length)) > 0
        return changed


def _gather(packed: Packed, positions: IntArray) -> IntArray:
    if not len(packed.tokens):
        return np.zeros(len(positions), dtype=np.int64)
    values: IntArray = packed.tokens[np.minimum(positions, len(packed.tokens) - 1)]
    return values


def within(lengths: IntArray) -> IntArray:
    """0, 1, ..., lengths[i] − 1 for each i, concatenated."""
    return ranges(np.zeros(len(lengths), dtype=np.int64), lengths)


def ranges(starts: IntArray, lengths: IntArray) -> IntArray:
    """``range(starts[i], starts[i] + lengths[i])`` for each i, concatenated.

    As a running sum of steps: +1 inside a range, and at each range's first position the jump from the previous
    range's last value (two passes over the output, where ``np.repeat`` would take three and a slower one).
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    total = int(lengths.sum())
    if not total:
        return np.zeros(0, dtype=np.int64)
    filled = lengths > 0
    first = np.cumsum(lengths)[filled] - lengths[filled]
    begin = np.asarray(starts, dtype=np.int64)[filled]
    steps = np.ones(total, dtype=np.int64)
    steps[first[0]] = begin[0]
    steps[first[1:]] = begin[1:] - (begin[:-1] + lengths[filled][:-1] - 1)
    out: IntArray = np.cumsum(steps)
    return out


def offsets_of(lengths: IntArray) -> IntArray:
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return offsets

"""Word-level edit-distance alignment of many pairs of token sequences at once, in NumPy.

Each pair is a hypothesis (an answer) and a reference (its task's current consensus). Three steps, each over all
pairs at once, with no Python loop over pairs or cells:

1. **Trim** the common prefix and suffix: they align word for word in an optimal alignment, and answers to the
   same task are mostly the same words, so what is left (the *middle*) is short or empty.
2. **Distance** of the middles by Myers' bit-parallel algorithm (Hyyrö's formulation for edit distance): the
   hypothesis's middle is a bit vector (up to 64 words), and each reference word costs about fifteen word-wide
   operations on a whole batch of pairs. The vertical deltas of every column are kept (two 64-bit words), which
   is all the traceback needs: a cell's distance is ``j + popcount(VP_j & low_i) − popcount(VN_j & low_i)``.
   Middles longer than 64 words take a row-by-row dynamic programme instead (a running minimum per row).
3. **Traceback** of every pair together, preferring at each cell a match or substitution, then a deletion (a
   reference word the hypothesis lacks), then an insertion: a fixed order, so the alignment depends only on the
   two sequences, never on the order of the answers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from marketplace.aggregation.inputs import IntArray
from marketplace.aggregation.packed import Packed, offsets_of, ranges

#: Upper bound of padded cells (pairs × rows × columns) per batch, which bounds the memory of a batch.
_BATCH_CELLS = 8_000_000
_WORD = 64
_DELETED = -1
_U64 = np.uint64
U64Array = npt.NDArray[np.uint64]


@dataclass(frozen=True, eq=False)
class Alignment:
    """Pair p aligns hypothesis ``hyp[p]`` to reference ``ref[p]``.

    - ``distance[p]``: the word edit distance.
    - ``aligned``: one entry per word of the pairs' references, pair p's at ``reference_offsets[p]`` onward: the
      hypothesis word aligned with it, or -1 where the hypothesis lacks it.
    - insertions, sorted by pair, gap and rank: hypothesis word ``inserted_tokens[e]`` has no reference word; it sits
      in gap ``inserted_gaps[e]`` of pair ``inserted_pairs[e]`` (gap g is before reference word g; the reference's
      length is the end), ``inserted_ranks[e]``-th of the words inserted there.
    """

    distance: IntArray
    aligned: IntArray
    reference_offsets: IntArray
    inserted_pairs: IntArray
    inserted_gaps: IntArray
    inserted_ranks: IntArray
    inserted_tokens: IntArray


@dataclass(frozen=True, eq=False)
class _Middles:
    """What is left of each pair after trimming: token positions of the hypothesis and reference middles."""

    hyp_start: IntArray
    hyp_len: IntArray
    ref_start: IntArray  # into the reference's own tokens
    ref_len: IntArray
    prefix: IntArray  # reference words before the middle


def align(hyp: Packed, ref: Packed, hyp_index: IntArray, ref_index: IntArray) -> Alignment:
    """Align ``hyp`` sequence ``hyp_index[p]`` to ``ref`` sequence ``ref_index[p]`` for every pair p."""
    ref_len = ref.lengths[ref_index]
    reference_offsets = offsets_of(ref_len)
    middles = _trim(hyp, ref, hyp_index, ref_index)
    aligned = _trimmed_words(ref, ref_index, middles, reference_offsets)
    distance = np.zeros(len(hyp_index), dtype=np.int64)
    found = _Found()
    _align_middles(hyp, ref, middles, ref_index, reference_offsets, aligned, distance, found)
    pairs, gaps, positions, tokens = found.arrays()
    ranks = _ranks_in_gap(pairs, gaps, positions)
    order = np.lexsort((ranks, gaps, pairs))
    return Alignment(distance, aligned, reference_offsets, pairs[order], gaps[order], ranks[order], tokens[order])


def distances(hyp: Packed, ref: Packed, hyp_index: IntArray, ref_index: IntArray) -> IntArray:
    """Only the word edit distances of the pairs: no traceback, so about half the cost of :func:`align`."""
    middles = _trim(hyp, ref, hyp_index, ref_index)
    distance = np.maximum(middles.hyp_len, middles.ref_len)
    pairs = np.flatnonzero((middles.hyp_len > 0) & (middles.ref_len > 0))
    for batch in _batches(middles.hyp_len[pairs], middles.ref_len[pairs]):
        chosen = pairs[batch]
        cells = _cells(hyp, ref, middles, chosen)
        distance[chosen] = cells.at(np.arange(len(chosen)), middles.hyp_len[chosen], middles.ref_len[chosen])
    return distance


def _cells(hyp: Packed, ref: Packed, middles: _Middles, chosen: IntArray) -> _BitTable | _RowTable:
    hyp_tokens = _pad(hyp.tokens, middles.hyp_start[chosen], middles.hyp_len[chosen], -1)
    ref_tokens = _pad(ref.tokens, middles.ref_start[chosen], middles.ref_len[chosen], -2)
    return _BitTable(hyp_tokens, ref_tokens) if hyp_tokens.shape[1] <= _WORD else _RowTable(hyp_tokens, ref_tokens)


class _Found:
    """Insertions collected batch by batch: pair, gap (in the whole reference), hypothesis position, token."""

    def __init__(self) -> None:
        self.parts: list[tuple[IntArray, IntArray, IntArray, IntArray]] = []

    def add(self, pairs: IntArray, gaps: IntArray, positions: IntArray, tokens: IntArray) -> None:
        if len(pairs):
            self.parts.append((pairs, gaps, positions, tokens))

    def arrays(self) -> tuple[IntArray, IntArray, IntArray, IntArray]:
        if not self.parts:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, empty, empty
        pairs, gaps, positions, tokens = (
            np.concatenate(column).astype(np.int64) for column in zip(*self.parts, strict=True)
        )
        return pairs, gaps, positions, tokens


def _trim(hyp: Packed, ref: Packed, hyp_index: IntArray, ref_index: IntArray) -> _Middles:
    """Common prefix and suffix of every pair; what is left is the middle."""
    hyp_start, ref_start = hyp.offsets[hyp_index], ref.offsets[ref_index]
    hyp_len, ref_len = hyp.lengths[hyp_index], ref.lengths[ref_index]
    shortest = np.minimum(hyp_len, ref_len)
    prefix = _common_run(hyp.tokens, ref.tokens, hyp_start, ref_start, shortest, step=1)
    suffix = _common_run(
        hyp.tokens, ref.tokens, hyp_start + hyp_len - 1, ref_start + ref_len - 1, shortest - prefix, step=-1
    )
    return _Middles(
        hyp_start=hyp_start + prefix,
        hyp_len=hyp_len - prefix - suffix,
        ref_start=ref_start + prefix,
        ref_len=ref_len - prefix - suffix,
        prefix=prefix,
    )


def _trimmed_words(ref: Packed, ref_index: IntArray, middles: _Middles, reference_offsets: IntArray) -> IntArray:
    """``aligned`` with the trimmed words in place (a reference word aligned with itself) and -1 in the middles."""
    ref_len = ref.lengths[ref_index]
    aligned = ref.tokens[ranges(ref.offsets[ref_index], ref_len)].astype(
        np.int32
    )  # word codes: half the memory of the largest array
    aligned[ranges(reference_offsets[:-1] + middles.prefix, middles.ref_len)] = _DELETED
    return aligned


def _common_run(
    hyp_tokens: IntArray, ref_tokens: IntArray, hyp_at: IntArray, ref_at: IntArray, limit: IntArray, step: int
) -> IntArray:
    """How many words match from ``hyp_at`` / ``ref_at`` on, moving by ``step``, up to ``limit`` per pair.

    Walks all pairs one word at a time, dropping each pair at its first difference: most pairs stop early, and a
    pair that matches to the end costs one step per word.
    """
    run = np.zeros(len(limit), dtype=np.int64)
    active = np.flatnonzero(limit > 0)
    k = 0
    while active.size:
        equal = hyp_tokens[hyp_at[active] + step * k] == ref_tokens[ref_at[active] + step * k]
        active = active[equal]
        k += 1
        run[active] = k
        active = active[limit[active] > k]
    return run


def _align_middles(
    hyp: Packed,
    ref: Packed,
    middles: _Middles,
    ref_index: IntArray,
    reference_offsets: IntArray,
    aligned: IntArray,
    distance: IntArray,
    found: _Found,
) -> None:
    both = (middles.hyp_len > 0) & (middles.ref_len > 0)
    # One side empty: the other side's middle words are all deleted (already -1) or all inserted.
    only_hyp = np.flatnonzero((middles.hyp_len > 0) & (middles.ref_len == 0))
    lengths = middles.hyp_len[only_hyp]
    positions = ranges(middles.hyp_start[only_hyp], lengths)
    found.add(
        np.repeat(only_hyp, lengths), np.repeat(middles.prefix[only_hyp], lengths), positions, hyp.tokens[positions]
    )
    distance[:] = np.maximum(middles.hyp_len, middles.ref_len)
    pairs = np.flatnonzero(both)
    for batch in _batches(middles.hyp_len[pairs], middles.ref_len[pairs]):
        chosen = pairs[batch]
        cells = _cells(hyp, ref, middles, chosen)
        hyp_len, ref_len = middles.hyp_len[chosen], middles.ref_len[chosen]
        distance[chosen] = cells.at(np.arange(len(chosen)), hyp_len, ref_len)
        base = reference_offsets[chosen] + middles.prefix[chosen]
        _traceback(cells, hyp_len, ref_len, chosen, base, middles, aligned, found)


def _batches(hyp_len: IntArray, ref_len: IntArray) -> list[IntArray]:
    """Pair indices sorted by size, cut into batches whose padded tables fit in ``_BATCH_CELLS`` cells."""
    # One integer key (reference length, then hypothesis length): a stable sort of 16-bit keys is a radix sort.
    key = ref_len * (int(hyp_len.max(initial=0)) + 1) + hyp_len
    order = np.argsort(key.astype(np.uint16) if key.max(initial=0) < 2**16 else key, kind="stable")
    rows = hyp_len[order] + 1
    widths = ref_len[order] + 1
    batches: list[IntArray] = []
    start = 0
    while start < len(order):
        # Sorted by width, so a batch's table is (its size) x (its tallest pair) x (its last pair's width).
        # Every pair from here on is at least as wide, and the tallest so far at least as tall: at most this many fit.
        window = slice(start, min(start + _BATCH_CELLS // int(rows[start] * widths[start]) + 1, len(order)))
        cells = np.arange(1, window.stop - start + 1) * np.maximum.accumulate(rows[window]) * widths[window]
        stop = start + max(int(np.searchsorted(cells, _BATCH_CELLS, side="right")), 1)
        batches.append(order[start:stop])
        start = stop
    return batches


def _pad(tokens: IntArray, starts: IntArray, lengths: IntArray, fill: int) -> npt.NDArray[np.int32]:
    width = int(lengths.max(initial=0))
    # int32: word codes fit, and the comparisons that build the tables read half the bytes.
    out = np.full((len(starts), width), fill, dtype=np.int32)
    if width:
        out.ravel()[ranges(np.arange(len(starts)) * width, lengths)] = tokens[ranges(starts, lengths)]
    return out


class _BitTable:
    """Myers / Hyyrö bit-parallel edit distance; keeps each column's vertical deltas (VP, VN)."""

    def __init__(self, hyp_tokens: npt.NDArray[np.int32], ref_tokens: npt.NDArray[np.int32]) -> None:
        self.hyp_tokens, self.ref_tokens = hyp_tokens, ref_tokens
        n_pairs, height = hyp_tokens.shape
        width = ref_tokens.shape[1]
        # Peq[p, j]: bit i set where hypothesis word i equals reference word j; one pass per hypothesis word, over
        # the whole batch (a third of the time of packing (P, j, i) booleans with np.packbits).
        peq = np.zeros((n_pairs, width), dtype=_U64)
        for i in range(height):
            peq |= (ref_tokens == hyp_tokens[:, i : i + 1]).astype(_U64) << _U64(i)
        self.vp = np.empty((n_pairs, width + 1), dtype=_U64)
        self.vn = np.empty((n_pairs, width + 1), dtype=_U64)
        vp = np.full(n_pairs, ~_U64(0), dtype=_U64)  # column 0: D[i][0] = i, every vertical delta +1
        vn = np.zeros(n_pairs, dtype=_U64)
        self.vp[:, 0], self.vn[:, 0] = vp, vn
        one = _U64(1)
        for j in range(width):
            eq = peq[:, j]
            xv = eq | vn
            xh = (((eq & vp) + vp) ^ vp) | eq
            hp = vn | ~(xh | vp)
            hn = vp & xh
            hp = (hp << one) | one  # row 0 grows by one per column (global alignment)
            hn = hn << one
            vp = hn | ~(xv | hp)
            vn = hp & xv
            self.vp[:, j + 1], self.vn[:, j + 1] = vp, vn

    def at(self, pairs: IntArray, i: IntArray, j: IntArray) -> IntArray:
        """D[i][j] of the given pairs."""
        low = (_U64(1) << i.astype(_U64)) - _U64(1)
        low = np.where(i >= _WORD, ~_U64(0), low)
        up = np.bitwise_count(self.vp[pairs, j] & low).astype(np.int64)
        down = np.bitwise_count(self.vn[pairs, j] & low).astype(np.int64)
        values: IntArray = j + up - down
        return values


class _RowTable:
    """The whole table, row by row (for middles longer than 64 words)."""

    def __init__(self, hyp_tokens: npt.NDArray[np.int32], ref_tokens: npt.NDArray[np.int32]) -> None:
        self.hyp_tokens, self.ref_tokens = hyp_tokens, ref_tokens
        n_pairs, height = hyp_tokens.shape
        width = ref_tokens.shape[1]
        self.table = np.empty((n_pairs, height + 1, width + 1), dtype=np.int32)
        steps = np.arange(width + 1, dtype=np.int32)
        self.table[:, 0, :] = steps
        for i in range(1, height + 1):
            previous = self.table[:, i - 1, :]
            row = self.table[:, i, :]
            row[:, 0] = i
            substitute = previous[:, :-1] + (ref_tokens != hyp_tokens[:, i - 1 : i])
            row[:, 1:] = np.minimum(substitute, previous[:, 1:] + 1)
            # D[i][j] = min(U[j], D[i][j-1] + 1)  <=>  D[i][j] - j = running minimum of (U[k] - k).
            row -= steps
            np.minimum.accumulate(row, axis=1, out=row)
            row += steps

    def at(self, pairs: IntArray, i: IntArray, j: IntArray) -> IntArray:
        values: IntArray = self.table[pairs, i, j].astype(np.int64)
        return values


def _traceback(
    cells: _BitTable | _RowTable,
    hyp_len: IntArray,
    ref_len: IntArray,
    chosen: IntArray,
    base: IntArray,
    middles: _Middles,
    aligned: IntArray,
    found: _Found,
) -> None:
    """Walk every pair of the batch back from its end cell at once."""
    i = hyp_len.astype(np.int64)
    j = ref_len.astype(np.int64)
    active = np.arange(len(chosen))
    here = cells.at(active, i, j)
    while active.size:
        ia, ja, now = i[active], j[active], here[active]
        both = (ia > 0) & (ja > 0)
        hyp_word = cells.hyp_tokens[active, np.maximum(ia - 1, 0)]
        ref_word = cells.ref_tokens[active, np.maximum(ja - 1, 0)]
        diagonal = cells.at(active, np.maximum(ia - 1, 0), np.maximum(ja - 1, 0))
        take_diagonal = both & (now == diagonal + (hyp_word != ref_word))
        left = cells.at(active, ia, np.maximum(ja - 1, 0))
        take_left = ~take_diagonal & (ja > 0) & (now == left + 1)
        take_up = ~(take_diagonal | take_left)
        aligned[base[active[take_diagonal]] + ja[take_diagonal] - 1] = hyp_word[take_diagonal]
        up = active[take_up]
        found.add(
            chosen[up],
            middles.prefix[chosen[up]] + ja[take_up],
            middles.hyp_start[chosen[up]] + ia[take_up] - 1,
            hyp_word[take_up],
        )
        # The next cell's distance is already known from the test that chose the move.
        here[active] = np.where(take_diagonal, diagonal, np.where(take_left, left, now - 1))
        i[active] -= (take_diagonal | take_up).astype(np.int64)
        j[active] -= (take_diagonal | take_left).astype(np.int64)
        active = active[(i[active] > 0) | (j[active] > 0)]


def _ranks_in_gap(pairs: IntArray, gaps: IntArray, positions: IntArray) -> IntArray:
    """Rank of each inserted word among the words inserted in the same (pair, gap), by hypothesis position."""
    if pairs.size == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.lexsort((positions, gaps, pairs))
    starts = np.ones(len(order), dtype=bool)
    starts[1:] = (pairs[order][1:] != pairs[order][:-1]) | (gaps[order][1:] != gaps[order][:-1])
    first = np.maximum.accumulate(np.where(starts, np.arange(len(order)), 0))
    ranks = np.empty(len(order), dtype=np.int64)
    ranks[order] = np.arange(len(order)) - first
    return ranks

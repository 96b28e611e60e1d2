"""Every task's answers aligned to its backbone, kept task by task, for the rounds of the text consensus.

The slot votes of task t are an (n answers × L backbone words) block of ``aligned``; ``start[t]`` says where. When a
round changes some backbones, only those tasks are aligned again: their new blocks are appended and ``start``
moves to them (the old blocks are dropped when they outweigh the live ones), so a round costs the changed tasks,
not the whole job. Alongside each vote, ``first`` holds the rank of the first answer of the task with the same vote
in that slot: what the tally needs to group equal votes, computed once per alignment instead of once per round.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from marketplace.aggregation.alignment import Alignment, align
from marketplace.aggregation.inputs import IntArray
from marketplace.aggregation.packed import Packed, ranges

#: Votes compared per chunk of blocks (blocks × n × n × L booleans), which bounds the memory.
CHUNK = 4_000_000


@dataclass(frozen=True, eq=False)
class Voters:
    """The counted answers (ids into the answers), sorted by task so that a task's answers are consecutive."""

    ids: IntArray
    tasks: IntArray
    counts: IntArray
    n_tasks: int

    @classmethod
    def of(cls, ids: IntArray, tasks: IntArray, n_tasks: int) -> Voters:
        if len(tasks) > 1 and bool((tasks[1:] < tasks[:-1]).any()):
            raise ValueError("the answers must be ordered by task")
        return cls(ids, tasks, np.bincount(tasks, minlength=n_tasks), n_tasks)

    @property
    def first_answer(self) -> IntArray:
        first: IntArray = np.cumsum(self.counts) - self.counts
        return first


@dataclass(frozen=True, eq=False)
class Insertions:
    """Words of an answer (index into the voters) with no backbone word: in gap ``gaps[e]`` at rank ``ranks[e]``."""

    answers: IntArray
    gaps: IntArray
    ranks: IntArray
    tokens: IntArray


@dataclass(frozen=True, eq=False)
class Board:
    voters: Voters
    backbone: Packed
    aligned: IntArray
    first: npt.NDArray[np.int16]
    start: IntArray
    insertions: Insertions
    live: int
    cache: dict[str, Any] = field(default_factory=dict)  # what the vote works out once per board

    @classmethod
    def build(cls, answers: Packed, voters: Voters, backbone: Packed) -> Board:
        alignment = align(answers, backbone, voters.ids, voters.tasks)
        start = alignment.reference_offsets[voters.first_answer]
        first = first_equal(alignment.aligned, start, voters.counts, backbone.lengths)
        insertions = Insertions(
            alignment.inserted_pairs, alignment.inserted_gaps, alignment.inserted_ranks, alignment.inserted_tokens
        )
        return cls(voters, backbone, alignment.aligned, first, start, insertions, len(alignment.aligned))

    def realigned(self, answers: Packed, backbone: Packed, changed: npt.NDArray[np.bool_]) -> Board:
        """The board for ``backbone``, where only the ``changed`` tasks' backbones differ from this one's."""
        voters = self.voters
        redo = changed[voters.tasks]
        fresh: Alignment = align(answers, backbone, voters.ids[redo], voters.tasks[redo])
        tasks = np.flatnonzero(changed & (voters.counts > 0))
        # The fresh pairs are the changed tasks' answers, in task order: each task's block starts at its first pair.
        first_fresh = np.cumsum(voters.counts[tasks]) - voters.counts[tasks]
        start = self.start.copy()
        start[tasks] = len(self.aligned) + fresh.reference_offsets[first_fresh]
        first = first_equal(
            fresh.aligned, fresh.reference_offsets[first_fresh], voters.counts[tasks], backbone.lengths[tasks]
        )
        keep = ~redo[self.insertions.answers]
        redone = np.flatnonzero(redo)
        insertions = Insertions(
            np.concatenate([self.insertions.answers[keep], redone[fresh.inserted_pairs]]),
            np.concatenate([self.insertions.gaps[keep], fresh.inserted_gaps]),
            np.concatenate([self.insertions.ranks[keep], fresh.inserted_ranks]),
            np.concatenate([self.insertions.tokens[keep], fresh.inserted_tokens]),
        )
        live = int((voters.counts * backbone.lengths).sum())
        board = Board(
            voters,
            backbone,
            np.concatenate([self.aligned, fresh.aligned]),
            np.concatenate([self.first, first]),
            start,
            insertions,
            live,
        )
        return board.compacted() if len(board.aligned) > 2 * live else board

    def compacted(self) -> Board:
        """The same board without the blocks no task points to any more."""
        sizes = self.voters.counts * self.backbone.lengths
        where = ranges(self.start, sizes)
        start = np.cumsum(sizes) - sizes
        return Board(
            self.voters, self.backbone, self.aligned[where], self.first[where], start, self.insertions, self.live
        )


def first_equal(aligned: IntArray, start: IntArray, counts: IntArray, lengths: IntArray) -> npt.NDArray[np.int16]:
    """For blocks ``aligned[start[i]:...]`` of shape (counts[i], lengths[i]), each vote's rank of the first answer with
    the same vote in the same slot (blocks of one shape are compared together: n × n per slot)."""
    out = np.zeros(len(aligned), dtype=np.int16)
    for blocks, size, width in shape_groups(counts, lengths):
        step = max(CHUNK // (size * size * width), 1)
        for part in range(0, len(blocks), step):
            where = start[blocks[part : part + step]][:, None] + np.arange(size * width)
            votes = aligned[where].reshape(-1, size, width)
            same = votes[:, :, None, :] == votes[:, None, :, :]  # (blocks, i, k, slot)
            out[where] = same.argmax(axis=2).astype(np.int16).reshape(len(where), -1)
    return out


def shape_groups(counts: IntArray, lengths: IntArray) -> list[tuple[IntArray, int, int]]:
    """The indices with counts and lengths both > 0, grouped by (count, length)."""
    useful = np.flatnonzero((counts > 0) & (lengths > 0))
    key = counts[useful] * (int(lengths.max(initial=0)) + 1) + lengths[useful]
    order = np.argsort(key, kind="stable")
    useful, key = useful[order], key[order]
    bounds = np.flatnonzero(np.diff(key)) + 1
    groups = np.split(useful, bounds) if len(useful) else []
    return [(group, int(counts[group[0]]), int(lengths[group[0]])) for group in groups]

"""The vote of the text consensus: every answer, aligned to its task's backbone, votes in every slot and column.

- **Slots**: backbone word j of task t gets exactly one vote from each of the task's n answers (the word aligned
  with it, or -1 for none): an n × L block of the :class:`~text_board.Board`. Tasks of the same n and L are tallied
  together: a candidate's weight is a bincount of the answers' weights keyed by the first answer with the same
  vote, with no sort over the millions of votes.
- **Insertion columns**: words an answer has in gap g of the backbone, by rank k; the task's answers without one
  vote for nothing. They are few (one per extra word), so they are tallied by sorting integer keys.

The winner of a group is the candidate with the most weight (ties: the higher code, so a word beats nothing). Its
posterior under the weights as log-odds is ``exp(W_best) / (Σ_c exp(W_c) + max(m − k, 0))``: the ``k`` candidates
voted for, and the ``m − k`` plausible alternatives nobody voted for, each of weight 0. A task's confidence is one
minus its groups' summed doubt (one minus the winner's posterior) over its consensus's words. An answer's hits are
the posteriors of the words it voted for (expected hits), which is what its worker's reliability counts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from marketplace.aggregation.crowd import weighted_sums
from marketplace.aggregation.inputs import FloatArray, IntArray
from marketplace.aggregation.packed import Packed, offsets_of, within
from marketplace.aggregation.text_board import CHUNK, Board, Insertions, Voters, shape_groups

_NOTHING = -1


@dataclass(frozen=True, eq=False)
class Vote:
    consensus: Packed
    confidence: FloatArray
    hits: FloatArray  # per answer: consensus words it has in the same place


@dataclass(frozen=True, eq=False)
class _Ballot:
    """One kind of vote's groups (slots or columns): where each winner goes and how sure it is."""

    task: IntArray
    gap: IntArray  # slot j -> gap j, after that gap's insertions
    rank: IntArray
    kind: IntArray  # 0: an insertion column, 1: a slot (placed after the gap's insertions)
    winner: IntArray  # word code, or -1 for nothing
    posterior: FloatArray
    hits: FloatArray  # per answer


def vote(board: Board, weights: FloatArray, alternatives: float) -> Vote:
    """The consensus of every task, its confidence, and each answer's expected hits (``weights``: one per voter;
    ``alternatives``: the candidates a group has, voted for or not)."""
    voters = board.voters
    slots = _slots(board, weights, alternatives)
    columns = _columns(board, weights, alternatives)
    groups = [slots, columns]
    task = np.concatenate([g.task for g in groups])
    doubt = weighted_sums(task, 1.0 - np.concatenate([g.posterior for g in groups]), voters.n_tasks)
    consensus = _assemble(board, groups)
    expected = 1.0 - doubt / np.maximum(consensus.lengths, 1)
    confidence = np.where(voters.counts > 0, np.clip(expected, 0.0, 1.0), 0.0)
    return Vote(consensus, confidence, slots.hits + columns.hits)


def _slots(board: Board, weights: FloatArray, alternatives: float) -> _Ballot:
    """Tally every slot, tasks of the same (answers, backbone length) together. A candidate's weight is one
    bincount of the answers' weights by (block, first equal vote, slot)."""
    voters, backbone = board.voters, board.backbone
    winner = np.full(len(backbone.tokens), _NOTHING, dtype=np.int64)
    posterior = np.ones(len(backbone.tokens))
    hits = np.zeros(len(voters.tasks))
    first_answer = voters.first_answer
    for blocks, size, width in shape_groups(voters.counts, backbone.lengths):
        step = max(CHUNK // (size * width), 1)
        for part in range(0, len(blocks), step):
            tasks = blocks[part : part + step]
            where = board.start[tasks][:, None] + np.arange(size * width)
            answers = first_answer[tasks][:, None] + np.arange(size)
            best, sure, hit = _tally(
                board.aligned[where].reshape(-1, size, width),
                board.first[where].reshape(-1, size, width),
                weights[answers],
                alternatives,
            )
            slots = backbone.offsets[tasks][:, None] + np.arange(width)
            winner[slots], posterior[slots] = best, sure
            hits[answers] = hit
    gap = within(backbone.lengths)
    task = np.repeat(np.arange(voters.n_tasks), backbone.lengths)
    return _Ballot(task, gap, np.zeros(len(gap), np.int64), np.ones(len(gap), np.int64), winner, posterior, hits)


def _tally(
    votes: IntArray, first: npt.NDArray[np.int16], weights: FloatArray, alternatives: float
) -> tuple[IntArray, FloatArray, FloatArray]:
    """Blocks of votes (b × n answers × L slots), each vote's first equal answer, the answers' weights (b × n): per
    slot the winner and its posterior, per answer its expected hits. Answer c stands for a candidate where
    first == c."""
    blocks, size, width = votes.shape
    key = (np.arange(blocks)[:, None, None] * size + first) * width + np.arange(width)
    spread_weights = np.broadcast_to(weights[:, :, None], votes.shape)
    mass = np.bincount(key.ravel(), weights=spread_weights.ravel(), minlength=votes.size).reshape(votes.shape)
    candidate = first == np.arange(size)[None, :, None]
    rounded = np.where(candidate, np.round(mass, 9), -np.inf)
    top = rounded.max(axis=1, keepdims=True)
    best = np.where(rounded == top, votes, _NOTHING - 1).max(axis=1)
    peak = np.where(candidate, mass, -np.inf).max(axis=1, keepdims=True)
    voted = candidate.sum(axis=1)
    relative = np.where(candidate, np.exp(mass - peak), 0.0)
    spread = relative.sum(axis=1) + _unvoted(alternatives, voted, peak[:, 0])
    # A vote's candidate is where its first equal answer stands.
    posterior = np.take_along_axis(relative, first, axis=1) / spread[:, None, :]
    hit = np.where(votes >= 0, posterior, 0.0).sum(axis=2)
    return best, 1.0 / spread, hit


def _unvoted(alternatives: float, voted: IntArray, peak: FloatArray) -> FloatArray:
    """The weight of the candidates nobody voted for (weight 0 each, relative to the group's top weight ``peak``):
    the truth may be a word no answer has, which is what keeps one answer, or two that disagree, from being sure."""
    unvoted: FloatArray = np.maximum(alternatives - voted, 0.0) * np.exp(-peak)
    return unvoted


@dataclass(frozen=True, eq=False)
class _ColumnPlan:
    """What a board's insertion columns are, worked out once per board: only their weights change between rounds.

    Candidates (a column and a word, or the column's "nothing") are sorted by column and then by code, highest
    first, so each column's winner is its first candidate with the top weight, found without sorting per round.
    """

    task: IntArray  # per column
    gap: IntArray
    rank: IntArray
    column: IntArray  # per insertion
    which: IntArray  # per insertion: its candidate
    nothing: IntArray  # per column: its "nothing" candidate
    owner: IntArray  # per candidate: its column
    code: IntArray  # per candidate: the word, or -1
    order: IntArray  # candidates by column, then code descending
    starts: IntArray  # where each column's candidates start in that order

    @classmethod
    def of(cls, voters: Voters, insertions: Insertions) -> _ColumnPlan:
        gaps, ranks = int(insertions.gaps.max(initial=0)) + 1, int(insertions.ranks.max(initial=0)) + 1
        key = (voters.tasks[insertions.answers] * gaps + insertions.gaps) * ranks + insertions.ranks
        keys, column = np.unique(key, return_inverse=True)
        span = int(insertions.tokens.max(initial=0)) + 2
        own = np.concatenate([column, np.arange(len(keys))])
        candidate_key = own * span + np.concatenate([insertions.tokens, np.full(len(keys), _NOTHING)]) + 1
        candidates, inverse = np.unique(candidate_key, return_inverse=True)
        owner, code = candidates // span, candidates % span - 1
        order = np.lexsort((-code, owner))
        starts = np.flatnonzero(np.r_[True, owner[order][1:] != owner[order][:-1]]) if len(order) else order
        task, gap, rank = keys // (gaps * ranks), (keys // ranks) % gaps, keys % ranks
        n = len(insertions.answers)
        return cls(task, gap, rank, column, inverse[:n], inverse[n:], owner, code, order, starts)


def _columns(board: Board, weights: FloatArray, alternatives: float) -> _Ballot:
    voters, insertions = board.voters, board.insertions
    plan: _ColumnPlan | None = board.cache.get("columns")
    if plan is None:
        plan = board.cache["columns"] = _ColumnPlan.of(voters, insertions)
    n_columns = len(plan.task)
    if not n_columns:
        empty = np.zeros(0, dtype=np.int64)
        return _Ballot(empty, empty, empty, empty, empty, np.zeros(0), np.zeros(len(voters.tasks)))
    voted = weights[insertions.answers]
    mass = np.bincount(plan.which, weights=voted, minlength=len(plan.owner))
    present = weighted_sums(plan.column, voted, n_columns)
    # "Nothing" is voted by the task's answers without a word in the column.
    mass[plan.nothing] = weighted_sums(voters.tasks, weights, voters.n_tasks)[plan.task] - present
    ordered = np.round(mass[plan.order], 9)
    top = np.maximum.reduceat(ordered, plan.starts)
    at_top = np.where(
        ordered == np.repeat(top, np.diff(np.r_[plan.starts, len(ordered)])), np.arange(len(ordered)), len(ordered)
    )
    best = plan.order[np.minimum.reduceat(at_top, plan.starts)]
    winner = plan.code[best]
    peak: FloatArray = mass[best].astype(np.float64)
    candidates = np.bincount(plan.owner, minlength=n_columns)
    spread = weighted_sums(plan.owner, np.exp(mass - peak[plan.owner]), n_columns)
    spread += _unvoted(alternatives, candidates, peak)
    posterior = np.exp(mass[plan.which] - peak[plan.column]) / spread[plan.column]
    hits = weighted_sums(insertions.answers, posterior, len(voters.tasks))
    return _Ballot(plan.task, plan.gap, plan.rank, np.zeros(n_columns, np.int64), winner, 1.0 / spread, hits)


def _assemble(board: Board, groups: list[_Ballot]) -> Packed:
    """The winners that are words, in order: per task by gap; in a gap, inserted words by rank, then the slot's.
    The order of the groups is the board's: sorted once, then each round only drops the groups that chose nothing."""
    task = np.concatenate([g.task for g in groups])
    if "order" not in board.cache:
        gap, kind, rank = (
            np.concatenate(parts) for parts in zip(*((g.gap, g.kind, g.rank) for g in groups), strict=True)
        )
        # One integer key (task, gap, kind, rank) sorts faster than a lexsort over four arrays.
        gaps, ranks = int(gap.max(initial=0)) + 1, int(rank.max(initial=0)) + 1
        board.cache["order"] = np.argsort(((task * gaps + gap) * 2 + kind) * ranks + rank, kind="stable")
    order = board.cache["order"]
    word = np.concatenate([g.winner for g in groups])[order]
    emitted = word >= 0
    return Packed(word[emitted], offsets_of(np.bincount(task[order][emitted], minlength=board.voters.n_tasks)))

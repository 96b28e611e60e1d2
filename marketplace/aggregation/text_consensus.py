"""Free-text answers (transcriptions, short texts): a worker-weighted word consensus (ROVER-style), by EM.

Each answer is a sequence of word codes. Per task, every answer is aligned to a backbone (:mod:`alignment`):
each backbone word becomes a *slot* where each answer votes for the word it has there or for nothing, and
words an answer has between two backbone words go to *insertion columns* (by gap and rank), where the answers
without one vote for nothing. In every slot and column the candidate with the most weight wins, and the winners,
in order, are the consensus, which becomes the next backbone. This is ROVER's word transition network, built
against one backbone (a centre-star alignment) instead of by aligning the answers one after another, which makes
the result independent of the answers' order.

Weights come from a reliability per worker, EM style: a worker's reliability ``r_w`` is the share of its words
that the consensus keeps (hits over the longer of its answer and the consensus, with a Beta prior), and its vote
weighs ``log(r_w / (1 − r_w)) + log(m − 1)``: the log-odds that a word it wrote is right when a wrong word is one
of ``m`` plausible alternatives (one-coin Dawid-Skene per slot). The posterior of a slot's winner under those
weights, averaged over the task's slots, is the task's confidence: the expected share of its words that are right.

The first backbone of a task is the answer most of the others share their words with (a weighted vote over its
distinct words: support for a word = the weight of the answers containing it; an answer scores the support of its
words minus half the task's weight per word, so that unsupported words count against it and a longer answer wins
only with supported words). Gold tasks keep their known text as backbone and consensus; their answers still
inform the workers' reliabilities. Only tasks whose backbone changed are aligned again in the next round.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from marketplace.aggregation.alignment import Alignment, Packed, align, distances
from marketplace.aggregation.crowd import CrowdAnswers, check_iterations, gold_items, weighted_sums
from marketplace.aggregation.errors import InvalidAnswersError, InvalidGoldError
from marketplace.aggregation.inputs import FloatArray, IntArray, as_index_array, check_range

#: Answers of a task each first backbone candidate is compared with, at most (the cost per answer stays bounded).
_ANCHORS = 16
_GOLDEN = 0.6180339887498949
_PLASTIC = 0.7548776662466927


@dataclass(frozen=True, eq=False)
class TextAnswers(CrowdAnswers):
    """Answer i is the word codes ``tokens[offsets[i]:offsets[i + 1]]`` (codes in ``[0, n_vocabulary)``)."""

    tokens: IntArray
    offsets: IntArray
    n_vocabulary: int

    def __post_init__(self) -> None:
        super().__post_init__()
        tokens = as_index_array(self.tokens, "tokens").astype(np.int64, copy=False)
        offsets = as_index_array(self.offsets, "offsets").astype(np.int64, copy=False)
        check_range(tokens, self.n_vocabulary, "tokens")
        if len(offsets) != self.n_answers + 1 or (len(offsets) and (offsets[0] != 0 or offsets[-1] != len(tokens))):
            raise InvalidAnswersError("offsets must start at 0, end at len(tokens) and have n_answers + 1 entries")
        if (np.diff(offsets) < 0).any():
            raise InvalidAnswersError("offsets must not decrease")
        object.__setattr__(self, "tokens", tokens)
        object.__setattr__(self, "offsets", offsets)

    @property
    def packed(self) -> Packed:
        return Packed(self.tokens, self.offsets)


@dataclass(frozen=True)
class TextPrior:
    """Beta pseudo-counts on a worker's reliability (``right`` / ``wrong`` words) and ``alternatives``, the
    number of plausible words a wrong one is drawn from."""

    right: float = 4.0
    wrong: float = 1.0
    alternatives: float = 8.0


@dataclass(frozen=True, eq=False)
class TextResult:
    """The consensus of task t is ``tokens[offsets[t]:offsets[t + 1]]``; ``confidence[t]`` the expected share of
    its words that are right; ``worker_reliability`` the estimated share of a worker's words that are right."""

    tokens: IntArray
    offsets: IntArray
    confidence: FloatArray
    worker_reliability: FloatArray
    answer_counts: npt.NDArray[np.int64]
    worker_answer_counts: npt.NDArray[np.int64]
    iterations: int
    converged: bool


@dataclass(frozen=True, eq=False)
class _Job:
    answers: Packed
    ids: IntArray  # the kept answers
    tasks: IntArray  # their tasks
    workers: IntArray
    n_tasks: int
    n_workers: int
    gold: npt.NDArray[np.bool_]  # per task


@dataclass(frozen=True, eq=False)
class _Vote:
    consensus: Packed
    confidence: FloatArray
    hits: FloatArray  # per kept answer: consensus words it has in the same place


def text_consensus(
    answers: TextAnswers,
    *,
    gold: Mapping[int, Sequence[int]] | None = None,
    exclude_workers: npt.ArrayLike | None = None,
    max_iter: int = 10,
    tol: float = 1e-3,
    prior: TextPrior | None = None,
) -> TextResult:
    """Worker-weighted consensus by EM. Stops when no consensus changes and no reliability moves by more than
    ``tol``, or after ``max_iter`` rounds."""
    check_iterations(max_iter, tol)
    prior = prior if prior is not None else TextPrior()
    job, gold_texts = _prepare(answers, gold, exclude_workers)
    reliability = np.full(job.n_workers, prior.right / (prior.right + prior.wrong))
    backbone = _medoids(job, _weights(reliability[job.workers], prior), gold_texts)
    alignment = align(job.answers, backbone, job.ids, job.tasks)
    rounds, done = 0, False
    while rounds < max_iter and not done:
        rounds += 1
        weights = _weights(reliability[job.workers], prior)
        vote = _vote(job, backbone, alignment, weights, gold_texts)
        lengths = np.maximum(job.answers.lengths[job.ids], vote.consensus.lengths[job.tasks])
        previous, reliability = reliability, _reliability(job, vote.hits, lengths, prior)
        changed = _changed(backbone, vote.consensus)
        done = not changed.any() and bool(np.abs(reliability - previous).max(initial=0.0) <= tol)
        if changed.any():
            alignment = _realign(job, vote.consensus, alignment, changed)
        backbone = vote.consensus
    vote = _vote(job, backbone, alignment, _weights(reliability[job.workers], prior), gold_texts)
    return TextResult(
        tokens=vote.consensus.tokens,
        offsets=vote.consensus.offsets,
        confidence=vote.confidence,
        worker_reliability=reliability,
        answer_counts=np.bincount(job.tasks, minlength=job.n_tasks).astype(np.int64),
        worker_answer_counts=np.bincount(job.workers, minlength=job.n_workers).astype(np.int64),
        iterations=rounds,
        converged=done,
    )


def text_medoid(
    answers: TextAnswers,
    *,
    gold: Mapping[int, Sequence[int]] | None = None,
    exclude_workers: npt.ArrayLike | None = None,
) -> TextResult:
    """The baseline: each task's medoid, the answer with the least mean word edit distance to the others (every
    worker equal; ties go to the shorter answer, then by content)."""
    job, gold_texts = _prepare(answers, gold, exclude_workers)
    consensus = _medoids(job, np.ones(len(job.ids)), gold_texts)
    counts = np.bincount(job.tasks, minlength=job.n_tasks)
    return TextResult(
        tokens=consensus.tokens,
        offsets=consensus.offsets,
        confidence=np.where(counts > 0, 1.0, 0.0),
        worker_reliability=np.full(job.n_workers, np.nan),
        answer_counts=counts.astype(np.int64),
        worker_answer_counts=np.bincount(job.workers, minlength=job.n_workers).astype(np.int64),
        iterations=0,
        converged=True,
    )


def _within(counts: IntArray) -> IntArray:
    """For runs of lengths ``counts[i]`` (one run per element): 0, 1, ..., counts[i] − 1, concatenated."""
    total = int(counts.sum())
    ends = np.cumsum(counts)
    out: IntArray = np.arange(total) - np.repeat(ends - counts, counts)
    return out


def _prepare(
    answers: TextAnswers, gold: Mapping[int, Sequence[int]] | None, exclude_workers: npt.ArrayLike | None
) -> tuple[_Job, Packed | None]:
    keep = answers.kept(exclude_workers)
    ids = np.flatnonzero(keep)
    is_gold = np.zeros(answers.n_tasks, dtype=bool)
    items = gold_items(gold, n_tasks=answers.n_tasks)
    gold_texts = None
    if items:
        texts = [np.asarray(list(words), dtype=np.int64) for _, words in items]
        lengths = np.zeros(answers.n_tasks, dtype=np.int64)
        tasks = np.array([task for task, _ in items], dtype=np.int64)
        lengths[tasks] = [len(words) for words in texts]
        tokens = np.concatenate(texts) if texts else np.zeros(0, dtype=np.int64)
        if tokens.size and (tokens.min() < 0 or tokens.max() >= answers.n_vocabulary):
            raise InvalidGoldError(f"gold word codes must lie in [0, {answers.n_vocabulary})")
        offsets = np.zeros(answers.n_tasks + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        # `texts` follow the task order of `items` (sorted), which is the packed order too.
        gold_texts = Packed(tokens, offsets)
        is_gold[tasks] = True
    job = _Job(
        answers.packed, ids, answers.tasks[ids], answers.workers[ids], answers.n_tasks, answers.n_workers, is_gold
    )
    return job, gold_texts


def _weights(reliability: FloatArray, prior: TextPrior) -> FloatArray:
    r = np.clip(reliability, 1e-6, 1 - 1e-6)
    weights: FloatArray = np.maximum(np.log(r / (1 - r)) + np.log(prior.alternatives - 1.0), 1e-3)
    return weights


def _medoids(job: _Job, weights: FloatArray, gold_texts: Packed | None) -> Packed:
    """Per task, the answer with the least weighted mean edit distance to the task's other answers.

    A task with more than ``_ANCHORS`` answers compares each answer with ``_ANCHORS`` of them (the first by content
    hash), which bounds the cost per answer; below that every pair is compared once.
    """
    digest = _content_hash(job.answers, job.ids)
    order = np.lexsort((digest, job.tasks))
    tasks = job.tasks[order]
    counts = np.bincount(tasks, minlength=job.n_tasks)
    rank = _within(counts)  # each answer's rank within its task, by content
    start = np.repeat(np.cumsum(counts) - counts, counts)
    # Pairs (a, b): b an anchor (rank < _ANCHORS), and a after b when a is an anchor too.
    partners = np.where(rank < _ANCHORS, rank, np.minimum(counts[tasks], _ANCHORS))
    first = np.repeat(np.arange(len(order)), partners)
    second = start[first] + _within(partners)
    distance = distances(job.answers, job.answers, job.ids[order][first], job.ids[order][second]).astype(np.float64)
    w = weights[order]
    total = weighted_sums(first, w[second] * distance, len(order))
    mass = weighted_sums(first, w[second], len(order))
    both_anchors = rank[first] < _ANCHORS
    total += weighted_sums(second[both_anchors], (w[first] * distance)[both_anchors], len(order))
    mass += weighted_sums(second[both_anchors], w[first][both_anchors], len(order))
    mean = np.where(mass > 0, total / np.where(mass > 0, mass, 1.0), 0.0)
    chosen = _best_per_task(tasks, -mean, job.answers, job.ids[order], job.n_tasks)
    return _take(job.answers, chosen, gold_texts)


def _best_per_task(tasks: IntArray, score: FloatArray, answers: Packed, ids: IntArray, n_tasks: int) -> IntArray:
    """Per task, the answer id with the highest score; ties go to the shorter answer, then by content hash, so the
    choice depends on the answers' content only. -1 for a task with no answer."""
    lengths = answers.lengths[ids]
    order = np.lexsort((_content_hash(answers, ids), lengths, -np.round(score, 9), tasks))
    first = np.ones(len(order), dtype=bool)
    first[1:] = tasks[order][1:] != tasks[order][:-1]
    chosen = np.full(n_tasks, -1, dtype=np.int64)
    chosen[tasks[order][first]] = ids[order][first]
    return chosen


def _content_hash(answers: Packed, ids: IntArray) -> FloatArray:
    """A number that depends on an answer's words and their positions only (a tie-breaker, not an identity)."""
    lengths = answers.lengths[ids]
    words = answers.tokens[_ranges(answers.offsets[ids], lengths)].astype(np.float64)
    positions = _within(lengths).astype(np.float64)
    mixed = np.modf((words + 1.0) * _GOLDEN + (positions + 1.0) * _PLASTIC)[0]
    digest: FloatArray = weighted_sums(np.repeat(np.arange(len(ids)), lengths), mixed, len(ids))
    return digest


def _take(answers: Packed, chosen: IntArray, gold_texts: Packed | None) -> Packed:
    """One sequence per task: answer ``chosen[t]`` (empty for -1), or the gold text for a gold task."""
    lengths = np.where(chosen >= 0, answers.lengths[np.maximum(chosen, 0)], 0)
    starts = answers.offsets[np.maximum(chosen, 0)]
    if gold_texts is not None:
        is_gold = gold_texts.lengths > 0
        return _merge(Packed(answers.tokens[_ranges(starts, lengths)], _offsets(lengths)), gold_texts, is_gold)
    return Packed(answers.tokens[_ranges(starts, lengths)], _offsets(lengths))


def _merge(base: Packed, override: Packed, mask: npt.NDArray[np.bool_]) -> Packed:
    """``base`` with the sequences where ``mask`` is set taken from ``override`` (same number of sequences)."""
    lengths = np.where(mask, override.lengths, base.lengths)
    starts_base, starts_over = base.offsets[:-1], override.offsets[:-1]
    source = np.repeat(mask, lengths)
    positions = _within(lengths)
    from_base = (
        base.tokens[np.minimum(np.repeat(starts_base, lengths) + positions, max(len(base.tokens) - 1, 0))]
        if len(base.tokens)
        else np.zeros(len(positions), np.int64)
    )
    from_over = (
        override.tokens[np.minimum(np.repeat(starts_over, lengths) + positions, max(len(override.tokens) - 1, 0))]
        if len(override.tokens)
        else np.zeros(len(positions), np.int64)
    )
    return Packed(np.where(source, from_over, from_base), _offsets(lengths))


def _offsets(lengths: IntArray) -> IntArray:
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return offsets


def _ranges(starts: IntArray, lengths: IntArray) -> IntArray:
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    flat: IntArray = np.repeat(starts, lengths) + _within(lengths)
    return flat


def _changed(before: Packed, after: Packed) -> npt.NDArray[np.bool_]:
    """Tasks whose sequence differs between the two."""
    lengths_differ = before.lengths != after.lengths
    same_length = np.flatnonzero(~lengths_differ & (before.lengths > 0))
    lengths = before.lengths[same_length]
    a = before.tokens[_ranges(before.offsets[same_length], lengths)]
    b = after.tokens[_ranges(after.offsets[same_length], lengths)]
    differs = np.zeros(len(same_length), dtype=bool)
    owner = np.repeat(np.arange(len(same_length)), lengths)
    np.logical_or.at(differs, owner, a != b)
    changed = lengths_differ.copy()
    changed[same_length] = differs
    return changed


def _realign(job: _Job, backbone: Packed, previous: Alignment, changed: npt.NDArray[np.bool_]) -> Alignment:
    """The previous alignment, with the answers of the ``changed`` tasks aligned again to the new backbone."""
    redo = changed[job.tasks]
    fresh = align(job.answers, backbone, job.ids[redo], job.tasks[redo])
    return _combine(previous, fresh, redo)


def _combine(previous: Alignment, fresh: Alignment, redo: npt.NDArray[np.bool_]) -> Alignment:
    """Pairs where ``redo`` is set from ``fresh`` (in order), the others from ``previous``."""
    kept_pairs = np.flatnonzero(~redo)
    new_pairs = np.flatnonzero(redo)
    lengths = np.zeros(len(redo), dtype=np.int64)
    lengths[kept_pairs] = np.diff(previous.reference_offsets)[kept_pairs]
    lengths[new_pairs] = np.diff(fresh.reference_offsets)
    offsets = _offsets(lengths)
    aligned = np.empty(int(offsets[-1]), dtype=np.int64)
    aligned[_ranges(offsets[kept_pairs], lengths[kept_pairs])] = previous.aligned[
        _ranges(previous.reference_offsets[kept_pairs], lengths[kept_pairs])
    ]
    aligned[_ranges(offsets[new_pairs], lengths[new_pairs])] = fresh.aligned
    keep_events = ~redo[previous.inserted_pairs]
    pairs = np.concatenate([previous.inserted_pairs[keep_events], new_pairs[fresh.inserted_pairs]])
    gaps = np.concatenate([previous.inserted_gaps[keep_events], fresh.inserted_gaps])
    ranks = np.concatenate([previous.inserted_ranks[keep_events], fresh.inserted_ranks])
    tokens = np.concatenate([previous.inserted_tokens[keep_events], fresh.inserted_tokens])
    distance = np.empty(len(redo), dtype=np.int64)
    distance[kept_pairs] = previous.distance[kept_pairs]
    distance[new_pairs] = fresh.distance
    order = np.lexsort((ranks, gaps, pairs))
    return Alignment(distance, aligned, offsets, pairs[order], gaps[order], ranks[order], tokens[order])


def _vote(job: _Job, backbone: Packed, alignment: Alignment, weights: FloatArray, gold_texts: Packed | None) -> _Vote:
    """Winners of every slot and insertion column; the consensus, its confidence and each answer's hits."""
    task_weight = weighted_sums(job.tasks, weights, job.n_tasks)
    slots = _Ballot.slots(job, backbone, alignment, weights)
    columns = _Ballot.columns(job, backbone, alignment, weights, task_weight)
    consensus = _assemble(job, backbone, slots, columns)
    if gold_texts is not None:
        consensus = _merge(consensus, gold_texts, job.gold)
    confidence_sum = weighted_sums(slots.group_task, slots.posterior, job.n_tasks) + weighted_sums(
        columns.group_task, columns.posterior, job.n_tasks
    )
    n_groups = np.bincount(slots.group_task, minlength=job.n_tasks) + np.bincount(
        columns.group_task, minlength=job.n_tasks
    )
    answered = task_weight > 0
    confidence = np.where(n_groups > 0, confidence_sum / np.maximum(n_groups, 1), np.where(answered, 1.0, 0.0))
    confidence[job.gold] = 1.0
    hits = slots.hits + columns.hits
    return _Vote(consensus, confidence, hits)


@dataclass(frozen=True, eq=False)
class _Ballot:
    """The outcome of one kind of vote (slots or insertion columns), one group per slot or column."""

    group_task: IntArray
    group_gap: IntArray  # where its winner goes: slot j -> gap j (after that gap's insertions)
    group_rank: IntArray
    winner: IntArray  # word code, or -1 for nothing
    posterior: FloatArray
    hits: FloatArray  # per kept answer

    @classmethod
    def slots(cls, job: _Job, backbone: Packed, alignment: Alignment, weights: FloatArray) -> _Ballot:
        lengths = np.diff(alignment.reference_offsets)
        owner = np.repeat(np.arange(len(job.ids)), lengths)
        slot = np.repeat(backbone.offsets[job.tasks], lengths) + _within(lengths)
        groups, winner, posterior, win_mass = _tally(slot, alignment.aligned, weights[owner], len(backbone.tokens))
        hit = (alignment.aligned == winner[slot]) & (alignment.aligned >= 0)
        slot_task = np.repeat(np.arange(job.n_tasks), backbone.lengths)
        gap = _within(backbone.lengths)
        del groups, win_mass
        return cls(
            slot_task,
            gap,
            np.zeros(len(gap), np.int64),
            winner,
            posterior,
            weighted_sums(owner, hit.astype(np.float64), len(job.ids)),
        )

    @classmethod
    def columns(
        cls, job: _Job, backbone: Packed, alignment: Alignment, weights: FloatArray, task_weight: FloatArray
    ) -> _Ballot:
        pairs = alignment.inserted_pairs
        tasks = job.tasks[pairs]
        # Column key: (task, gap, rank), numbered densely.
        key = np.stack([tasks, alignment.inserted_gaps, alignment.inserted_ranks], axis=1)
        if len(key):
            uniques, column = np.unique(key, axis=0, return_inverse=True)
            column = column.reshape(-1)
        else:
            uniques, column = np.zeros((0, 3), np.int64), np.zeros(0, np.int64)
        n_columns = len(uniques)
        column_task = uniques[:, 0]
        present = weighted_sums(column, weights[pairs], n_columns)
        absent = task_weight[column_task] - present  # the answers with no word there vote for nothing
        _, winner, posterior, _ = _tally(column, alignment.inserted_tokens, weights[pairs], n_columns, absent)
        hit = alignment.inserted_tokens == winner[column]
        return cls(
            column_task,
            uniques[:, 1],
            uniques[:, 2],
            winner,
            posterior,
            weighted_sums(pairs, hit.astype(np.float64), len(job.ids)),
        )


def _tally(
    group: IntArray, token: IntArray, weight: FloatArray, n_groups: int, nothing: FloatArray | None = None
) -> tuple[IntArray, IntArray, FloatArray, FloatArray]:
    """Per group, the candidate with the most weight (ties: the higher code, so a word beats nothing), its
    posterior ``exp(W_best) / Σ_c exp(W_c)`` and its weight. ``nothing`` adds a candidate -1 with that weight."""
    candidate = np.stack([group, token], axis=1)
    if nothing is not None:
        extra = np.stack([np.arange(n_groups), np.full(n_groups, -1)], axis=1)
        candidate = np.concatenate([candidate, extra])
        weight = np.concatenate([weight, nothing])
    if not len(candidate):
        return np.zeros(0, np.int64), np.zeros(n_groups, np.int64) - 1, np.ones(n_groups), np.zeros(n_groups)
    uniques, which = np.unique(candidate, axis=0, return_inverse=True)
    mass = np.bincount(which.reshape(-1), weights=weight, minlength=len(uniques))
    order = np.lexsort((-uniques[:, 1], -np.round(mass, 9), uniques[:, 0]))
    first = np.ones(len(order), dtype=bool)
    first[1:] = uniques[order][1:, 0] != uniques[order][:-1, 0]
    best = order[first]
    winner = np.full(n_groups, -1, dtype=np.int64)
    winner[uniques[best, 0]] = uniques[best, 1]
    top = np.zeros(n_groups)
    top[uniques[best, 0]] = mass[best]
    spread = np.bincount(uniques[:, 0], weights=np.exp(mass - top[uniques[:, 0]]), minlength=n_groups)
    posterior = np.where(spread > 0, 1.0 / np.where(spread > 0, spread, 1.0), 1.0)
    return uniques[:, 0], winner, posterior, top


def _assemble(job: _Job, backbone: Packed, slots: _Ballot, columns: _Ballot) -> Packed:
    """The winners in order: per task, by gap; in a gap the inserted words by rank, then the slot's word."""
    parts = [
        (slots.group_task, slots.group_gap, np.ones(len(slots.winner), np.int64), slots.group_rank, slots.winner),
        (
            columns.group_task,
            columns.group_gap,
            np.zeros(len(columns.winner), np.int64),
            columns.group_rank,
            columns.winner,
        ),
    ]
    task, gap, kind, rank, word = (np.concatenate(column) for column in zip(*parts, strict=True))
    emitted = word >= 0
    task, gap, kind, rank, word = task[emitted], gap[emitted], kind[emitted], rank[emitted], word[emitted]
    order = np.lexsort((rank, kind, gap, task))
    lengths = np.bincount(task, minlength=job.n_tasks)
    del backbone
    return Packed(word[order], _offsets(lengths))


def _reliability(job: _Job, hits: FloatArray, lengths: npt.NDArray[np.int64], prior: TextPrior) -> FloatArray:
    right = weighted_sums(job.workers, hits, job.n_workers)
    total = weighted_sums(job.workers, lengths.astype(np.float64), job.n_workers)
    reliability: FloatArray = (right + prior.right) / (total + prior.right + prior.wrong)
    return reliability

"""Free-text answers (transcriptions, short texts): a worker-weighted word consensus (ROVER-style), by EM.

Each answer is a sequence of word codes. Per task, every answer is aligned to a backbone (:mod:`alignment`):
each backbone word becomes a *slot* where each answer votes for the word it has there or for nothing, and
words an answer has between two backbone words go to *insertion columns* (by gap and rank), where the answers
without one vote for nothing (:mod:`text_votes`). In every slot and column the candidate with the most weight
wins, and the winners, in order, are the consensus, which becomes the next backbone. This is ROVER's word
transition network, built against one backbone (a centre-star alignment) instead of by aligning the answers one
after another, which makes the result independent of the answers' order.

Weights come from a reliability per worker, EM style: a worker's reliability ``r_w`` is the expected share of its
words that are right (the posteriors of the candidates it voted for, over the longer of its answer and the
consensus, with a Beta prior), and its vote weighs ``log(r_w / (1 − r_w)) + log(m − 1)``: the log-odds that a word
it wrote is right when a wrong word is one of ``m`` plausible alternatives (one-coin Dawid-Skene per slot). The
posterior of a candidate is over all ``m`` of them, the ones nobody voted for included (weight 0): one answer alone
is then as sure as its worker is reliable, and two equally reliable answers that differ are each about one half.
The M-step counts expected hits, not the winners' hits: a worker who loses a coin flip is not taken for a worse one
(which, round after round, would make the winners of such flips look sure). A task's confidence is one minus its
expected errors (one minus the winner's posterior, summed over its slots and columns) over its consensus's words:
the expected share of its words that are right.

The first backbone of a task is its medoid: the answer with the least mean word edit distance to the task's other
answers (the centre-star alignment depends on it: a poor first backbone, such as a short answer, leaves the
consensus in a poor fixed point). Gold tasks keep their known text as backbone and consensus; their answers still
inform the workers' reliabilities. Only the tasks whose backbone changed are aligned again in the next round, and
once no reliability moves by more than ``tol`` a round votes only on those tasks (the others' votes, under weights
that no longer move, cannot change): the last rounds, which settle a few dozen tasks, cost those tasks only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from marketplace.aggregation.alignment import distances
from marketplace.aggregation.crowd import CrowdAnswers, check_iterations, gold_items, weighted_sums
from marketplace.aggregation.errors import InvalidAnswersError, InvalidGoldError
from marketplace.aggregation.inputs import FloatArray, IntArray, as_index_array, check_range
from marketplace.aggregation.packed import Packed, offsets_of, ranges, within
from marketplace.aggregation.text_board import Board, Voters
from marketplace.aggregation.text_votes import Vote, vote

#: Answers of a task each first-backbone candidate is compared with, at most (the cost per answer stays bounded).
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
    voters: Voters
    n_tasks: int
    n_workers: int
    gold: npt.NDArray[np.bool_]  # per task
    gold_texts: Packed | None

    def result(self, outcome: Vote, reliability: FloatArray, rounds: int, done: bool) -> TextResult:
        consensus, confidence = outcome.consensus, outcome.confidence
        if self.gold_texts is not None:
            consensus = consensus.where(self.gold, self.gold_texts)
            confidence[self.gold] = 1.0
        return TextResult(
            tokens=consensus.tokens,
            offsets=consensus.offsets,
            confidence=confidence,
            worker_reliability=reliability,
            answer_counts=self.voters.counts.astype(np.int64),
            worker_answer_counts=np.bincount(self.workers, minlength=self.n_workers).astype(np.int64),
            iterations=rounds,
            converged=done,
        )


def text_consensus(
    answers: TextAnswers,
    *,
    gold: Mapping[int, Sequence[int]] | None = None,
    exclude_workers: npt.ArrayLike | None = None,
    max_iter: int = 10,
    tol: float = 1e-2,
    prior: TextPrior | None = None,
) -> TextResult:
    """Worker-weighted consensus by EM. Stops when no consensus changes and no reliability moves by more than
    ``tol``, or after ``max_iter`` rounds."""
    check_iterations(max_iter, tol)
    prior = prior if prior is not None else TextPrior()
    job = _prepare(answers, gold, exclude_workers)
    reliability = np.full(job.n_workers, prior.right / (prior.right + prior.wrong))
    board = Board.build(job.answers, job.voters, _medoids(job, _weights(reliability[job.workers], prior)))
    backbone = board.backbone
    outcome = vote(board, _weights(reliability[job.workers], prior), prior.alternatives)
    rounds = 1
    while True:
        consensus = _with_gold(job, outcome.consensus)
        lengths = np.maximum(job.answers.lengths[job.ids], consensus.lengths[job.tasks])
        previous, reliability = reliability, _reliability(job, outcome.hits, lengths, prior)
        changed = backbone.differs(consensus)
        steady = bool(np.abs(reliability - previous).max(initial=0.0) <= tol)
        if (steady and not changed.any()) or rounds == max_iter:
            return job.result(outcome, reliability, rounds, steady and not changed.any())
        rounds += 1
        weights = _weights(reliability[job.workers], prior)
        if steady:
            # The weights have settled: only the tasks whose consensus moved can still change.
            outcome = _revoted(job, outcome, consensus, changed, weights, prior.alternatives)
        else:
            board = board.realigned(job.answers, consensus, changed) if changed.any() else board
            outcome = vote(board, weights, prior.alternatives)
        backbone = consensus


def _revoted(
    job: _Job,
    outcome: Vote,
    consensus: Packed,
    changed: npt.NDArray[np.bool_],
    weights: FloatArray,
    alternatives: float,
) -> Vote:
    """``outcome`` with the ``changed`` tasks voted again on their new backbone (``consensus``), on a board of
    their own: a round that costs those tasks only."""
    tasks = np.flatnonzero(changed)
    mine = changed[job.tasks]
    renumbered = np.cumsum(changed) - 1
    voters = Voters.of(job.ids[mine], renumbered[job.tasks[mine]], len(tasks))
    again = vote(Board.build(job.answers, voters, consensus.take(tasks)), weights[mine], alternatives)
    lengths = np.zeros(job.n_tasks, dtype=np.int64)
    lengths[tasks] = again.consensus.lengths
    confidence, hits = outcome.confidence.copy(), outcome.hits.copy()
    confidence[tasks], hits[mine] = again.confidence, again.hits
    return Vote(outcome.consensus.where(changed, Packed(again.consensus.tokens, offsets_of(lengths))), confidence, hits)


def text_medoid(
    answers: TextAnswers,
    *,
    gold: Mapping[int, Sequence[int]] | None = None,
    exclude_workers: npt.ArrayLike | None = None,
) -> TextResult:
    """The baseline: each task's medoid, the answer with the least mean word edit distance to the others (every
    worker equal; ties go to the shorter answer, then by content)."""
    job = _prepare(answers, gold, exclude_workers)
    consensus = _medoids(job, np.ones(len(job.ids)))
    confidence = np.where(job.voters.counts > 0, 1.0, 0.0)
    return job.result(Vote(consensus, confidence, np.zeros(len(job.ids))), np.full(job.n_workers, np.nan), 0, True)


def _prepare(
    answers: TextAnswers, gold: Mapping[int, Sequence[int]] | None, exclude_workers: npt.ArrayLike | None
) -> _Job:
    kept = np.flatnonzero(answers.kept(exclude_workers))
    # Grouped by task: a task's answers are then consecutive pairs of every alignment (see text_votes).
    ids = kept[np.argsort(answers.tasks[kept], kind="stable")]
    tasks = answers.tasks[ids]
    is_gold = np.zeros(answers.n_tasks, dtype=bool)
    items = gold_items(gold, n_tasks=answers.n_tasks)
    gold_texts = None
    if items:
        texts = [np.asarray(list(words), dtype=np.int64) for _, words in items]
        known = np.array([task for task, _ in items], dtype=np.int64)
        lengths = np.zeros(answers.n_tasks, dtype=np.int64)
        lengths[known] = [len(words) for words in texts]
        words = np.concatenate(texts)
        if words.size and (words.min() < 0 or words.max() >= answers.n_vocabulary):
            raise InvalidGoldError(f"gold word codes must lie in [0, {answers.n_vocabulary})")
        # `items` are sorted by task, the packed order too.
        gold_texts = Packed(words, offsets_of(lengths))
        is_gold[known] = True
    return _Job(
        answers=answers.packed,
        ids=ids,
        tasks=tasks,
        workers=answers.workers[ids],
        voters=Voters.of(ids, tasks, answers.n_tasks),
        n_tasks=answers.n_tasks,
        n_workers=answers.n_workers,
        gold=is_gold,
        gold_texts=gold_texts,
    )


def _with_gold(job: _Job, consensus: Packed) -> Packed:
    return consensus if job.gold_texts is None else consensus.where(job.gold, job.gold_texts)


def _weights(reliability: FloatArray, prior: TextPrior) -> FloatArray:
    r = np.clip(reliability, 1e-6, 1 - 1e-6)
    weights: FloatArray = np.maximum(np.log(r / (1 - r)) + np.log(prior.alternatives - 1.0), 1e-3)
    return weights


def _medoids(job: _Job, weights: FloatArray) -> Packed:
    """Per task, the answer with the least weighted mean edit distance to the task's other answers (the gold text
    for a gold task).

    A task with more than ``_ANCHORS`` answers compares each answer with ``_ANCHORS`` of them (the first by content
    hash), which bounds the cost per answer; below that every pair is compared once. The content hash is worked
    out only where it decides something: the anchors of such a task, and ties for a task's best answer.
    """
    counts = job.voters.counts
    digest = np.zeros(len(job.ids))
    large = counts[job.tasks] > _ANCHORS
    digest[large] = _content_hash(job.answers, job.ids[large])
    order = np.lexsort((digest, job.tasks))
    tasks = job.tasks[order]
    rank = within(counts)  # each answer's rank within its task, by content
    start = np.repeat(np.cumsum(counts) - counts, counts)
    # Pairs (a, b): b an anchor (rank < _ANCHORS), and a after b when a is an anchor too.
    partners = np.where(rank < _ANCHORS, rank, np.minimum(counts[tasks], _ANCHORS))
    first = np.repeat(np.arange(len(order)), partners)
    second = start[first] + within(partners)
    ids = job.ids[order]
    distance = distances(job.answers, job.answers, ids[first], ids[second]).astype(np.float64)
    w = weights[order]
    total = weighted_sums(first, w[second] * distance, len(order))
    mass = weighted_sums(first, w[second], len(order))
    both_anchors = rank[first] < _ANCHORS
    total += weighted_sums(second[both_anchors], (w[first] * distance)[both_anchors], len(order))
    mass += weighted_sums(second[both_anchors], w[first][both_anchors], len(order))
    mean = np.where(mass > 0, total / np.where(mass > 0, mass, 1.0), 0.0)
    # The best answer: the least mean distance, then the shortest, then by content hash (where still tied), so the
    # choice depends on the answers' content only.
    best = _at_top(tasks, np.round(-mean, 9).astype(np.float64), np.ones(len(order), dtype=bool), job.n_tasks)
    best = _at_top(tasks, -job.answers.lengths[ids].astype(np.float64), best, job.n_tasks)
    digest = digest[order]
    tied = best & ~large[order] & (np.bincount(tasks[best], minlength=job.n_tasks)[tasks] > 1)
    digest[tied] = _content_hash(job.answers, ids[tied])
    best = _at_top(tasks, -digest, best, job.n_tasks)
    # Equal hashes (the same words): the first of them.
    owners, first = np.unique(tasks[best], return_index=True)
    chosen = np.full(job.n_tasks, -1, dtype=np.int64)
    chosen[owners] = ids[best][first]
    return _with_gold(job, job.answers.take(chosen))


def _at_top(tasks: IntArray, value: FloatArray, among: npt.NDArray[np.bool_], n_tasks: int) -> npt.NDArray[np.bool_]:
    """Of the entries ``among``, those whose value is the highest of their task's entries ``among``."""
    top = np.full(n_tasks, -np.inf)
    np.maximum.at(top, tasks[among], value[among])
    at_top: npt.NDArray[np.bool_] = among & (value == top[tasks])
    return at_top


def _content_hash(answers: Packed, ids: IntArray) -> FloatArray:
    """A number that depends on an answer's words and their positions only (a tie-breaker, not an identity)."""
    lengths = answers.lengths[ids]
    words = answers.tokens[ranges(answers.offsets[ids], lengths)].astype(np.float64)
    positions = within(lengths).astype(np.float64)
    mixed = np.modf((words + 1.0) * _GOLDEN + (positions + 1.0) * _PLASTIC)[0]
    digest: FloatArray = weighted_sums(np.repeat(np.arange(len(ids)), lengths), mixed, len(ids))
    return digest


def _reliability(job: _Job, hits: FloatArray, lengths: npt.NDArray[np.int64], prior: TextPrior) -> FloatArray:
    right = weighted_sums(job.workers, hits, job.n_workers)
    total = weighted_sums(job.workers, lengths.astype(np.float64), job.n_workers)
    reliability: FloatArray = (right + prior.right) / (total + prior.right + prior.wrong)
    return reliability

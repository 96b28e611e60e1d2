"""Majority vote: the baseline every other method must beat."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from marketplace.aggregation.inputs import Answers, FloatArray, GoldInput, parse_gold
from marketplace.aggregation.results import MajorityVoteResult


def majority_vote(
    answers: Answers,
    *,
    gold: GoldInput | None = None,
    exclude_workers: npt.ArrayLike | None = None,
) -> MajorityVoteResult:
    """Label each task with its most frequent answer; ties go to the lowest label index.

    Gold tasks are reported with their gold label (confidence 1); excluded workers' answers are not counted.
    """
    kept = answers.without_workers(exclude_workers)
    gold_labels = parse_gold(gold, n_tasks=kept.n_tasks, n_classes=kept.n_classes)
    votes = kept.vote_counts()
    posteriors = vote_shares(votes)
    if gold_labels is not None:
        gold_labels.clamp(posteriors)
    # argmax returns the first maximum, which makes ties deterministic: lowest label index wins.
    labels = posteriors.argmax(axis=1).astype(np.int64)
    return MajorityVoteResult(
        posteriors=posteriors,
        labels=labels,
        confidence=posteriors.max(axis=1, initial=0.0),
        answer_counts=votes.sum(axis=1).astype(np.int64),
    )


def vote_shares(votes: FloatArray) -> FloatArray:
    """Rows of ``votes`` divided by their sums; a row with no vote becomes uniform."""
    totals = votes.sum(axis=1, keepdims=True)
    uniform = np.full_like(votes, 1.0 / max(votes.shape[1], 1))
    shares: FloatArray = np.divide(votes, totals, out=uniform, where=totals > 0)
    return shares

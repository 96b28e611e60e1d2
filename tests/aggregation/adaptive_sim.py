"""A seeded synthetic crowd answering micro-tasks in rounds: fixed overlap vs adaptive overlap.

Every answer the crowd could ever give is drawn up front: micro-task t is shown to its workers in the order
``order[t]`` (distinct workers, drawn without replacement and weighted by how active each worker is), and item
i's j-th answer is ``labels[i, j]``, given by worker ``order[task_of_item[i], j]``. A policy only decides how
many of those answers each micro-task collects, so fixed and adaptive overlap are compared on the same
answers (common random numbers: the difference between them is the policy, not the draw).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from marketplace.aggregation import Answers, dawid_skene, initial_overlap_targets, overlap_targets

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, eq=False)
class Crowd:
    truth: IntArray  # (n_items,)
    task_of_item: IntArray  # (n_items,): micro-task of each item
    confusions: npt.NDArray[np.float64]  # (n_workers, K, K): P(answer l | truth k)
    order: IntArray  # (n_tasks, depth): the distinct workers each micro-task is shown to, in order
    labels: IntArray  # (n_items, depth): the answer of the j-th worker of the item's micro-task

    @property
    def n_tasks(self) -> int:
        return len(self.order)


@dataclass(frozen=True)
class Outcome:
    accuracy: float  # Dawid-Skene labels vs truth, over every item
    answers: int  # item answers collected (one per item per worker who did its micro-task)
    rounds: int


def make_crowd(
    *,
    n_items: int,
    n_classes: int,
    items_per_task: int,
    n_workers: int,
    spammer_share: float,
    depth: int,
    seed: int,
) -> Crowd:
    """Honest workers are right with a probability drawn in [0.55, 0.95] and spread their errors by their own
    Dirichlet-drawn bias; spammers answer uniformly at random. Activity is log-normal: a few workers do a lot."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, n_classes, n_items)
    task_of_item = np.arange(n_items) // items_per_task
    confusions = _confusions(rng, n_workers, n_classes, spammer_share)
    order = _worker_order(rng, int(task_of_item[-1]) + 1, n_workers, depth)
    workers = order[task_of_item]  # (n_items, depth)
    cumulative = confusions[workers, truth[:, None]].cumsum(axis=2)
    drawn = (rng.random((n_items, depth, 1)) > cumulative).sum(axis=2)
    return Crowd(truth, task_of_item, confusions, order, np.minimum(drawn, n_classes - 1))


def _confusions(rng: np.random.Generator, n_workers: int, n_classes: int, spammer_share: float) -> np.ndarray:
    accuracy = rng.uniform(0.55, 0.95, n_workers)
    errors = rng.dirichlet(np.ones(n_classes - 1), size=(n_workers, n_classes))  # (W, k, K-1)
    confusions = np.empty((n_workers, n_classes, n_classes))
    off_diagonal = ~np.eye(n_classes, dtype=bool)
    confusions[:, off_diagonal] = ((1 - accuracy)[:, None, None] * errors).reshape(n_workers, -1)
    confusions[:, np.arange(n_classes), np.arange(n_classes)] = accuracy[:, None]
    spammers = rng.permutation(n_workers)[: round(spammer_share * n_workers)]
    confusions[spammers] = 1.0 / n_classes
    return confusions


def _worker_order(rng: np.random.Generator, n_tasks: int, n_workers: int, depth: int) -> IntArray:
    # Weighted sampling without replacement (Gumbel top-k): distinct workers per micro-task, active ones first.
    activity = rng.lognormal(0.0, 0.5, n_workers)
    keys = np.log(activity) + rng.gumbel(size=(n_tasks, n_workers))
    return np.argsort(-keys, axis=1)[:, :depth].astype(np.int64)


def collected(crowd: Crowd, task_answers: IntArray) -> Answers:
    """The first ``task_answers[t]`` answers of every item of micro-task t."""
    depth = crowd.labels.shape[1]
    per_item = task_answers[crowd.task_of_item]
    keep = np.arange(depth) < per_item[:, None]  # (n_items, depth)
    items = np.broadcast_to(np.arange(len(crowd.truth))[:, None], keep.shape)
    return Answers(
        tasks=items[keep],
        workers=crowd.order[crowd.task_of_item][keep],
        labels=crowd.labels[keep],
        n_tasks=len(crowd.truth),
        n_workers=crowd.confusions.shape[0],
        n_classes=crowd.confusions.shape[1],
    )


def run_fixed(crowd: Crowd, overlap: int) -> Outcome:
    answers = collected(crowd, np.full(crowd.n_tasks, overlap, dtype=np.int64))
    return _outcome(crowd, dawid_skene(answers).labels, answers.n_answers, rounds=1)


def run_adaptive(crowd: Crowd, *, overlap_min: int, overlap_max: int, confidence_target: float) -> Outcome:
    """Round 0 fills every micro-task to ``overlap_min``; after each round DS is re-fitted (warm start) and the
    policy opens at most one slot per uncertain micro-task; every open slot is filled in the next round. It ends
    when the policy opens no slot: this can take more than ``overlap_max - overlap_min`` rounds, since a stopped
    micro-task resumes when a re-fit lowers one of its items' confidence."""
    targets = initial_overlap_targets(crowd.n_tasks, overlap_min=overlap_min)
    posteriors, rounds = None, 0
    while True:  # ends: targets only grow, up to overlap_max
        rounds += 1
        answers = collected(crowd, targets)
        result = dawid_skene(answers, init_posteriors=posteriors)
        posteriors = result.posteriors
        new_targets = overlap_targets(
            confidence=result.confidence,
            answer_counts=result.answer_counts,
            task_of_item=crowd.task_of_item,
            current_targets=targets,
            overlap_min=overlap_min,
            overlap_max=overlap_max,
            confidence_target=confidence_target,
        )
        if (new_targets == targets).all():
            break
        targets = new_targets
    return _outcome(crowd, result.labels, answers.n_answers, rounds)


def _outcome(crowd: Crowd, labels: IntArray, n_answers: int, rounds: int) -> Outcome:
    return Outcome(accuracy=float((labels == crowd.truth).mean()), answers=n_answers, rounds=rounds)

"""Small seeded crowds for hand-checked tests: each worker is a K×K confusion matrix."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from marketplace.aggregation import Answers

Matrix = npt.NDArray[np.float64]


def perfect(n_classes: int) -> Matrix:
    return np.eye(n_classes)


def noisy(n_classes: int, accuracy: float) -> Matrix:
    """Right with probability ``accuracy``, otherwise a uniformly chosen wrong label."""
    wrong = (1 - accuracy) / (n_classes - 1)
    return np.full((n_classes, n_classes), wrong) + np.eye(n_classes) * (accuracy - wrong)


def spammer(n_classes: int) -> Matrix:
    """Answers uniformly at random, whatever the truth."""
    return np.full((n_classes, n_classes), 1 / n_classes)


def swapper(n_classes: int, a: int = 0, b: int = 1) -> Matrix:
    """Always answers ``b`` for ``a`` and ``a`` for ``b``; right on the other classes."""
    matrix = np.eye(n_classes)
    matrix[[a, b]] = matrix[[b, a]]
    return matrix


def crowd(
    confusions: list[Matrix], truth: npt.NDArray[np.int64], seed: int, who: list[npt.NDArray[np.int64]] | None = None
) -> Answers:
    """Answers of worker ``w`` on the tasks ``who[w]`` (default: every task), drawn from ``confusions[w]``."""
    rng = np.random.default_rng(seed)
    n_classes = confusions[0].shape[0]
    all_tasks = np.arange(len(truth))
    tasks, workers, labels = [], [], []
    for worker, matrix in enumerate(confusions):
        on = all_tasks if who is None else who[worker]
        cumulative = matrix[truth[on]].cumsum(axis=1)
        drawn = (rng.random((len(on), 1)) > cumulative).sum(axis=1)
        tasks.append(on)
        workers.append(np.full(len(on), worker))
        labels.append(np.minimum(drawn, n_classes - 1))
    return Answers(
        tasks=np.concatenate(tasks),
        workers=np.concatenate(workers),
        labels=np.concatenate(labels),
        n_tasks=len(truth),
        n_workers=len(confusions),
        n_classes=n_classes,
    )


def random_truth(n_tasks: int, n_classes: int, seed: int) -> npt.NDArray[np.int64]:
    return np.random.default_rng(seed).integers(0, n_classes, n_tasks)


def thin_crowd(n_tasks: int, per_task: int, n_workers: int, n_classes: int, seed: int) -> tuple[Answers, np.ndarray]:
    """Many workers with a few answers each (``n_tasks * per_task / n_workers`` on average), accuracy drawn
    in [0.55, 0.95], wrong answers uniform. Returns the answers and the truth."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, n_classes, n_tasks)
    accuracy = rng.uniform(0.55, 0.95, n_workers)
    tasks = np.repeat(np.arange(n_tasks), per_task)
    workers = rng.integers(0, n_workers, len(tasks))
    right = rng.random(len(tasks)) < accuracy[workers]
    wrong = (truth[tasks] + rng.integers(1, n_classes, len(tasks))) % n_classes
    labels = np.where(right, truth[tasks], wrong)
    answers = Answers(
        tasks=tasks, workers=workers, labels=labels, n_tasks=n_tasks, n_workers=n_workers, n_classes=n_classes
    )
    return answers, truth

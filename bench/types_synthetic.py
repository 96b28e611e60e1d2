"""Synthetic jobs of 1M answers per answer type, for ``bench/types.py`` (time and peak memory of the engine).

Each job is generated from a fixed seed, in the measuring process, before the clock starts; the clock covers
the engine call from integer arrays to the result (what ``marketplace.services`` will call), and the peak RSS is
the whole process's high-water mark (interpreter, NumPy/SciPy, the job's arrays, the engine's work).

- ``multi_choice``: 100,000 tasks x 10 answers, 10 classes each applying with probability 0.2; 2,000 workers with
  sensitivity in [0.6, 0.95] and specificity in [0.85, 0.99]; 10% of them tick classes at random (p = 0.3).
- ``text``: 142,858 tasks x 7 answers = 1,000,006 answers; sentences of 3 + Poisson(12) words from a Zipf vocabulary
  of 20,000; 5,000 workers with a word error rate in [0.02, 0.3] (60% substitutions, 20% deletions, 20%
  insertions); 5% of them type an unrelated sentence.
- ``number``: 100,000 tasks x 10 answers, truth uniform in [0, 100]; 2,000 workers with a bias ~ N(0, 5) and a
  noise sd in [2, 20]; 5% answer uniformly at random.
- ``pairwise``: 200,000 pairs of 50,000 items x 5 answers; scores ~ N(0, 1.5); 2,000 workers reporting the
  Bradley-Terry draw with probability η in [0.7, 0.98], 5% of them adversarial (η = 0.2).
"""

from __future__ import annotations

import resource
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

Measured = dict[str, Any]
Ints = npt.NDArray[np.int64]


def _spread_workers(rng: np.random.Generator, n_tasks: int, per_task: int, n_workers: int) -> tuple[Ints, Ints]:
    """Distinct workers per task: start + j * stride (mod W) with stride * (per_task - 1) < W."""
    start = rng.integers(0, n_workers, n_tasks)
    stride = rng.integers(1, n_workers // per_task, n_tasks)
    workers = (start[:, None] + stride[:, None] * np.arange(per_task)) % n_workers
    return np.repeat(np.arange(n_tasks), per_task), workers.ravel()


def multi_choice(seed: int = 7) -> tuple[Callable[[], Any], Callable[[Any], Measured]]:
    from marketplace.aggregation.binary_relevance import MultiLabelAnswers, multi_label_ds

    rng = np.random.default_rng(seed)
    n_tasks, per_task, n_workers, k = 100_000, 10, 2_000, 10
    truth = rng.random((n_tasks, k)) < 0.2
    tasks, workers = _spread_workers(rng, n_tasks, per_task, n_workers)
    sensitivity = rng.uniform(0.6, 0.95, n_workers)
    specificity = rng.uniform(0.85, 0.99, n_workers)
    spammer = rng.random(n_workers) < 0.1
    sensitivity[spammer], specificity[spammer] = 0.3, 0.7
    draw = rng.random((len(tasks), k))
    ticked = np.where(truth[tasks], draw < sensitivity[workers, None], draw > specificity[workers, None])
    answer, klass = np.nonzero(ticked)
    answers = MultiLabelAnswers(tasks, workers, n_tasks, n_workers, answer, klass, k)
    return (lambda: multi_label_ds(answers)), (lambda result: {"accuracy": float((result.labels == truth).mean())})


def number(seed: int = 7) -> tuple[Callable[[], Any], Callable[[Any], Measured]]:
    from marketplace.aggregation.numeric import NumericAnswers, bias_noise_em

    rng = np.random.default_rng(seed)
    n_tasks, per_task, n_workers = 100_000, 10, 2_000
    truth = rng.uniform(0, 100, n_tasks)
    tasks, workers = _spread_workers(rng, n_tasks, per_task, n_workers)
    bias, noise = rng.normal(0, 5, n_workers), rng.uniform(2, 20, n_workers)
    values = truth[tasks] + bias[workers] + rng.normal(0, 1, len(tasks)) * noise[workers]
    spammer = (rng.random(n_workers) < 0.05)[workers]
    values[spammer] = rng.uniform(0, 100, int(spammer.sum()))
    answers = NumericAnswers(tasks, workers, n_tasks, n_workers, values)
    mean = np.bincount(tasks, values, n_tasks) / per_task

    def quality(result: Any) -> Measured:
        return {"mae": float(np.abs(result.values - truth).mean()), "mean_mae": float(np.abs(mean - truth).mean())}

    return (lambda: bias_noise_em(answers)), quality


def pairwise(seed: int = 7) -> tuple[Callable[[], Any], Callable[[Any], Measured]]:
    from scipy.stats import spearmanr

    from marketplace.aggregation.bradley_terry import LEFT, RIGHT, PairwiseAnswers, crowd_bradley_terry

    rng = np.random.default_rng(seed)
    n_items, n_pairs, per_task, n_workers = 50_000, 200_000, 5, 2_000
    scores = rng.normal(0, 1.5, n_items)
    left = rng.integers(0, n_items, n_pairs)
    right = (left + rng.integers(1, n_items, n_pairs)) % n_items
    tasks, workers = _spread_workers(rng, n_pairs, per_task, n_workers)
    eta = rng.uniform(0.7, 0.98, n_workers)
    eta[rng.random(n_workers) < 0.05] = 0.2
    left_first = rng.random(len(tasks)) < 1 / (1 + np.exp(scores[right[tasks]] - scores[left[tasks]]))
    honest = rng.random(len(tasks)) < eta[workers]
    outcomes = np.where(left_first == honest, LEFT, RIGHT)
    answers = PairwiseAnswers(tasks, workers, n_pairs, n_workers, left, right, outcomes, n_items)

    def quality(result: Any) -> Measured:
        return {"spearman": float(spearmanr(result.scores, scores).statistic)}

    return (lambda: crowd_bradley_terry(answers)), quality


def text(seed: int = 7) -> tuple[Callable[[], Any], Callable[[Any], Measured]]:
    from marketplace.aggregation.text_consensus import TextAnswers, text_consensus

    rng = np.random.default_rng(seed)
    n_tasks, per_task, n_workers, vocabulary = 142_858, 7, 5_000, 20_000
    lengths = 3 + rng.poisson(12, n_tasks)
    truth_offsets = np.concatenate([[0], np.cumsum(lengths)])
    truth = _zipf_words(rng, int(lengths.sum()), vocabulary)
    tasks, workers = _spread_workers(rng, n_tasks, per_task, n_workers)
    error = rng.uniform(0.02, 0.3, n_workers)
    spammer = rng.random(n_workers) < 0.05
    tokens, offsets = _noisy_copies(rng, truth, truth_offsets, tasks, error[workers], spammer[workers], vocabulary)
    answers = TextAnswers(tasks, workers, n_tasks, n_workers, tokens, offsets, vocabulary)

    def quality(result: Any) -> Measured:
        from marketplace.aggregation.alignment import Packed, distances

        sample = np.arange(0, n_tasks, 50)
        truth_packed, found = Packed(truth, truth_offsets), Packed(result.tokens, result.offsets)
        errors = distances(found, truth_packed, sample, sample).sum()
        return {"wer_sample": float(errors / lengths[sample].sum())}

    return (lambda: text_consensus(answers)), quality


def _zipf_words(rng: np.random.Generator, size: int, vocabulary: int) -> Ints:
    ranks = np.arange(1, vocabulary + 1)
    weights = 1.0 / ranks
    return rng.choice(vocabulary, size=size, p=weights / weights.sum())


def _noisy_copies(
    rng: np.random.Generator,
    truth: Ints,
    truth_offsets: Ints,
    tasks: Ints,
    error: npt.NDArray[np.float64],
    spammer: npt.NDArray[np.bool_],
    vocabulary: int,
) -> tuple[Ints, Ints]:
    """Each answer copies its task's words; each word is kept, substituted, deleted, or followed by an insertion."""
    lengths = np.diff(truth_offsets)[tasks]
    source = np.repeat(truth_offsets[tasks], lengths) + (
        np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    )
    words = truth[source].copy()
    owner = np.repeat(np.arange(len(tasks)), lengths)
    # A spammer's answer: another task's words.
    words[spammer[owner]] = truth[rng.integers(0, len(truth), int(spammer[owner].sum()))]
    draw = rng.random(len(words))
    rate = error[owner]
    substituted = draw < 0.6 * rate
    deleted = (draw >= 0.6 * rate) & (draw < 0.8 * rate)
    inserted = (draw >= 0.8 * rate) & (draw < rate)
    words[substituted] = _zipf_words(rng, int(substituted.sum()), vocabulary)
    keep = ~deleted
    # Every word becomes one or two slots: itself (unless deleted), then an inserted word after it if drawn.
    count = keep.astype(np.int64) + inserted
    out = np.empty(int(count.sum()), dtype=np.int64)
    ends = np.cumsum(count)
    out[(ends - count)[keep]] = words[keep]
    out[(ends - 1)[inserted]] = _zipf_words(rng, int(inserted.sum()), vocabulary)
    per_answer = np.bincount(owner, weights=count, minlength=len(tasks)).astype(np.int64)
    return out, np.concatenate([[0], np.cumsum(per_answer)])


JOBS: dict[str, Callable[[], tuple[Callable[[], Any], Callable[[Any], Measured]]]] = {
    "multi_choice": multi_choice,
    "text": text,
    "number": number,
    "pairwise": pairwise,
}


def measure(name: str) -> Measured:
    """Run one job's engine once: seconds (wall and CPU), peak RSS, and its quality against the truth."""
    run, quality = JOBS[name]()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    wall, cpu = time.perf_counter(), time.process_time()
    result = run()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB
    return {"seconds": wall, "cpu_seconds": cpu, "peak_mb": peak, "before_mb": before, **quality(result)}

"""Synthetic jobs of 1M answers per answer type, for ``bench/answer_types.py``: time and peak memory of the engine.

Each job is generated from a fixed seed and saved to a ``.npz`` file; a fresh process loads it, builds the engine's
input (outside the clock), and runs the engine once. The clock covers the engine call from integer arrays to the
result (what ``marketplace.services`` will call); the peak RSS is that process's high-water mark (interpreter,
NumPy/SciPy, the job's arrays and the engine's work; Linux ``VmHWM``), "before" that mark once the job is
loaded and the engine's input built.

- ``multi_choice``: 100,000 tasks x 10 answers, 10 classes each applying with probability 0.2; 2,000 workers with
  sensitivity in [0.6, 0.95] and specificity in [0.85, 0.99]; 10% of them tick at random (0.3 / 0.7).
- ``text``: 142,858 tasks x 7 answers = 1,000,006 answers; sentences of 3 + Poisson(12) words (15 on average) from a
  Zipf vocabulary of 20,000; 5,000 workers with a word error rate in [0.02, 0.3] (60% substitutions, 20% deletions,
  20% insertions); 5% of them type another task's sentence.
- ``number``: 100,000 tasks x 10 answers, truth uniform in [0, 100]; 2,000 workers with a bias ~ N(0, 5) and a noise
  sd in [2, 20]; 5% answer uniformly at random.
- ``pairwise``: 200,000 pairs of 50,000 items x 5 answers; scores ~ N(0, 1.5); 2,000 workers reporting the
  Bradley-Terry draw with probability η in [0.7, 0.98], 5% of them adversarial (η = 0.2).
"""

from __future__ import annotations

import resource
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

Measured = dict[str, Any]
Arrays = dict[str, npt.NDArray[Any]]
Ints = npt.NDArray[np.int64]


def _spread_workers(rng: np.random.Generator, n_tasks: int, per_task: int, n_workers: int) -> tuple[Ints, Ints]:
    """Distinct workers per task: start + j * stride (mod W) with stride * (per_task - 1) < W."""
    start = rng.integers(0, n_workers, n_tasks)
    stride = rng.integers(1, n_workers // per_task, n_tasks)
    workers = (start[:, None] + stride[:, None] * np.arange(per_task)) % n_workers
    return np.repeat(np.arange(n_tasks), per_task), workers.ravel()


def gen_multi_choice(rng: np.random.Generator) -> Arrays:
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
    sizes = np.array([n_tasks, n_workers, k])
    return {"tasks": tasks, "workers": workers, "answer": answer, "klass": klass, "truth": truth, "sizes": sizes}


def gen_number(rng: np.random.Generator) -> Arrays:
    n_tasks, per_task, n_workers = 100_000, 10, 2_000
    truth = rng.uniform(0, 100, n_tasks)
    tasks, workers = _spread_workers(rng, n_tasks, per_task, n_workers)
    bias, noise = rng.normal(0, 5, n_workers), rng.uniform(2, 20, n_workers)
    values = truth[tasks] + bias[workers] + rng.normal(0, 1, len(tasks)) * noise[workers]
    spammer = (rng.random(n_workers) < 0.05)[workers]
    values[spammer] = rng.uniform(0, 100, int(spammer.sum()))
    sizes = np.array([n_tasks, n_workers])
    return {"tasks": tasks, "workers": workers, "values": values, "truth": truth, "sizes": sizes}


def gen_pairwise(rng: np.random.Generator) -> Arrays:
    n_items, n_pairs, per_task, n_workers = 50_000, 200_000, 5, 2_000
    scores = rng.normal(0, 1.5, n_items)
    left = rng.integers(0, n_items, n_pairs)
    right = (left + rng.integers(1, n_items, n_pairs)) % n_items
    tasks, workers = _spread_workers(rng, n_pairs, per_task, n_workers)
    eta = rng.uniform(0.7, 0.98, n_workers)
    eta[rng.random(n_workers) < 0.05] = 0.2
    left_first = rng.random(len(tasks)) < 1 / (1 + np.exp(scores[right[tasks]] - scores[left[tasks]]))
    honest = rng.random(len(tasks)) < eta[workers]
    outcomes = np.where(left_first == honest, 1, -1)
    sizes = np.array([n_pairs, n_workers, n_items])
    return {
        "tasks": tasks,
        "workers": workers,
        "left": left,
        "right": right,
        "outcomes": outcomes,
        "truth": scores,
        "sizes": sizes,
    }


def gen_text(rng: np.random.Generator) -> Arrays:
    n_tasks, per_task, n_workers, vocabulary = 142_858, 7, 5_000, 20_000
    lengths = 3 + rng.poisson(12, n_tasks)
    truth_offsets = np.concatenate([[0], np.cumsum(lengths)])
    truth = _zipf_words(rng, int(lengths.sum()), vocabulary)
    tasks, workers = _spread_workers(rng, n_tasks, per_task, n_workers)
    error = rng.uniform(0.02, 0.3, n_workers)
    spammer = rng.random(n_workers) < 0.05
    tokens, offsets = _noisy_copies(rng, truth, truth_offsets, tasks, error[workers], spammer[workers], vocabulary)
    sizes = np.array([n_tasks, n_workers, vocabulary])
    return {
        "tasks": tasks,
        "workers": workers,
        "tokens": tokens,
        "offsets": offsets,
        "truth": truth,
        "truth_offsets": truth_offsets,
        "sizes": sizes,
    }


def _zipf_words(rng: np.random.Generator, size: int, vocabulary: int) -> Ints:
    weights = 1.0 / np.arange(1, vocabulary + 1)
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
    from marketplace.aggregation.packed import ranges

    lengths = np.diff(truth_offsets)[tasks]
    words = truth[ranges(truth_offsets[tasks], lengths)]
    owner = np.repeat(np.arange(len(tasks)), lengths)
    words[spammer[owner]] = truth[rng.integers(0, len(truth), int(spammer[owner].sum()))]  # another task's words
    draw = rng.random(len(words))
    rate = error[owner]
    substituted = draw < 0.6 * rate
    deleted = (draw >= 0.6 * rate) & (draw < 0.8 * rate)
    inserted = (draw >= 0.8 * rate) & (draw < rate)
    words[substituted] = _zipf_words(rng, int(substituted.sum()), vocabulary)
    keep = ~deleted
    # Every word becomes up to two: itself (unless deleted), then an inserted word after it if drawn.
    count = keep.astype(np.int64) + inserted
    out = np.empty(int(count.sum()), dtype=np.int64)
    ends = np.cumsum(count)
    out[(ends - count)[keep]] = words[keep]
    out[(ends - 1)[inserted]] = _zipf_words(rng, int(inserted.sum()), vocabulary)
    per_answer = np.bincount(owner, weights=count, minlength=len(tasks)).astype(np.int64)
    return out, np.concatenate([[0], np.cumsum(per_answer)])


def run_multi_choice(a: Arrays) -> tuple[Callable[[], Any], Callable[[Any], Measured]]:
    from marketplace.aggregation.binary_relevance import MultiLabelAnswers, multi_label_ds

    n_tasks, n_workers, k = a["sizes"].tolist()
    answers = MultiLabelAnswers(a["tasks"], a["workers"], n_tasks, n_workers, a["answer"], a["klass"], k)
    return (lambda: multi_label_ds(answers)), (lambda r: {"accuracy": float((r.labels == a["truth"]).mean())})


def run_number(a: Arrays) -> tuple[Callable[[], Any], Callable[[Any], Measured]]:
    from marketplace.aggregation.numeric import NumericAnswers, bias_noise_em

    n_tasks, n_workers = a["sizes"].tolist()
    answers = NumericAnswers(a["tasks"], a["workers"], n_tasks, n_workers, a["values"])
    mean = np.bincount(a["tasks"], a["values"], n_tasks) / np.bincount(a["tasks"], minlength=n_tasks)

    def quality(r: Any) -> Measured:
        return {"mae": float(np.abs(r.values - a["truth"]).mean()), "mean_mae": float(np.abs(mean - a["truth"]).mean())}

    return (lambda: bias_noise_em(answers)), quality


def run_pairwise(a: Arrays) -> tuple[Callable[[], Any], Callable[[Any], Measured]]:
    from scipy.stats import spearmanr

    from marketplace.aggregation.bradley_terry import PairwiseAnswers, crowd_bradley_terry

    n_pairs, n_workers, n_items = a["sizes"].tolist()
    answers = PairwiseAnswers(
        a["tasks"], a["workers"], n_pairs, n_workers, a["left"], a["right"], a["outcomes"], n_items
    )
    return (lambda: crowd_bradley_terry(answers)), (
        lambda r: {"spearman": float(spearmanr(r.scores, a["truth"]).statistic)}
    )


def run_text(a: Arrays) -> tuple[Callable[[], Any], Callable[[Any], Measured]]:
    from marketplace.aggregation.alignment import distances
    from marketplace.aggregation.packed import Packed
    from marketplace.aggregation.text_consensus import TextAnswers, text_consensus

    n_tasks, n_workers, vocabulary = a["sizes"].tolist()
    answers = TextAnswers(a["tasks"], a["workers"], n_tasks, n_workers, a["tokens"], a["offsets"], vocabulary)

    def quality(r: Any) -> Measured:
        sample = np.arange(0, n_tasks, 50)
        truth = Packed(a["truth"], a["truth_offsets"])
        errors = distances(Packed(r.tokens, r.offsets), truth, sample, sample).sum()
        return {"wer_sample": float(errors / truth.lengths[sample].sum())}

    return (lambda: text_consensus(answers)), quality


JOBS: dict[
    str,
    tuple[
        Callable[[np.random.Generator], Arrays], Callable[[Arrays], tuple[Callable[[], Any], Callable[[Any], Measured]]]
    ],
] = {
    "multi_choice": (gen_multi_choice, run_multi_choice),
    "text": (gen_text, run_text),
    "number": (gen_number, run_number),
    "pairwise": (gen_pairwise, run_pairwise),
}


def generate(name: str, path: Path, seed: int = 7) -> None:
    np.savez(path, **JOBS[name][0](np.random.default_rng(seed)))


def _high_water_mb() -> float:
    """This process's peak resident memory (Linux ``VmHWM``): unlike ``ru_maxrss``, it starts afresh at exec, so a
    child does not inherit the peak of the process that started it."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(name: str, path: Path) -> Measured:
    """Load one job, run its engine once: seconds (wall and CPU), peak RSS, quality against the truth."""
    with np.load(path) as loaded:
        arrays = {key: loaded[key] for key in loaded.files}
    run, quality = JOBS[name][1](arrays)
    before = _high_water_mb()
    wall, cpu = time.perf_counter(), time.process_time()
    result = run()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    peak = _high_water_mb()
    n_answers = len(arrays["tasks"])
    return {
        "seconds": wall,
        "cpu_seconds": cpu,
        "peak_mb": peak,
        "before_mb": before,
        "answers": n_answers,
        **quality(result),
    }

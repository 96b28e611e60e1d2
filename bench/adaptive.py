"""Adaptive overlap on crowds fitted to real data, with and without a model as an annotator.

    .venv/bin/python bench/adaptive.py [--datasets ../shared/datasets] [--sets bluebirds ...] [--items 2000]
                                       [--seeds 3] [--targets 0.8 0.9]

For every single-choice set at the top level of ``--datasets`` (a folder with ``answers.csv`` and ``truth.csv``):

1. **The crowd, fitted to the set**: each worker's confusion matrix from their answers on the tasks with a known
   truth (counts plus two pseudo-answers per row at the crowd's pooled confusion, so a worker seen on few items
   looks like the crowd), each worker's share of the answers as in the data, the classes as frequent as in the
   truth.
2. **The job**: ``--items`` items of one item per micro-task; every answer the crowd could give is drawn up front
   (up to 11 distinct workers per item, picked by their share), and so is each simulated model's prediction. Two
   models per accuracy (85% and 70%): one whose score says nothing (right with its accuracy on every item, its
   mistakes a uniformly drawn other class), and a *scored* one whose confidence on each item is drawn
   (``1/K + (1 - 1/K) * Beta``, concentration 2, averaging the accuracy) and which is right with that confidence (a
   calibrated model). Policies differ only in how many of those answers they pay for (common random numbers): the
   difference is the policy, not the draw.
3. **Policies**, each aggregated by Dawid-Skene as the marketplace does: fixed overlap 1 to 11 (the reference curve);
   adaptive overlap (``marketplace.aggregation.overlap_targets``: an item stops when its confidence reaches the
   target, one more answer per round otherwise) from 2 to 7 answers; and the same from 1 to 7 answers with each
   model as an annotator as the marketplace enters it (one per score band, ``score_bands``; never paid: the paid
   answers are people's). No gold: the model earns its weight from agreement with the crowd alone.

Printed per set, averaged over ``--seeds`` draws: paid answers per item, against fixed overlap 5, and accuracy
against the truth, with its difference from fixed overlap 5; the share right of the items an adaptive policy stopped
at its confidence target (issue #23: at least the target minus 2 points); then the answers fixed overlap needs for
the policy's
accuracy (interpolated between fixed 1 and 11: ``>11`` past it) and the saving at that equal accuracy. The targets:
adaptive overlap ≥ 30% fewer answers than fixed 5 at equal accuracy (within 0.3 point; issue #23), and with a model
≥ 50% fewer (issue #24). One confidence target for every set (``--targets`` prints several side by side): no
tuning per set.
"""

from __future__ import annotations

import argparse
import csv
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt

from marketplace.aggregation import Answers, dawid_skene, initial_overlap_targets, overlap_targets
from marketplace.aggregation.score_bands import MAX_BANDS, score_bands

IntArray = npt.NDArray[np.int64]
DEPTH = 7  # the most answers a policy pays for on an item
FIXED_DEPTH = 11  # fixed overlap is run up to here: the reference curve for a policy more accurate than fixed 7
POOLED_PSEUDO_ANSWERS = 2.0
MODELS = (0.85, 0.70)
# A scored model's confidence on an item: 1/K + (1 - 1/K) * Beta with this concentration (alpha + beta), its mean set
# so that the confidences average the model's accuracy; the model is right with its confidence (calibrated).
SCORE_CONCENTRATION = 2.0


@dataclass(frozen=True)
class Model:
    accuracy: float
    scored: bool  # False: every prediction has one score (the score tells nothing)

    def __str__(self) -> str:
        return f"model {self.accuracy:.0%}{', scored' if self.scored else ''}"


@dataclass(frozen=True)
class Predictions:
    labels: IntArray  # (n,)
    scores: np.ndarray  # (n,)


@dataclass(frozen=True)
class FittedCrowd:
    name: str
    confusions: np.ndarray  # (W, K, K): P(answer | truth)
    share: np.ndarray  # (W,)
    class_prior: np.ndarray  # (K,)


@dataclass(frozen=True)
class Draw:
    truth: IntArray  # (n,)
    workers: IntArray  # (n, FIXED_DEPTH): distinct workers per item, in the order they answer
    labels: IntArray  # (n, FIXED_DEPTH)
    models: dict[Model, Predictions]
    n_workers: int
    n_classes: int


@dataclass(frozen=True)
class Outcome:
    paid: float  # answers per item
    accuracy: float  # percent
    settled_right: float = float("nan")  # percent right among the items that stopped at the confidence target


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def fit_crowd(folder: Path) -> FittedCrowd:
    answers, truth = _read(folder / "answers.csv"), {r["task"]: r["label"] for r in _read(folder / "truth.csv")}
    classes = sorted({r["label"] for r in answers} | set(truth.values()))
    workers = sorted({r["worker"] for r in answers})
    k, index, worker_index = len(classes), {c: i for i, c in enumerate(classes)}, {w: i for i, w in enumerate(workers)}
    counts = np.zeros((len(workers), k, k))
    per_worker = np.zeros(len(workers))
    for row in answers:
        w = worker_index[row["worker"]]
        per_worker[w] += 1
        if row["task"] in truth:
            counts[w, index[truth[row["task"]]], index[row["label"]]] += 1
    pooled = counts.sum(axis=0) + 1.0
    pooled /= pooled.sum(axis=1, keepdims=True)
    smoothed = counts + POOLED_PSEUDO_ANSWERS * pooled[None]
    confusions = smoothed / smoothed.sum(axis=2, keepdims=True)
    prior = np.bincount([index[c] for c in truth.values()], minlength=k) + 1.0
    return FittedCrowd(folder.name, confusions, per_worker / per_worker.sum(), prior / prior.sum())


def draw(crowd: FittedCrowd, n_items: int, seed: int) -> Draw:
    rng = np.random.default_rng(seed)
    n_workers, k = crowd.confusions.shape[0], crowd.confusions.shape[1]
    truth = rng.choice(k, size=n_items, p=crowd.class_prior)
    keys = np.log(crowd.share)[None, :] + rng.gumbel(size=(n_items, n_workers))  # weighted, without replacement
    workers = np.argsort(-keys, axis=1)[:, :FIXED_DEPTH].astype(np.int64)
    cumulative = crowd.confusions[workers, truth[:, None]].cumsum(axis=2)
    labels = np.minimum((rng.random((n_items, workers.shape[1], 1)) > cumulative).sum(axis=2), k - 1).astype(np.int64)
    models = {}
    for accuracy in MODELS:
        for scored in (False, True):
            if scored:
                mean = (accuracy - 1 / k) / (1 - 1 / k)
                a, b = SCORE_CONCENTRATION * mean, SCORE_CONCENTRATION * (1 - mean)
                scores = 1 / k + (1 - 1 / k) * rng.beta(a, b, size=n_items)
            else:
                scores = np.full(n_items, accuracy)
            wrong = (truth + rng.integers(1, k, size=n_items)) % k
            right = rng.random(n_items) < scores
            models[Model(accuracy, scored)] = Predictions(np.where(right, truth, wrong).astype(np.int64), scores)
    return Draw(truth, workers, labels, models, n_workers, k)


def collected(job: Draw, counts: IntArray, model: Model | None) -> Answers:
    """The first ``counts[i]`` answers of each item, and the model's prediction on every item: one annotator per
    score band (workers W, W + 1, ...), as the marketplace enters a model."""
    n = len(job.truth)
    keep = np.arange(job.workers.shape[1])[None, :] < counts[:, None]
    items = np.broadcast_to(np.arange(n)[:, None], keep.shape)[keep]
    workers, labels = job.workers[keep], job.labels[keep]
    if model is not None:
        predictions = job.models[model]
        bands = np.asarray(score_bands(["model"] * n, predictions.scores.tolist()))
        items = np.concatenate([items, np.arange(n)])
        workers = np.concatenate([workers, job.n_workers + bands])
        labels = np.concatenate([labels, predictions.labels])
    return Answers(
        tasks=items,
        workers=workers,
        labels=labels,
        n_tasks=n,
        n_workers=job.n_workers + MAX_BANDS,
        n_classes=job.n_classes,
    )


def run_fixed(job: Draw, overlap: int) -> Outcome:
    counts = np.full(len(job.truth), overlap, dtype=np.int64)
    return _outcome(job, counts, dawid_skene(collected(job, counts, None)).labels)


def run_adaptive(job: Draw, *, overlap_min: int, target: float, model: Model | None) -> Outcome:
    """Round after round: aggregate, then one more answer for every item below the target, until none moves."""
    n = len(job.truth)
    counts = initial_overlap_targets(n, overlap_min=overlap_min)
    posteriors = None
    while True:
        result = dawid_skene(collected(job, counts, model), init_posteriors=posteriors)
        posteriors = result.posteriors
        grown = overlap_targets(
            confidence=result.confidence,
            answer_counts=counts,
            task_of_item=np.arange(n),
            current_targets=counts,
            overlap_min=overlap_min,
            overlap_max=DEPTH,
            confidence_target=target,
        )
        if (grown == counts).all():
            settled = result.confidence >= target
            right = float((result.labels[settled] == job.truth[settled]).mean() * 100) if settled.any() else 0.0
            return replace(_outcome(job, counts, result.labels), settled_right=right)
        counts = grown


def _outcome(job: Draw, counts: IntArray, labels: IntArray) -> Outcome:
    return Outcome(float(counts.mean()), float((labels == job.truth).mean() * 100))


def bench_set(crowd: FittedCrowd, *, n_items: int, seeds: int, targets: list[float]) -> None:
    policies: dict[str, list[Outcome]] = {}

    def note(name: str, outcome: Outcome) -> None:
        policies.setdefault(name, []).append(outcome)

    started = time.perf_counter()
    for seed in range(seeds):
        job = draw(crowd, n_items, seed)
        for overlap in range(1, job.workers.shape[1] + 1):
            note(f"fixed {overlap}", run_fixed(job, overlap))
        for target in targets:
            note(f"adaptive 2-7 at {target}", run_adaptive(job, overlap_min=2, target=target, model=None))
        for model in job.models:
            for target in targets:
                outcome = run_adaptive(job, overlap_min=1, target=target, model=model)
                note(f"{model} + adaptive 1-7 at {target}", outcome)
    seconds = time.perf_counter() - started
    reference = _mean(policies["fixed 5"])
    depth = sum(name.startswith("fixed") for name in policies)
    curve = np.maximum.accumulate([_mean(policies[f"fixed {k}"]).accuracy for k in range(1, depth + 1)])
    print(f"\n{crowd.name} ({crowd.confusions.shape[0]} workers, {crowd.confusions.shape[1]} classes fitted; "
          f"{n_items} items x {seeds} draws; {seconds:.1f} s)")  # fmt: skip
    print(
        f"  {'policy':<40} {'paid/item':>9} {'vs fixed 5':>10} {'accuracy':>9} {'vs fixed 5':>10}"
        f" {'fixed for it':>12} {'saving there':>12} {'settled right':>13}"
    )
    for name, outcomes in policies.items():
        if name.startswith("fixed") and name not in ("fixed 3", "fixed 5", "fixed 7", f"fixed {depth}"):
            continue
        mean = _mean(outcomes)
        saving = 1 - mean.paid / reference.paid
        if mean.accuracy > curve[-1]:
            fixed, there = f"{'>' + str(depth):>12}", f"{'>=' + format(1 - mean.paid / depth, '.0%'):>12}"
        else:
            needed = float(np.interp(mean.accuracy, curve, np.arange(1, depth + 1)))
            fixed, there = f"{needed:12.2f}", f"{1 - mean.paid / needed:12.0%}"
        settled = f"{mean.settled_right:12.2f}%" if mean.settled_right == mean.settled_right else " " * 13
        print(
            f"  {name:<40} {mean.paid:9.2f} {-saving:+10.0%} {mean.accuracy:8.2f}% "
            f"{mean.accuracy - reference.accuracy:+9.2f} {fixed} {there} {settled}"
        )


def _mean(outcomes: list[Outcome]) -> Outcome:
    return Outcome(
        float(np.mean([o.paid for o in outcomes])),
        float(np.mean([o.accuracy for o in outcomes])),
        float(np.mean([o.settled_right for o in outcomes])),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "datasets")
    parser.add_argument("--sets", nargs="*", help="folder names (default: every single-choice set)")
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--targets", type=float, nargs="+", default=[0.8, 0.9])
    args = parser.parse_args()
    folders = sorted(p for p in args.datasets.iterdir() if (p / "answers.csv").exists() and (p / "truth.csv").exists())
    for folder in folders:
        if args.sets and folder.name not in args.sets:
            continue
        bench_set(fit_crowd(folder), n_items=args.items, seeds=args.seeds, targets=args.targets)


if __name__ == "__main__":
    main()

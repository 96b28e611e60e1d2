"""Benchmark: our Dawid-Skene (marketplace.aggregation) against crowd-kit's DawidSkene. Run by hand:

    .venv/bin/pip install -e '.[bench]'        # crowd-kit and psutil
    .venv/bin/python bench/aggregate.py [--sizes 1m,10m] [--skip-crowdkit-10m] [--skip-real]

Synthetic jobs: 10 answers per task from 10 distinct workers, 5 classes, 10% of the workers spammers (uniform
answers), the others with a full confusion matrix whose per-class accuracy is drawn in [0.55, 0.95] and whose
errors are spread unevenly (Dirichlet); fixed seed. 1M answers = 100,000 tasks x 10 by 2,000 workers; 10M
answers = 1,000,000 tasks x 10 by 20,000 workers.

What is measured, each method in a fresh subprocess that loads the same int32 arrays from .npy files:
- end to end (best of 3 runs at 1M, one run at 10M): from the integer arrays to the labels (ours: Answers
  + dawid_skene with default options; crowd-kit: DawidSkene(n_iter=100).fit_predict on a DataFrame of the same
  integer columns, built beforehand, outside the timing);
- time per EM iteration: (time for N2 iterations - time for N1 iterations) / (N2 - N1) with the tolerance
  disabled, so set-up (sparse matrices, majority-vote start) cancels out (each the best of 3 runs at 1M);
- peak memory: the subprocess's ru_maxrss right after the end-to-end run: the whole process (interpreter,
  NumPy/SciPy or pandas, the input arrays) at its high-water mark; "before" is its RSS just before the run.
Then each real data set of shared/datasets: accuracy of majority vote, our DS and crowd-kit's DS, iterations.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

REPO = Path(__file__).resolve().parents[1]
DATASETS = REPO.parent / "shared" / "datasets"
MB = 1024 * 1024
Measured = dict[str, Any]  # one measurement subprocess's JSON figures


@dataclass(frozen=True)
class Job:
    name: str
    n_tasks: int
    per_task: int
    n_workers: int
    n_classes: int = 5
    spammers: float = 0.10
    seed: int = 7


JOBS = {
    "1m": Job("1M answers", n_tasks=100_000, per_task=10, n_workers=2_000),
    "10m": Job("10M answers", n_tasks=1_000_000, per_task=10, n_workers=20_000),
}


def worker_confusions(rng: np.random.Generator, job: Job) -> npt.NDArray[np.float64]:
    """``(W, K, K)`` rows summing to 1: spammers uniform, the others accurate in [0.55, 0.95] per class."""
    k = job.n_classes
    accuracy = rng.uniform(0.55, 0.95, size=(job.n_workers, k))
    errors = rng.gamma(1.0, size=(job.n_workers, k, k)) * (1 - np.eye(k))
    errors *= ((1 - accuracy) / errors.sum(axis=2))[:, :, None]
    confusion = errors + np.eye(k) * accuracy[:, :, None]
    spammer = rng.random(job.n_workers) < job.spammers
    confusion[spammer] = 1.0 / k
    return confusion


def generate(job: Job, out: Path) -> None:
    rng = np.random.default_rng(job.seed)
    truth = rng.integers(0, job.n_classes, job.n_tasks).astype(np.int32)
    cumulative = worker_confusions(rng, job).cumsum(axis=2)
    # Distinct workers per task: start + j * stride (mod W) with stride * (per_task - 1) < W.
    start = rng.integers(0, job.n_workers, job.n_tasks)
    stride = rng.integers(1, job.n_workers // job.per_task, job.n_tasks)
    workers = ((start[:, None] + stride[:, None] * np.arange(job.per_task)) % job.n_workers).astype(np.int32)
    workers = workers.ravel()
    tasks = np.repeat(np.arange(job.n_tasks, dtype=np.int32), job.per_task)
    labels = np.empty(len(tasks), dtype=np.int32)
    for begin in range(0, len(tasks), 1_000_000):  # chunks bound the generator's memory
        part = slice(begin, begin + 1_000_000)
        rows = cumulative[workers[part], truth[tasks[part]]]
        drawn = (rng.random((len(rows), 1)) > rows).sum(axis=1)
        labels[part] = np.minimum(drawn, job.n_classes - 1)
    for name, array in (("tasks", tasks), ("workers", workers), ("labels", labels), ("truth", truth)):
        np.save(out / f"{name}.npy", array)
    (out / "job.json").write_text(json.dumps(job.__dict__))


def _load(data: Path) -> tuple[Job, dict[str, npt.NDArray[np.int32]]]:
    job = Job(**json.loads((data / "job.json").read_text()))
    return job, {name: np.load(data / f"{name}.npy") for name in ("tasks", "workers", "labels", "truth")}


def _timed(run: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = run()
    return time.perf_counter() - started, value


def _best(run: Callable[[], Any], repeats: int) -> float:
    # The fastest of a few runs: the figure least disturbed by whatever else the machine is doing.
    return min(_timed(run)[0] for _ in range(repeats))


def _repeats(job: Job) -> int:
    return 3 if job.n_tasks * job.per_task <= 1_000_000 else 1


def _peak_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def _rss_mb() -> float:
    import psutil

    return float(psutil.Process().memory_info().rss) / MB


def measure_ours(data: Path) -> Measured:
    from marketplace.aggregation import Answers, dawid_skene, majority_vote

    job, arrays = _load(data)
    truth = arrays.pop("truth")
    before = _rss_mb()

    def run(**options: Any) -> Any:
        answers = Answers(**arrays, n_tasks=job.n_tasks, n_workers=job.n_workers, n_classes=job.n_classes)
        return dawid_skene(answers, **options)

    total, result = _timed(run)
    peak = _peak_mb()
    total = min(total, _best(run, _repeats(job) - 1)) if _repeats(job) > 1 else total
    short = _best(lambda: run(max_iter=2, tol=0.0), _repeats(job))
    long = _best(lambda: run(max_iter=12, tol=0.0), _repeats(job))
    answers = Answers(**arrays, n_tasks=job.n_tasks, n_workers=job.n_workers, n_classes=job.n_classes)
    return {
        "total": total,
        "per_iter": (long - short) / 10,
        "iterations": result.iterations,
        "converged": result.converged,
        "log_likelihood": result.log_likelihood,
        "accuracy": float((result.labels == truth).mean()),
        "mv_accuracy": float((majority_vote(answers).labels == truth).mean()),
        "peak_mb": peak,
        "before_mb": before,
    }


def measure_crowdkit(data: Path) -> Measured:
    import pandas as pd
    from crowdkit.aggregation import DawidSkene

    job, arrays = _load(data)
    truth = arrays.pop("truth")
    frame = pd.DataFrame({"task": arrays["tasks"], "worker": arrays["workers"], "label": arrays["labels"]})
    del arrays
    before = _rss_mb()
    model = DawidSkene(n_iter=100)
    total, labels = _timed(lambda: model.fit_predict(frame))
    peak = _peak_mb()
    if _repeats(job) > 1:
        total = min(total, _best(lambda: DawidSkene(n_iter=100).fit_predict(frame), _repeats(job) - 1))
    # tol=-inf: crowd-kit stops when the loss gain is < tol, so this forces exactly n_iter iterations.
    short = _best(lambda: DawidSkene(n_iter=1, tol=-np.inf).fit(frame), _repeats(job))
    long = _best(lambda: DawidSkene(n_iter=6, tol=-np.inf).fit(frame), _repeats(job))
    predicted = labels.reindex(np.arange(job.n_tasks)).to_numpy()
    return {
        "total": total,
        "per_iter": (long - short) / 5,
        "iterations": len(model.loss_history_),
        "accuracy": float((predicted == truth).mean()),
        "peak_mb": peak,
        "before_mb": before,
    }


def _subprocess(method: str, data: Path) -> Measured:
    command = [sys.executable, __file__, "--measure", method, "--data", str(data)]
    completed = subprocess.run(command, capture_output=True, text=True, check=False, cwd=REPO)
    if completed.returncode != 0:
        raise RuntimeError(f"{method} on {data} failed:\n{completed.stderr}")
    measured: Measured = json.loads(completed.stdout.strip().splitlines()[-1])
    return measured


def bench_synthetic(sizes: list[str], skip_crowdkit_10m: bool) -> list[tuple[Job, Measured, Measured | None]]:
    rows = []
    for size in sizes:
        job = JOBS[size]
        with tempfile.TemporaryDirectory() as tmp:
            generate(job, Path(tmp))
            ours = _subprocess("ours", Path(tmp))
            skip = size == "10m" and skip_crowdkit_10m
            theirs = None if skip else _subprocess("crowdkit", Path(tmp))
        rows.append((job, ours, theirs))
        print(f"  measured {job.name}", file=sys.stderr)
    return rows


def print_synthetic(rows: list[tuple[Job, Measured, Measured | None]]) -> None:
    print("\nSynthetic jobs: 5 classes, 10 answers per task, 10% spammers, seed 7")
    header = f"{'job':<12} {'method':<13} {'end-to-end s':>12} {'s/iteration':>11} {'iters':>5} "
    print(header + f"{'peak RSS MB':>11} {'RSS before':>10} {'accuracy':>8}")
    for job, ours, theirs in rows:
        for method, row in (("ours DS", ours), ("crowd-kit DS", theirs)):
            if row is None:
                print(f"{job.name:<12} {method:<13} {'(skipped)':>12}")
                continue
            print(
                f"{job.name:<12} {method:<13} {row['total']:>12.2f} {row['per_iter']:>11.4f} {row['iterations']:>5} "
                f"{row['peak_mb']:>11.0f} {row['before_mb']:>10.0f} {row['accuracy']:>8.2%}"
            )
        print(f"{job.name:<12} {'majority vote':<13} {'':>54} {ours['mv_accuracy']:>8.2%}")
    print("\nTargets")
    for job, ours, theirs in rows:
        for label, met in _targets(job, ours, theirs):
            print(f"  [{'met' if met else 'MISSED'}] {job.name}: {label}")


def _targets(job: Job, ours: Measured, theirs: Measured | None) -> list[tuple[str, bool]]:
    checks: list[tuple[str, bool]] = []
    if job.n_tasks * job.per_task == 1_000_000 and theirs is not None:
        per_iter = theirs["per_iter"] / ours["per_iter"]
        total = theirs["total"] / ours["total"]
        checks.append((f"per-iteration speed-up {per_iter:.1f}x (target >= 20x)", per_iter >= 20))
        checks.append((f"end-to-end speed-up {total:.1f}x (target >= 10x)", total >= 10))
    if theirs is not None:
        gap = (ours["accuracy"] - theirs["accuracy"]) * 100
        checks.append((f"accuracy {gap:+.2f} points vs crowd-kit (target >= 0)", gap >= 0))
    if job.n_tasks * job.per_task == 10_000_000:
        checks.append((f"end to end {ours['total']:.2f} s (target < 10 s)", ours["total"] < 10))
        checks.append((f"peak RSS {ours['peak_mb']:.0f} MB (target < 1536 MB)", ours["peak_mb"] < 1536))
    return checks


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def bench_real() -> None:
    print("\nReal data sets (accuracy over the tasks with a truth label)")
    print(
        f"{'dataset':<16} {'MV':>7} {'ours DS':>8} {'iters':>5} {'log-lik':>11} {'ours s':>7} "
        f"{'crowd-kit DS':>12} {'iters':>5} {'ck s':>6}"
    )
    for folder in sorted(p for p in DATASETS.iterdir() if (p / "answers.csv").exists()):
        print(_real_row(folder))


def _real_row(folder: Path) -> str:
    import pandas as pd
    from crowdkit.aggregation import DawidSkene

    from marketplace.aggregation import dawid_skene, encode_answers, encode_keys, majority_vote

    rows = _read_csv(folder / "answers.csv")
    columns = {name: [row[name] for row in rows] for name in ("task", "worker", "label")}
    answers, codebook = encode_answers(columns["task"], columns["worker"], columns["label"])
    truth = _read_csv(folder / "truth.csv")
    tasks = encode_keys([row["task"] for row in truth], codebook.tasks)
    labels = encode_keys([row["label"] for row in truth], codebook.classes)
    ours_s, ours = _timed(lambda: dawid_skene(answers))
    model = DawidSkene(n_iter=100)
    frame = pd.DataFrame(columns)
    ck_s, ck_labels = _timed(lambda: model.fit_predict(frame))
    ck = encode_keys(ck_labels.reindex(codebook.tasks).to_numpy().astype(str), codebook.classes)

    def acc(predicted: npt.NDArray[np.int64]) -> float:
        return float((predicted[tasks] == labels).mean())

    return (
        f"{folder.name:<16} {acc(majority_vote(answers).labels):>7.2%} {acc(ours.labels):>8.2%} "
        f"{ours.iterations:>5} {ours.log_likelihood:>11.2f} {ours_s:>7.3f} {acc(ck):>12.2%} "
        f"{len(model.loss_history_):>5} {ck_s:>6.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1m,10m", help="comma-separated: 1m, 10m")
    parser.add_argument("--skip-crowdkit-10m", action="store_true", help="crowd-kit at 10M: ~25 s, ~1.8 GB")
    parser.add_argument("--skip-real", action="store_true")
    parser.add_argument("--measure", choices=["ours", "crowdkit"], help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure = measure_ours if args.measure == "ours" else measure_crowdkit
        print(json.dumps(measure(args.data)))
        return
    sizes = [size.strip() for size in args.sizes.split(",") if size.strip()]
    print_synthetic(bench_synthetic(sizes, args.skip_crowdkit_10m))
    if not args.skip_real:
        bench_real()


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))  # run as a script from anywhere: make the project importable
    main()

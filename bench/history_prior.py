"""A worker's history as their prior, on the early part of a job (issue #23, item 5).

    .venv/bin/python bench/history_prior.py [--datasets ../shared/datasets] [--share 0.15] [--draws 10]

For every single-choice set at the top level of ``--datasets``: the answers in a random order (a draw), the first
``--share`` of them are "the early part of a job"; each worker's history is their accuracy against the truth on the
*other* tasks (none of the early part's), as a platform-wide record would be. Dawid-Skene on the early part, with
and without ``worker_prior_accuracy`` (each worker's history as the mean of their confusion prior; no record: the
default prior), side by side: accuracy on the early part's tasks with a truth, averaged over the draws.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np

from marketplace.aggregation import dawid_skene, encode_answers, encode_keys


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def bench_set(folder: Path, share: float, draws: int) -> tuple[float, float, float]:
    rows = _read(folder / "answers.csv")
    truth = {r["task"]: r["label"] for r in _read(folder / "truth.csv")}
    plain, seeded, known = [], [], []
    for draw in range(draws):
        order = np.random.default_rng(draw).permutation(len(rows))
        early = [rows[i] for i in order[: max(1, int(share * len(rows)))]]
        early_tasks = {r["task"] for r in early}
        answers, codebook = encode_answers(
            [r["task"] for r in early], [r["worker"] for r in early], [r["label"] for r in early]
        )
        history = _history(rows, truth, early_tasks, [str(w) for w in codebook.workers])
        tasks = [t for t in codebook.tasks if t in truth]
        task_codes = encode_keys(tasks, codebook.tasks)
        wanted = encode_keys([truth[t] for t in tasks], codebook.classes)
        for accuracy, target in ((None, plain), (history, seeded)):
            result = dawid_skene(answers, worker_prior_accuracy=accuracy)
            target.append(float((result.labels[task_codes] == wanted).mean() * 100))
        known.append(float(np.isfinite(history).mean() * 100))
    return float(np.mean(plain)), float(np.mean(seeded)), float(np.mean(known))


def _history(rows: list[dict[str, str]], truth: dict[str, str], early: set[str], workers: list[str]) -> np.ndarray:
    """Each worker's accuracy against the truth on the tasks outside the early part (NaN: none there)."""
    right: dict[str, int] = {}
    seen: dict[str, int] = {}
    for row in rows:
        if row["task"] in early or row["task"] not in truth:
            continue
        seen[row["worker"]] = seen.get(row["worker"], 0) + 1
        right[row["worker"]] = right.get(row["worker"], 0) + int(row["label"] == truth[row["task"]])
    return np.array([right[w] / seen[w] if seen.get(w) else np.nan for w in workers])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "datasets")
    parser.add_argument("--share", type=float, default=0.15)
    parser.add_argument("--draws", type=int, default=10)
    args = parser.parse_args()
    print(f"early part: the first {args.share:.0%} of the answers in a random order; {args.draws} draws")
    print(f"  {'set':<16} {'workers with a history':>22} {'Dawid-Skene':>12} {'with history':>13} {'gain':>7}")
    folders = sorted(p for p in args.datasets.iterdir() if (p / "answers.csv").exists() and (p / "truth.csv").exists())
    gains = []
    for folder in folders:
        plain, seeded, known = bench_set(folder, args.share, args.draws)
        gains.append(seeded - plain)
        print(f"  {folder.name:<16} {known:21.0f}% {plain:11.2f}% {seeded:12.2f}% {seeded - plain:+7.2f}")
    print(f"  mean gain {np.mean(gains):+.2f} points")


if __name__ == "__main__":
    main()

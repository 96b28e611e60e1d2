"""Benchmark: how good and how trustworthy each method's labels are on the real single-choice sets. Run by hand:

    .venv/bin/pip install -e '.[bench]'        # crowd-kit 1.4.x
    .venv/bin/python bench/quality.py [--sets bluebirds,snow_temp] [--skip-crowdkit] [--datasets /work/shared/datasets]

For every folder at the top level of shared/datasets with answers.csv and truth.csv (single choice), each method at
its default configuration, the same for every set (no per-set tuning), on the tasks that have a truth label:
- accuracy (%);
- ECE: expected calibration error of the confidence (the posterior of the chosen label), 10 equal-count bins;
- AUROC of confidence against correctness (does a higher confidence mean a likelier right label?);
- "tempered": the same fit, its log posterior divided by the temperature that best predicts held-out answers
  (marketplace.aggregation.calibration.tempered_posteriors: no truth used, labels unchanged); "chosen": the model
  marketplace.aggregation.model_choice.choose_model picks by 5-fold cross-validation over answers, tempered;
- seconds, end to end from the encoded answers (ours) or from a prepared DataFrame (crowd-kit).
ECE and AUROC are marketplace.aggregation.calibration's, tested in tests/aggregation/test_calibration.py.
A crowd-kit method without probabilities would get confidence 1 (none of the seven listed lacks them).
"""

from __future__ import annotations

import argparse
import csv
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from marketplace.aggregation import (
    Codebook,
    dawid_skene,
    encode_answers,
    encode_keys,
    majority_vote,
    one_coin_dawid_skene,
)
from marketplace.aggregation.calibration import auroc, expected_calibration_error, tempered_posteriors
from marketplace.aggregation.model_choice import MODELS, choose_model

REPO = Path(__file__).resolve().parents[1]
DATASETS = REPO.parent / "shared" / "datasets"
CROWDKIT_METHODS = ("MajorityVote", "Wawa", "DawidSkene", "OneCoinDawidSkene", "GLAD", "MACE", "ZeroBasedSkill")


@dataclass(frozen=True)
class Row:
    method: str
    accuracy: float
    ece: float
    auroc: float
    seconds: float


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def single_choice_sets(root: Path = DATASETS) -> list[Path]:
    """The top-level folders of ``root`` holding answers.csv and truth.csv (typed/ sits one level down)."""
    return sorted(p for p in root.iterdir() if (p / "answers.csv").exists() and (p / "truth.csv").exists())


def _score(
    method: str,
    seconds: float,
    labels: npt.NDArray[np.int64],
    confidence: npt.NDArray[np.float64],
    truth: tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]],
) -> Row:
    tasks, true_labels = truth
    correct = labels[tasks] == true_labels
    conf = np.clip(confidence[tasks], 0.0, 1.0)
    return Row(
        method, 100 * float(correct.mean()), expected_calibration_error(conf, correct), auroc(conf, correct), seconds
    )


@dataclass(frozen=True)
class _Tempered:
    labels: npt.NDArray[np.int64]
    confidence: npt.NDArray[np.float64]
    temperature: float
    model: str = ""


def _tempered(answers: Any, fit: Any) -> _Tempered:
    posteriors, tau = tempered_posteriors(answers, fit)
    return _Tempered(fit.labels, posteriors.max(axis=1), tau)


def _chosen(answers: Any) -> _Tempered:
    choice = choose_model(answers)
    tempered = _tempered(answers, MODELS[choice.model](answers))
    return _Tempered(tempered.labels, tempered.confidence, tempered.temperature, choice.model)


def _ours(columns: dict[str, list[str]], truth_rows: list[dict[str, str]]) -> tuple[list[Row], Codebook, Any]:
    answers, codebook = encode_answers(columns["task"], columns["worker"], columns["label"])
    truth = (
        encode_keys([r["task"] for r in truth_rows], codebook.tasks),
        encode_keys([r["label"] for r in truth_rows], codebook.classes),
    )
    methods: dict[str, Callable[[], Any]] = {
        "ours MV": lambda: majority_vote(answers),
        "ours one-coin DS": lambda: one_coin_dawid_skene(answers),
        "ours DS": lambda: dawid_skene(answers),
        "ours one-coin DS tempered": lambda: _tempered(answers, one_coin_dawid_skene(answers)),
        "ours DS tempered": lambda: _tempered(answers, dawid_skene(answers)),
        "ours chosen, tempered": lambda: _chosen(answers),
    }
    rows = []
    for name, run in methods.items():
        start = time.perf_counter()
        result = run()
        seconds = time.perf_counter() - start
        label = f"{name} ({result.model or 'tau'} {result.temperature:.2f})" if isinstance(result, _Tempered) else name
        rows.append(_score(label, seconds, result.labels, result.confidence, truth))
    return rows, codebook, truth


def _crowdkit(
    columns: dict[str, list[str]], codebook: Codebook, truth: tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]
) -> list[Row]:
    import crowdkit.aggregation as ck
    import pandas as pd

    frame = pd.DataFrame(columns)
    rows = []
    for name in CROWDKIT_METHODS:
        model = getattr(ck, name)()
        start = time.perf_counter()
        if hasattr(model, "fit_predict_proba"):
            proba = model.fit_predict_proba(frame)
            seconds = time.perf_counter() - start
            proba.columns = proba.columns.astype(str)
            matrix = proba.reindex(index=codebook.tasks, columns=codebook.classes).fillna(0.0).to_numpy(dtype=float)
            labels = matrix.argmax(axis=1).astype(np.int64)
            confidence = matrix.max(axis=1)
        else:
            predicted = model.fit_predict(frame)
            seconds = time.perf_counter() - start
            labels = encode_keys(predicted.reindex(codebook.tasks).to_numpy().astype(str), codebook.classes)
            confidence = np.ones(labels.shape)
        rows.append(_score(f"crowd-kit {name}", seconds, labels, confidence, truth))
    return rows


def bench_set(folder: Path, with_crowdkit: bool) -> list[Row]:
    answer_rows = _read_csv(folder / "answers.csv")
    columns = {name: [row[name] for row in answer_rows] for name in ("task", "worker", "label")}
    rows, codebook, truth = _ours(columns, _read_csv(folder / "truth.csv"))
    if with_crowdkit:
        rows += _crowdkit(columns, codebook, truth)
    return rows


def print_table(folder: Path, rows: list[Row]) -> None:
    best = (
        max(row.accuracy for row in rows if row.method.startswith("crowd-kit"))
        if any(r.method.startswith("crowd-kit") for r in rows)
        else None
    )
    header = f"\n{folder.name}" + (f"  (best crowd-kit accuracy {best:.2f}%)" if best is not None else "")
    print(header)
    print(f"  {'method':<42} {'acc %':>7} {'ECE':>7} {'AUROC':>7} {'s':>8}")
    for row in rows:
        print(f"  {row.method:<42} {row.accuracy:>7.2f} {row.ece:>7.3f} {row.auroc:>7.3f} {row.seconds:>8.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", default="", help="comma-separated folder names (default: all single-choice sets)")
    parser.add_argument("--skip-crowdkit", action="store_true")
    parser.add_argument("--datasets", type=Path, default=DATASETS, help="folder of sets (default: ../shared/datasets)")
    args = parser.parse_args()
    wanted = {name for name in args.sets.split(",") if name}
    for folder in single_choice_sets(args.datasets):
        if wanted and folder.name not in wanted:
            continue
        print_table(folder, bench_set(folder, not args.skip_crowdkit))


if __name__ == "__main__":
    main()

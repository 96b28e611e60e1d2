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
Then, per set, the same measures with gold ("with gold" table): a random share of the truth (GOLD_SHARE, at least
GOLD_FLOOR items; one rule for every set) acts as the job's gold, and accuracy, ECE and AUROC are measured on the
*other* truth items only, averaged over GOLD_SEEDS draws: DS without gold and tempered (today's figures on the same
items), DS with the gold clamped (what the marketplace runs) as is and tempered, and gold-calibrated
(marketplace.aggregation.gold_calibration: a temperature learned from cross-fitted gold). "floor" is the ECE a
perfectly calibrated confidence with the same values would still show on that many items (correctness drawn from
the confidence itself, mean of 200 draws): below it, a lower ECE is luck, not calibration. "gap" is mean confidence
minus accuracy (over-confidence when positive), "Brier" the mean squared error of the confidence against
correctness: a proper score with no bins, lower is better.
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
    class_one_coin_dawid_skene,
    dawid_skene,
    encode_answers,
    encode_keys,
    majority_vote,
    one_coin_dawid_skene,
)
from marketplace.aggregation.calibration import auroc, expected_calibration_error, tempered_posteriors
from marketplace.aggregation.gold_calibration import gold_calibrated_posteriors
from marketplace.aggregation.model_choice import MODELS, choose_model

REPO = Path(__file__).resolve().parents[1]
DATASETS = REPO.parent / "shared" / "datasets"
GOLD_SHARE, GOLD_FLOOR, GOLD_SEEDS = 0.10, 30, 20
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
        "ours class one-coin DS": lambda: class_one_coin_dawid_skene(answers),
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


@dataclass(frozen=True)
class GoldRow:
    method: str
    accuracy: float
    ece: float
    ece_max: float
    auroc: float
    floor: float
    gap: float
    brier: float
    temperature: float


def _ece_floor(confidence: npt.NDArray[np.float64], rng: np.random.Generator, draws: int = 200) -> float:
    """Mean ECE of a perfectly calibrated confidence with these values: correctness drawn from the confidence."""
    eces = [expected_calibration_error(confidence, rng.random(confidence.size) < confidence) for _ in range(draws)]
    return float(np.mean(eces))


Truth = tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]
Scored = tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], float]  # labels, confidence, temperature


def _gold_draw(answers: Any, truth: Truth, seed: int) -> tuple[Truth, dict[str, Scored]]:
    """One draw of gold: the held-out truth, and each method's labels, confidence and τ."""
    tasks, labels = truth
    count = min(tasks.size, max(GOLD_FLOOR, round(GOLD_SHARE * tasks.size)))
    is_gold = np.zeros(tasks.size, dtype=bool)
    is_gold[np.random.default_rng(seed).choice(tasks.size, count, replace=False)] = True
    gold = (tasks[is_gold], labels[is_gold])
    plain, clamped = dawid_skene(answers), dawid_skene(answers, gold=gold)
    plain_tempered, plain_tau = tempered_posteriors(answers, plain)
    clamped_tempered, clamped_tau = tempered_posteriors(answers, clamped)
    calibrated = gold_calibrated_posteriors(answers, clamped, gold)
    methods = {
        "DS, no gold": (plain.labels, plain.confidence, 1.0),
        "DS tempered, no gold": (plain.labels, plain_tempered.max(axis=1), plain_tau),
        "DS, gold clamped": (clamped.labels, clamped.confidence, 1.0),
        "DS, gold clamped, tempered": (clamped.labels, clamped_tempered.max(axis=1), clamped_tau),
        "DS, gold-calibrated": (calibrated.labels, calibrated.confidence, calibrated.temperature),
    }
    return (tasks[~is_gold], labels[~is_gold]), methods


def gold_bench(answers: Any, truth: Truth) -> list[GoldRow]:
    """The "with gold" table: each method's measures on the non-gold truth, averaged over GOLD_SEEDS draws."""
    scores: dict[str, list[tuple[float, ...]]] = {}
    rng = np.random.default_rng(0)
    for seed in range(GOLD_SEEDS):
        (tasks, true_labels), methods = _gold_draw(answers, truth, seed)
        for name, (labels, confidence, tau) in methods.items():
            correct = labels[tasks] == true_labels
            conf = np.clip(confidence[tasks], 0.0, 1.0)
            measures = (100 * correct.mean(), expected_calibration_error(conf, correct), auroc(conf, correct))
            level = (conf.mean() - correct.mean(), np.mean((conf - correct) ** 2))
            scores.setdefault(name, []).append((*measures, _ece_floor(conf, rng), *level, tau))
    rows = []
    for name, values in scores.items():
        table = np.array(values)
        mean = table.mean(axis=0)
        rows.append(GoldRow(name, mean[0], mean[1], table[:, 1].max(), mean[2], mean[3], mean[4], mean[5], mean[6]))
    return rows


def bench_set(folder: Path, with_crowdkit: bool) -> tuple[list[Row], list[GoldRow]]:
    answer_rows = _read_csv(folder / "answers.csv")
    columns = {name: [row[name] for row in answer_rows] for name in ("task", "worker", "label")}
    rows, codebook, truth = _ours(columns, _read_csv(folder / "truth.csv"))
    if with_crowdkit:
        rows += _crowdkit(columns, codebook, truth)
    answers, _ = encode_answers(columns["task"], columns["worker"], columns["label"])
    return rows, gold_bench(answers, truth)


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


def print_gold_table(rows: list[GoldRow]) -> None:
    print(f"  with gold ({GOLD_SHARE:.0%} of the truth, at least {GOLD_FLOOR}; {GOLD_SEEDS} draws; the rest measured)")
    columns = f"{'ECE':>6} {'max':>6} {'floor':>6} {'gap':>7} {'Brier':>6} {'AUROC':>6} {'tau':>6}"
    print(f"  {'method':<30} {'acc %':>7} {columns}")
    for r in rows:
        ece = f"{r.ece:>6.3f} {r.ece_max:>6.3f} {r.floor:>6.3f} {r.gap:>+7.3f}"
        print(f"  {r.method:<30} {r.accuracy:>7.2f} {ece} {r.brier:>6.3f} {r.auroc:>6.3f} {r.temperature:>6.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", default="", help="comma-separated folder names (default: all single-choice sets)")
    parser.add_argument("--skip-crowdkit", action="store_true")
    parser.add_argument("--datasets", type=Path, default=DATASETS, help="folder of sets (default: ../shared/datasets)")
    args = parser.parse_args()
    wanted = {name for name in args.sets.split(",") if name}
    summary = []
    for folder in single_choice_sets(args.datasets):
        if wanted and folder.name not in wanted:
            continue
        rows, gold_rows = bench_set(folder, not args.skip_crowdkit)
        print_table(folder, rows)
        print_gold_table(gold_rows)
        summary.append((folder.name, rows, gold_rows))
    print_summary(summary)


def print_summary(summary: list[tuple[str, list[Row], list[GoldRow]]]) -> None:
    """Side by side: today's DS and tempered DS (all the truth), and gold-calibrated (the truth that was not gold)."""
    print(
        f"\nsummary: accuracy % / ECE; gold-calibrated on the non-gold truth, mean of {GOLD_SEEDS} draws (max, floor)"
    )
    print(f"  {'set':<16} {'DS':>14} {'DS tempered':>14} {'gold-calibrated':>16} {'(max, floor)':>14}")
    for name, rows, gold_rows in summary:
        by_name = {row.method.split(" (")[0]: row for row in rows}
        ds, tempered, gold = by_name["ours DS"], by_name["ours DS tempered"], gold_rows[-1]
        print(
            f"  {name:<16} {ds.accuracy:>7.2f} / {ds.ece:.3f} {tempered.accuracy:>7.2f} / {tempered.ece:.3f}"
            f" {gold.accuracy:>9.2f} / {gold.ece:.3f}   ({gold.ece_max:.3f}, {gold.floor:.3f})"
        )


if __name__ == "__main__":
    main()

"""Benchmark: the engine of each answer type against its references, on real data and on 1M-answer jobs. By hand:

    .venv/bin/pip install -e '.[bench]'        # crowd-kit and psutil
    .venv/bin/python bench/answer_types.py [--types multi_choice,text,number,pairwise] [--skip-slow] [--skip-synthetic]

Real sets (``shared/datasets/typed``, see each README), side by side in one run, every method with its default
configuration (the same for every set), timed end to end from the answers as keys and values (ours through its
answer type: encoding included; crowd-kit from a DataFrame built beforehand):

- multi_choice, ct_medical_relex: micro-F1 over the (task, label) pairs that have gold (causes, treats); ours
  (per-class DS sharing worker quality), per-class majority, crowd-kit BinaryRelevance(MajorityVote) and
  BinaryRelevance(DawidSkene).
- text, crowdspeech_dev: WER per split after lower-casing and stripping punctuation (both sides); ours (weighted
  consensus), the medoid, crowd-kit ROVER (with the same tokenizer). Then whether our confidence means what it says
  (the expected share of the consensus's words that are right): tasks binned by confidence, each bin's mean
  confidence beside its mean measured share, 1 − WER of the task's consensus (at least 0).
- number, snow_affect: Pearson r and MAE against the expert mean, per scale (each scale a job); ours (bias and noise
  EM), mean, median. crowd-kit has no aggregator for numbers.
- pairwise, passage_readability: Spearman of the item scores against the gold reading grades; ours (CrowdBT by EM),
  plain Bradley-Terry with the same prior, crowd-kit BradleyTerry(n_iter=100) and NoisyBT.

``--skip-slow`` leaves out crowd-kit's ROVER (about 7 minutes here) and NoisyBT (about 1.5 minutes). Then each type's
synthetic job of 1M answers (``bench/answer_types_synthetic.py``), each in a fresh process: seconds and peak RSS.
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
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

REPO = Path(__file__).resolve().parents[1]
TYPES = ("multi_choice", "text", "number", "pairwise")
Row = tuple[str, dict[str, float], float]  # method, metrics, seconds


def _datasets() -> Path:
    """``shared/datasets/typed`` beside the repository (or beside a folder holding it, for a git worktree)."""
    return next(
        p / "shared" / "datasets" / "typed" for p in REPO.parents if (p / "shared" / "datasets" / "typed").is_dir()
    )


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _timed(run: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = run()
    return time.perf_counter() - started, value


def _ours(name: str, rows: list[dict[str, str]], method: str | None = None) -> tuple[float, Any]:
    from marketplace.aggregation.types import answer_type

    kind = answer_type(name)
    schema = kind.parse_schema(None)
    values = [kind.clean(schema, kind.decode(r["answer"]), item=kind.item_of_task(r["task"])) for r in rows]
    tasks, workers = [r["task"] for r in rows], [r["worker"] for r in rows]
    return _timed(lambda: kind.aggregate(schema, tasks, workers, values, method=method))


def bench_multi_choice(data: Path, skip_slow: bool) -> list[Row]:
    import pandas as pd
    from crowdkit.aggregation import BinaryRelevance, DawidSkene, MajorityVote

    rows = _read(data / "answers.csv")
    truth = {r["task"]: set(json.loads(r["answer"])) for r in _read(data / "truth.csv")}
    evaluated = {r["task"]: json.loads(r["labels_with_gold"]) for r in _read(data / "truth_evaluated.csv")}

    def f1(predicted: dict[str, set[str]]) -> dict[str, float]:
        counts = np.zeros(3)
        for task, labels in evaluated.items():
            for label in labels:
                said, right = label in predicted.get(task, set()), label in truth[task]
                counts += [said and right, said and not right, right and not said]
        return {"micro_f1": float(2 * counts[0] / (2 * counts[0] + counts[1] + counts[2]))}

    out: list[Row] = []
    for method, label in (("ds", "ours: per-class DS, shared quality"), ("mv", "per-class majority")):
        seconds, consensus = _ours("multi_choice", rows, method)
        out.append(
            (label, f1({t: set(a) for t, a in zip(consensus.tasks.tolist(), consensus.answers, strict=True)}), seconds)
        )
    frame = pd.DataFrame(
        {
            "task": [r["task"] for r in rows],
            "worker": [r["worker"] for r in rows],
            "label": [json.loads(r["answer"]) for r in rows],
        }
    )
    for label, base in (
        ("crowd-kit BR(MajorityVote)", MajorityVote()),
        ("crowd-kit BR(DawidSkene)", DawidSkene(n_iter=100)),
    ):
        seconds, result = _timed(lambda base=base: BinaryRelevance(base).fit_predict(frame))
        out.append((label, f1({t: set(v) for t, v in result.items()}), seconds))
    return out


def bench_text(data: Path, skip_slow: bool) -> list[Row]:
    from marketplace.aggregation.types.text import RULES, error_rate, normalise

    rules = frozenset(RULES)
    rows = _read(data / "answers.csv")
    truth = {r["task"]: normalise(json.loads(r["answer"]), rules) for r in _read(data / "truth.csv")}

    def wer(predicted: dict[str, str]) -> dict[str, float]:
        result = {}
        for split in ("dev-clean", "dev-other"):
            tasks = [t for t in truth if t.startswith(split)]
            errors = sum(
                error_rate(normalise(predicted[t], rules), truth[t], "wer") * len(truth[t].split()) for t in tasks
            )
            result[f"wer_{split}"] = 100 * errors / sum(len(truth[t].split()) for t in tasks)
        return result

    out: list[Row] = []
    for method, label in (("em", "ours: weighted consensus"), ("medoid", "medoid")):
        seconds, consensus = _ours("text", rows, method)
        out.append((label, wer(dict(zip(consensus.tasks.tolist(), consensus.answers, strict=True))), seconds))
        if method == "em":
            right = {
                t: max(0.0, 1.0 - error_rate(normalise(a, rules), truth[t], "wer"))
                for t, a in zip(consensus.tasks.tolist(), consensus.answers, strict=True)
            }
            _print_calibration(consensus.confidence, np.array([right[t] for t in consensus.tasks.tolist()]))
    if skip_slow:
        return out
    import pandas as pd
    from crowdkit.aggregation import ROVER

    frame = pd.DataFrame(
        {
            "task": [r["task"] for r in rows],
            "worker": [r["worker"] for r in rows],
            "text": [json.loads(r["answer"]) for r in rows],
        }
    )
    rover = ROVER(tokenizer=lambda text: normalise(text, rules).split(), detokenizer=" ".join)
    seconds, result = _timed(lambda: rover.fit_predict(frame))
    out.append(("crowd-kit ROVER", wer(result.to_dict()), seconds))
    return out


def _print_calibration(confidence: npt.NDArray[np.float64], right: npt.NDArray[np.float64]) -> None:
    print("\ntext on crowdspeech_dev: our confidence against the measured share of words right (1 - WER, >= 0)")
    print(f"  {'confidence':<14} {'tasks':>6} {'mean confidence':>16} {'mean share right':>17}")
    edges = [0.0, 0.8, 0.9, 0.95, 0.98, 0.995, 1.0]
    for low, high in zip(edges[:-1], edges[1:], strict=True):
        chosen = (confidence >= low) & ((confidence < high) if high < 1.0 else (confidence <= high))
        if chosen.any():
            bounds = f"[{low:.3f}, {high:.3f}{']' if high == 1.0 else ')'}"
            mean_confidence, mean_right = confidence[chosen].mean(), right[chosen].mean()
            print(f"  {bounds:<14} {int(chosen.sum()):>6} {mean_confidence:>16.3f} {mean_right:>17.3f}")
    print(f"  {'all':<14} {len(confidence):>6} {confidence.mean():>16.3f} {right.mean():>17.3f}")


def bench_number(data: Path, skip_slow: bool) -> list[Row]:
    from scipy.stats import pearsonr

    from marketplace.aggregation.types import answer_type

    kind = answer_type("number")
    schema = kind.parse_schema(None)
    rows = _read(data / "answers.csv")
    truth = {r["task"]: float(r["answer"]) for r in _read(data / "truth.csv")}
    scales = sorted({r["task"].split("/")[0] for r in rows})
    out: list[Row] = []
    for method, label in (("em", "ours: bias + noise EM"), ("mean", "mean"), ("median", "median")):
        metrics, seconds = {}, 0.0
        for scale in scales:
            part = [r for r in rows if r["task"].startswith(scale + "/")]
            values = [float(r["answer"]) for r in part]
            tasks, workers = [r["task"] for r in part], [r["worker"] for r in part]
            spent, consensus = _timed(
                lambda tasks=tasks, workers=workers, values=values, method=method: kind.aggregate(
                    schema, tasks, workers, values, method=method
                )
            )
            estimate, expert = np.array(consensus.answers), np.array([truth[t] for t in consensus.tasks.tolist()])
            metrics[f"r_{scale}"] = float(pearsonr(estimate, expert).statistic)
            metrics[f"mae_{scale}"] = float(np.abs(estimate - expert).mean())
            seconds += spent
        out.append((label, metrics, seconds))
    return out


def bench_pairwise(data: Path, skip_slow: bool) -> list[Row]:
    import pandas as pd
    from crowdkit.aggregation import BradleyTerry, NoisyBradleyTerry
    from scipy.stats import spearmanr

    rows = _read(data / "answers.csv")
    grade = {r["item"]: float(r["score"]) for r in _read(data / "item_scores.csv")}

    def spearman(scores: dict[str, float]) -> dict[str, float]:
        items = sorted(grade)
        return {"spearman": float(spearmanr([scores.get(i, 0.0) for i in items], [grade[i] for i in items]).statistic)}

    out: list[Row] = []
    for method, label in (("em", "ours: CrowdBT by EM"), ("bt", "Bradley-Terry, same prior")):
        seconds, consensus = _ours("pairwise", rows, method)
        out.append(
            (label, spearman(dict(zip(consensus.items.tolist(), consensus.item_scores.tolist(), strict=True))), seconds)
        )
    pairs = [r["task"].split("|") for r in rows]
    frame = pd.DataFrame(
        {
            "worker": [r["worker"] for r in rows],
            "left": [p[0] for p in pairs],
            "right": [p[1] for p in pairs],
            "label": [json.loads(r["answer"]) for r in rows],
        }
    )
    references = [("crowd-kit BradleyTerry", lambda: BradleyTerry(n_iter=100).fit_predict(frame))]
    if not skip_slow:
        references.append(("crowd-kit NoisyBT", lambda: NoisyBradleyTerry().fit_predict(frame)))
    for label, run in references:
        seconds, result = _timed(run)
        out.append((label, spearman(result.to_dict()), seconds))
    return out


BENCHES: dict[str, tuple[str, Callable[[Path, bool], list[Row]]]] = {
    "multi_choice": ("ct_medical_relex", bench_multi_choice),
    "text": ("crowdspeech_dev", bench_text),
    "number": ("snow_affect", bench_number),
    "pairwise": ("passage_readability", bench_pairwise),
}
# Higher is better for every metric but these.
LOWER_IS_BETTER = ("wer", "mae")
# The crowd-kit counterpart of ours, for the speed target.
COUNTERPART = {"multi_choice": "crowd-kit BR(DawidSkene)", "text": "crowd-kit ROVER", "pairwise": "crowd-kit NoisyBT"}


def print_real(name: str, folder: str, rows: list[Row]) -> list[tuple[str, bool]]:
    metrics = list(rows[0][1])
    print(f"\n{name} on {folder}")
    print(f"  {'method':<36} " + " ".join(f"{m:>14}" for m in metrics) + f" {'seconds':>9}")
    for method, values, seconds in rows:
        print(f"  {method:<36} " + " ".join(f"{values[m]:>14.4f}" for m in metrics) + f" {seconds:>9.3f}")
    return _targets(name, rows, metrics)


def _targets(name: str, rows: list[Row], metrics: list[str]) -> list[tuple[str, bool]]:
    ours, references = rows[0], rows[1:]
    checks = []
    for metric in metrics:
        lower = metric.startswith(LOWER_IS_BETTER)
        best = (min if lower else max)(r[1][metric] for r in references)
        met = ours[1][metric] <= best if lower else ours[1][metric] >= best
        checks.append((f"{name} {metric}: ours {ours[1][metric]:.4f}, best reference {best:.4f}", met))
    counterpart = next((r for r in references if r[0] == COUNTERPART.get(name)), None)
    if counterpart is not None:
        ratio = counterpart[2] / ours[2]
        checks.append((f"{name} speed: {ratio:.0f}x {counterpart[0]} (target >= 5x)", ratio >= 5))
    return checks


def bench_synthetic(names: list[str]) -> list[tuple[str, bool]]:
    print("\nSynthetic jobs of 1M answers (bench/answer_types_synthetic.py), each in a fresh process")
    print(f"  {'type':<13} {'answers':>9} {'seconds':>8} {'cpu s':>7} {'peak MB':>8} {'before MB':>9}  quality")
    checks = []
    for name in names:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"{name}.npz"
            _child("generate", name, path)
            row = _child("measure", name, path)
        extra = {k: v for k, v in row.items() if k not in ("seconds", "cpu_seconds", "peak_mb", "before_mb", "answers")}
        quality = ", ".join(f"{k} {v:.4f}" for k, v in extra.items())
        sizes = f"{row['seconds']:>8.2f} {row['cpu_seconds']:>7.2f} {row['peak_mb']:>8.0f} {row['before_mb']:>9.0f}"
        print(f"  {name:<13} {row['answers']:>9,} {sizes}  {quality}")
        checks.append((f"{name} 1M answers in {row['seconds']:.2f} s (target < 10 s)", row["seconds"] < 10))
        checks.append((f"{name} 1M answers peak RSS {row['peak_mb']:.0f} MB (target < 1024 MB)", row["peak_mb"] < 1024))
    return checks


def _child(action: str, name: str, path: Path) -> dict[str, Any]:
    command = [sys.executable, __file__, f"--{action}", name, "--data", str(path)]
    completed = subprocess.run(command, capture_output=True, text=True, check=False, cwd=REPO)
    if completed.returncode != 0:
        raise RuntimeError(f"{action} {name} failed:\n{completed.stderr}")
    lines = completed.stdout.strip().splitlines()
    return json.loads(lines[-1]) if lines else {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--types", default=",".join(TYPES))
    parser.add_argument("--skip-slow", action="store_true", help="leave out crowd-kit ROVER and NoisyBT")
    parser.add_argument("--skip-synthetic", action="store_true")
    parser.add_argument("--skip-real", action="store_true")
    parser.add_argument("--generate", help=argparse.SUPPRESS)
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    import answer_types_synthetic

    if args.generate:
        answer_types_synthetic.generate(args.generate, args.data)
        return
    if args.measure:
        print(json.dumps(answer_types_synthetic.measure(args.measure, args.data)))
        return
    names = [name.strip() for name in args.types.split(",") if name.strip()]
    checks: list[tuple[str, bool]] = []
    if not args.skip_real:
        for name in names:
            folder, bench = BENCHES[name]
            checks += print_real(name, folder, bench(_datasets() / folder, args.skip_slow))
    if not args.skip_synthetic:
        checks += bench_synthetic(names)
    print("\nTargets")
    for label, met in checks:
        print(f"  [{'met' if met else 'MISSED'}] {label}")


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))  # run as a script from anywhere: make the project importable
    sys.path.insert(0, str(REPO / "bench"))
    main()

"""Cut the small samples of ``shared/datasets/typed`` kept here (deterministic; see README.md). Run by hand:

.venv/bin/python tests/aggregation/data/typed/cut.py
"""

from __future__ import annotations

import csv
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path

HERE = Path(__file__).resolve().parent
Row = dict[str, str]
ANSWERS = ["task", "worker", "answer"]
KEYS = ["task", "answer"]


def _source() -> Path:
    """``shared/datasets/typed`` beside the repository (or beside a folder holding it, for a git worktree)."""
    candidates = (folder / "shared" / "datasets" / "typed" for folder in HERE.parents)
    return next(path for path in candidates if path.is_dir())


def _read(path: Path) -> list[Row]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _write(path: Path, rows: Iterable[Row], columns: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows({column: row[column] for column in columns} for row in rows)


def _first_tasks(rows: list[Row], count: int, keep: Callable[[Row], bool]) -> set[str]:
    seen: dict[str, None] = {}
    for row in rows:
        if keep(row):
            seen.setdefault(row["task"])
        if len(seen) == count:
            break
    return set(seen)


def main() -> None:
    src = _source()
    answers, truth = _read(src / "ct_medical_relex/answers.csv"), _read(src / "ct_medical_relex/truth.csv")
    evaluated = _read(src / "ct_medical_relex/truth_evaluated.csv")
    with_gold = {row["task"] for row in truth}
    kept = _first_tasks(answers, 200, lambda row: row["task"] in with_gold)
    _write(HERE / "ct_medical_relex/answers.csv", (r for r in answers if r["task"] in kept), ANSWERS)
    _write(HERE / "ct_medical_relex/truth.csv", (r for r in truth if r["task"] in kept), KEYS)
    _write(
        HERE / "ct_medical_relex/truth_evaluated.csv",
        (r for r in evaluated if r["task"] in kept),
        [*KEYS[:1], "labels_with_gold"],
    )

    answers, truth = _read(src / "crowdspeech_dev/answers.csv"), _read(src / "crowdspeech_dev/truth.csv")
    kept = set()
    for split in ("dev-clean/", "dev-other/"):
        kept |= _first_tasks(answers, 100, lambda row, split=split: row["task"].startswith(split))
    _write(HERE / "crowdspeech_dev/answers.csv", (r for r in answers if r["task"] in kept), ANSWERS)
    _write(HERE / "crowdspeech_dev/truth.csv", (r for r in truth if r["task"] in kept), KEYS)

    answers, truth = _read(src / "snow_affect/answers.csv"), _read(src / "snow_affect/truth.csv")
    scales = ("anger/", "valence/")
    _write(HERE / "snow_affect/answers.csv", (r for r in answers if r["task"].startswith(scales)), ANSWERS)
    _write(HERE / "snow_affect/truth.csv", (r for r in truth if r["task"].startswith(scales)), KEYS)

    answers, scores = _read(src / "passage_readability/answers.csv"), _read(src / "passage_readability/item_scores.csv")
    workers = {f"w{i}" for i in range(250)}
    answered = [row for row in answers if row["worker"] in workers]
    items = {item for row in answered for item in row["task"].split("|")}
    _write(HERE / "passage_readability/answers.csv", answered, ANSWERS)
    _write(HERE / "passage_readability/item_scores.csv", (r for r in scores if r["item"] in items), ["item", "score"])

    for name in ("ct_medical_relex", "crowdspeech_dev", "snow_affect", "passage_readability"):
        shutil.copy(src / name / "SOURCE.json", HERE / name / "SOURCE.json")


if __name__ == "__main__":
    main()

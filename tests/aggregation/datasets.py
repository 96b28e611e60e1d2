"""The real data sets of tests/aggregation/data, loaded through the engine's own encoding."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

from marketplace.aggregation import Answers, Codebook, encode_answers, encode_keys

DATA_DIR = Path(__file__).parent / "data"


@dataclass(frozen=True, eq=False)
class Dataset:
    answers: Answers
    codebook: Codebook
    truth_tasks: npt.NDArray[np.int64]
    truth_labels: npt.NDArray[np.int64]

    def accuracy(self, labels: npt.NDArray[np.int64]) -> float:
        """Percentage of the tasks with a truth label that ``labels`` gets right."""
        return float((labels[self.truth_tasks] == self.truth_labels).mean() * 100)


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


@cache
def load_dataset(name: str) -> Dataset:
    """``tests/aggregation/data/<name>``: answers, codebook and truth (cached)."""
    rows = _read(DATA_DIR / name / "answers.csv")
    answers, codebook = encode_answers(
        [r["task"] for r in rows], [r["worker"] for r in rows], [r["label"] for r in rows]
    )
    truth = _read(DATA_DIR / name / "truth.csv")
    return Dataset(
        answers=answers,
        codebook=codebook,
        truth_tasks=encode_keys([r["task"] for r in truth], codebook.tasks),
        truth_labels=encode_keys([r["label"] for r in truth], codebook.classes),
    )

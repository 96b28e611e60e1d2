"""CSV rows with their line numbers, for the command line of the structured types: every error names its line."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from marketplace.aggregation.score_bands import annotator_names, parse_score


class CliInputError(Exception):
    """A user-facing error: printed on stderr as one line, exit status 2."""


@dataclass(frozen=True)
class Rows:
    """A CSV file's wanted columns (stripped strings) and the line number of each row."""

    path: Path
    lines: list[int] = field(default_factory=list)
    columns: dict[str, list[str]] = field(default_factory=dict)
    paths: list[Path] | None = None  # each row's file, when the rows come from several

    def __len__(self) -> int:
        return len(self.lines)

    def error(self, index: int, message: str) -> CliInputError:
        path = self.paths[index] if self.paths is not None else self.path
        return CliInputError(f"{path} line {self.lines[index]}: {message}")

    def json(self, index: int, column: str = "answer") -> Any:
        text = self.columns[column][index]
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise self.error(index, f"{column} is not valid JSON ({exc.msg}): {text[:60]!r}") from exc
        except ValueError as exc:  # not a JSONDecodeError: an integer of more digits than Python converts
            raise self.error(index, f"{column} is not valid JSON ({exc}): {text[:60]!r}") from exc


def read_rows(path: Path, required: Sequence[str], *, optional: Sequence[str] = ()) -> Rows:
    """The ``required`` (and present ``optional``) columns of a CSV file with a header."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            header = [name.strip() for name in next(reader, [])]
            missing = [name for name in required if name not in header]
            if missing:
                raise CliInputError(f"{path} line 1: missing column(s) {', '.join(map(repr, missing))}")
            positions = {name: header.index(name) for name in (*required, *optional) if name in header}
            rows = Rows(path, [], {name: [] for name in positions})
            for row in reader:
                if not row:
                    continue  # a blank line, e.g. a trailing newline
                if len(row) != len(header):
                    raise CliInputError(f"{path} line {reader.line_num}: expected {len(header)} fields, got {len(row)}")
                rows.lines.append(reader.line_num)
                for name, position in positions.items():
                    rows.columns[name].append(row[position].strip())
    except OSError as exc:
        raise CliInputError(f"{path}: cannot read ({exc.strerror})") from exc
    except (csv.Error, UnicodeDecodeError) as exc:
        raise CliInputError(f"{path}: not a readable CSV file ({exc})") from exc
    if not rows.lines:
        raise CliInputError(f"{path}: no data rows after the header")
    return rows


MODEL_PREFIX = "model:"


def with_predictions(answers: Rows, predictions: Rows) -> Rows:
    """The answers, then each model's predictions (columns task, model, answer, optional score) as the answers of a
    worker named ``model:<name>`` (one per score band when the model's predictions carry scores: see
    ``score_bands``); another column of the answers (a text's ``length``) is the task's own, from its first answer."""
    workers = answers.columns["worker"]
    named = sorted({worker for worker in workers if worker.startswith(MODEL_PREFIX)})
    if named:
        raise answers.error(workers.index(named[0]), f"worker names starting with {MODEL_PREFIX!r} are kept for models")
    models = predictions.columns["model"]
    unique_pairs(predictions, predictions.columns["task"], [MODEL_PREFIX + model for model in models])  # before bands
    scores = []
    for index, text in enumerate(predictions.columns.get("score", [""] * len(predictions))):
        try:
            scores.append(parse_score(text))
        except ValueError as exc:
            raise predictions.error(index, str(exc)) from exc
    first_row = {task: i for i, task in reversed(list(enumerate(answers.columns["task"])))}
    columns: dict[str, list[str]] = {}
    for name, values in answers.columns.items():
        if name == "worker":
            extra = [MODEL_PREFIX + annotator for annotator in annotator_names(models, scores)]
        elif name in predictions.columns:
            extra = predictions.columns[name]
        else:
            extra = [values[first_row[t]] if t in first_row else "" for t in predictions.columns["task"]]
        columns[name] = values + extra
    paths = [answers.path] * len(answers) + [predictions.path] * len(predictions)
    return Rows(answers.path, answers.lines + predictions.lines, columns, paths)


def first_appearance(keys: Sequence[str]) -> dict[str, int]:
    """Each distinct key's number, in order of first appearance."""
    return {key: number for number, key in enumerate(dict.fromkeys(keys))}


def unique_pairs(rows: Rows, tasks: Sequence[str], workers: Sequence[str]) -> None:
    """A worker answering one task twice is an error naming both lines."""
    seen: dict[tuple[str, str], int] = {}
    for index, pair in enumerate(zip(tasks, workers, strict=True)):
        if pair in seen:
            raise rows.error(
                index, f"worker {pair[1]!r} already answered task {pair[0]!r} on line {rows.lines[seen[pair]]}"
            )
        seen[pair] = index

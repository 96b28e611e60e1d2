"""Aggregate a CSV file of answers of any type, no database needed.

    python -m marketplace.aggregation ANSWERS.csv [--type TYPE] [--method METHOD] [--schema JSON|@FILE]
                                      [--gold GOLD.csv] [--predictions PREDICTIONS.csv] [--max-iter N] [--tol T]
                                      --out OUT.csv|-

- ``--type``: an answer type of :data:`marketplace.aggregation.types.ANSWER_TYPES` (``single_choice`` by default,
  ``multi_choice``, ``text``, ``number``, ``pairwise``); ``--method`` one of its methods (its best by default);
  ``--schema`` the job's schema for that type, as JSON text or ``@path`` to a JSON file (the type's defaults
  otherwise). Every answer is checked against it.
- ANSWERS.csv: a header naming the columns ``task``, ``worker`` and ``answer`` (any order; other columns are
  ignored), then one row per answer. ``answer`` is JSON: ``"yes"``, ``["a", "b"]``, ``"some text"``, ``4.5``; a
  plain string is also accepted for ``single_choice``. The old column ``label`` (a plain string, single choice)
  still works in place of ``answer``. For ``pairwise``, a task is ``<left id>|<right id>`` and the answer is the
  winner's id (``null``: a tie, when the schema allows ties).
- One answer per worker and task: a second one is an error naming both lines (no rule for picking one is right for
  every file, so the file decides).
- GOLD.csv: columns ``task`` and ``answer`` (or ``label``), in the same encoding: known answers, clamped during
  aggregation. Gold rows for tasks that have no answer are skipped (and counted on stderr).
- PREDICTIONS.csv (``--predictions``): columns ``task``, ``model`` and ``answer`` (and optionally ``score``, the
  model's confidence in [0, 1], may be empty), a model's answers in the same encoding: each model is one more
  annotator (worker ``model:<name>``), or one per score band when its predictions carry scores (``model:<name>
  (score band 2 of 4)``, see ``score_bands``), its quality earned as a worker's and printed on stderr (for ``bbox``
  and ``spans``, the answers' other columns, a text's ``length``, are the task's own). One prediction per model and
  task.
- OUT.csv (``-`` for stdout): ``task,answer,confidence``, one row per task in order of first appearance, the
  answer in the same JSON encoding; for ``pairwise``, ``item,score`` (items sorted by id; higher = first more
  often). With the old ``label`` column the output keeps its old form, ``task,label,confidence``.

Progress and timing go to stderr. Exit status: 0 on success, 2 on a usage error or a malformed file (one line
naming the file and the line, never a traceback).

This module is the engine's only I/O: the stdlib ``csv`` module reads and writes, the engine computes. Task and
item ids, and plain-string labels (the old ``label`` form), that start with ``= + - @``, a tab or a CR are written
with a leading ``'`` (``aggregation.spreadsheets``), so a spreadsheet shows them as text instead of running them as
formulas; JSON answers and the numbers the engine writes are left exact (a JSON string starts with a quote).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from marketplace.aggregation.errors import AggregationError
from marketplace.aggregation.rows import MODEL_PREFIX
from marketplace.aggregation.score_bands import annotator_names, parse_score
from marketplace.aggregation.spreadsheets import csv_text
from marketplace.aggregation.structured_cli import AGGREGATORS
from marketplace.aggregation.structured_cli import run as run_structured
from marketplace.aggregation.types import ANSWER_TYPES, AnswerType, Consensus, answer_type

EXIT_USAGE = 2
LEGACY_COLUMN = "label"


class CliError(Exception):
    """A user-facing error: printed on stderr, exit status 2."""


@dataclass(frozen=True)
class _Rows:
    """The parsed answers of a file: tasks, workers, cleaned answers, and whether it used the old label column."""

    tasks: list[str]
    workers: list[str]
    answers: list[Any]
    legacy: bool


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.type in AGGREGATORS:
        # Boxes and spans are registered types (the marketplace's jobs), but their command line keeps its own
        # codecs: it reads more encodings (bare boxes, unlabelled boxes, BIO tag lists, token offsets) and needs
        # no schema.
        return run_structured(args)
    try:
        kind = answer_type(args.type)
        schema = kind.parse_schema(_schema(args.schema))
        rows = _read_answers(args.answers, kind, schema)
        if args.predictions:
            rows = _with_predictions(rows, _read_predictions(args.predictions, kind, schema))
        gold = _read_gold(args.gold, kind, schema) if args.gold else None
        started = time.perf_counter()
        consensus = kind.aggregate(
            schema,
            rows.tasks,
            rows.workers,
            rows.answers,
            gold=gold,
            method=args.method,
            max_iter=args.max_iter,
            tol=args.tol,
        )
        elapsed = time.perf_counter() - started
        _write(args.out, _table(consensus, rows.legacy))
    except (CliError, AggregationError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    _report(kind, args.method, rows, consensus, elapsed)
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m marketplace.aggregation", description="Aggregate crowd answers from a CSV file."
    )
    parser.add_argument("answers", type=Path, help="CSV with columns task,worker,answer (JSON)")
    parser.add_argument(
        "--type",
        default="single_choice",
        choices=list(dict.fromkeys([*ANSWER_TYPES, *AGGREGATORS])),
        help="answer type (default single_choice; bbox and spans: see structured_cli.py)",
    )
    methods = sorted({method for kind in ANSWER_TYPES.values() for method in kind.methods})
    parser.add_argument("--method", choices=methods, help="aggregation method of the type (default: its first)")
    parser.add_argument("--schema", help="the type's schema as JSON, or @path to a JSON file")
    parser.add_argument("--gold", type=Path, help="CSV with columns task,answer (known answers)")
    parser.add_argument(
        "--predictions", type=Path, help="CSV with columns task,model,answer: each model is one more annotator"
    )
    parser.add_argument("--max-iter", type=int, help="iteration cap (the method's default otherwise)")
    parser.add_argument("--tol", type=float, help="convergence tolerance (the method's default otherwise)")
    parser.add_argument("--out", required=True, help="output CSV path, or - for stdout")
    return parser


def _schema(option: str | None) -> Any:
    if option is None:
        return None
    text = option
    if option.startswith("@"):
        try:
            text = Path(option[1:]).read_text(encoding="utf-8")
        except OSError as exc:
            raise CliError(f"{option[1:]}: cannot read ({exc.strerror})") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CliError(f"--schema: not valid JSON ({exc.msg})") from exc
    except ValueError as exc:  # not a JSONDecodeError: an integer of more digits than Python converts
        raise CliError(f"--schema: not valid JSON ({exc})") from exc


def _read_answers(path: Path, kind: AnswerType, schema: Any) -> _Rows:
    table = read_columns(path, ("task", "worker"), answer_columns=("answer", LEGACY_COLUMN))
    legacy = table.answer_column == LEGACY_COLUMN
    if legacy and kind.name != "single_choice":
        raise CliError(f"{path} line 1: the '{LEGACY_COLUMN}' column is for single_choice; name it 'answer' (JSON)")
    first_line: dict[tuple[str, str], int] = {}
    answers = []
    for line, task, worker, raw in zip(
        table.lines, table.columns["task"], table.columns["worker"], table.answers, strict=True
    ):
        earlier = first_line.setdefault((task, worker), line)
        if earlier != line:
            raise CliError(f"{path} line {line}: worker {worker!r} already answered task {task!r} on line {earlier}")
        answers.append(_clean(kind, schema, task, raw, legacy, f"{path} line {line}"))
    return _Rows(table.columns["task"], table.columns["worker"], answers, legacy)


def _read_predictions(path: Path, kind: AnswerType, schema: Any) -> _Rows:
    """Each model's answers, as the answers of a worker named ``model:<name>``, one per score band when the model's
    predictions carry scores (``model:<name> (score band 1 of 4)``, see ``score_bands``)."""
    table = read_columns(path, ("task", "model"), answer_columns=("answer",), optional=("score",))
    scores = []
    for line, text in zip(table.lines, table.columns.get("score", [""] * len(table.lines)), strict=True):
        try:
            scores.append(parse_score(text))
        except ValueError as exc:
            raise CliError(f"{path} line {line}: {exc}") from exc
    first_line: dict[tuple[str, str], int] = {}
    answers = []
    for line, task, model, raw in zip(
        table.lines, table.columns["task"], table.columns["model"], table.answers, strict=True
    ):
        earlier = first_line.setdefault((task, model), line)
        if earlier != line:
            raise CliError(f"{path} line {line}: model {model!r} already predicted task {task!r} on line {earlier}")
        answers.append(_clean(kind, schema, task, raw, False, f"{path} line {line}"))
    workers = [MODEL_PREFIX + name for name in annotator_names(table.columns["model"], scores)]
    return _Rows(table.columns["task"], workers, answers, False)


def _with_predictions(rows: _Rows, predictions: _Rows) -> _Rows:
    named = sorted({worker for worker in rows.workers if worker.startswith(MODEL_PREFIX)})
    if named:
        raise CliError(f"worker {named[0]!r}: names starting with {MODEL_PREFIX!r} are kept for --predictions' models")
    return _Rows(
        rows.tasks + predictions.tasks,
        rows.workers + predictions.workers,
        rows.answers + predictions.answers,
        rows.legacy,
    )


def _read_gold(path: Path, kind: AnswerType, schema: Any) -> dict[str, Any]:
    table = read_columns(path, ("task",), answer_columns=("answer", LEGACY_COLUMN))
    legacy = table.answer_column == LEGACY_COLUMN
    gold: dict[str, Any] = {}
    first_line: dict[str, int] = {}
    for line, task, raw in zip(table.lines, table.columns["task"], table.answers, strict=True):
        key = _clean(kind, schema, task, raw, legacy, f"{path} line {line}")
        if task in gold and gold[task] != key:
            raise CliError(f"{path} line {line}: task {task!r} already has another answer on line {first_line[task]}")
        gold[task] = key
        first_line.setdefault(task, line)
    return gold


def _clean(kind: AnswerType, schema: Any, task: str, raw: str, legacy: bool, where: str) -> Any:
    try:
        value = raw if legacy else kind.decode(raw)
        return kind.clean(schema, value, item=kind.item_of_task(task))
    except AggregationError as exc:
        raise CliError(f"{where}: {exc}") from exc


@dataclass(frozen=True)
class Table:
    """Columns of a CSV file (stripped strings), the answer column's values and name, and each row's line."""

    columns: dict[str, list[str]]
    answers: list[str]
    answer_column: str
    lines: list[int]


def read_columns(
    path: Path, required: Sequence[str], *, answer_columns: Sequence[str], optional: Sequence[str] = ()
) -> Table:
    """The ``required`` columns, the first of ``answer_columns`` present, and the ``optional`` columns present (these
    may be empty), of a CSV file with a header."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            # The reader's own line count stays right when a quoted field spans several lines.
            return _read_rows(((reader.line_num, row) for row in reader), path, required, answer_columns, optional)
    except OSError as exc:
        raise CliError(f"{path}: cannot read ({exc.strerror})") from exc
    except (csv.Error, UnicodeDecodeError) as exc:
        raise CliError(f"{path}: not a readable CSV file ({exc})") from exc


def _read_rows(
    rows: Iterator[tuple[int, list[str]]],
    path: Path,
    required: Sequence[str],
    answer_columns: Sequence[str],
    optional: Sequence[str] = (),
) -> Table:
    _, first = next(rows, (0, []))
    header = [name.strip() for name in first]
    expected = ",".join([*required, answer_columns[0]])
    if not header:
        raise CliError(f"{path}: empty file, expected a header with columns {expected}")
    answer_column = next((name for name in answer_columns if name in header), None)
    missing = [repr(name) for name in required if name not in header]
    if answer_column is None:
        missing.append(" or ".join(map(repr, answer_columns)))
    if missing or answer_column is None:
        raise CliError(f"{path} line 1: missing column(s) {', '.join(missing)} in header {','.join(header)}")
    names = [*required, answer_column, *(name for name in optional if name in header)]
    positions = [header.index(name) for name in names]
    values: dict[str, list[str]] = {name: [] for name in names}
    lines: list[int] = []
    for line, row in rows:
        if not row:
            continue  # a blank line, e.g. a trailing newline
        if len(row) != len(header):
            raise CliError(f"{path} line {line}: expected {len(header)} fields, got {len(row)}")
        for name, position in zip(names, positions, strict=True):
            value = row[position].strip()
            if not value and name not in optional:
                raise CliError(f"{path} line {line}: empty {name}")
            values[name].append(value)
        lines.append(line)
    if not lines:
        raise CliError(f"{path}: no data rows after the header")
    answers = values.pop(answer_column)
    return Table(values, answers, answer_column, lines)


def _table(consensus: Consensus, legacy: bool) -> tuple[list[str], list[list[Any]]]:
    header, rows = consensus.rows()
    if legacy:
        # The old output: the label as a plain string under its old name.
        return ["task", LEGACY_COLUMN, "confidence"], [
            [csv_text(task), csv_text(answer), f"{conf:.6f}"]
            for task, answer, conf in zip(
                consensus.tasks.tolist(), consensus.answers, consensus.confidence.tolist(), strict=True
            )
        ]
    return header, [[csv_text(key), *rest] for key, *rest in rows]  # the task or item id is the file's text


def _write(out: str, table: tuple[list[str], list[list[Any]]]) -> None:
    if out == "-":
        try:
            _write_rows(sys.stdout, table)
            sys.stdout.flush()
        except BrokenPipeError:
            # The reader went away (``| head``): stop quietly instead of a traceback at interpreter exit.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return
    try:
        with Path(out).open("w", newline="", encoding="utf-8") as handle:
            _write_rows(handle, table)
    except OSError as exc:
        raise CliError(f"{out}: cannot write ({exc.strerror})") from exc


def _write_rows(handle: TextIO, table: tuple[list[str], list[list[Any]]]) -> None:
    writer = csv.writer(handle, lineterminator="\n")
    header, rows = table
    writer.writerow(header)
    writer.writerows(rows)


def _report(kind: AnswerType, method: str | None, rows: _Rows, consensus: Consensus, elapsed: float) -> None:
    parts = [
        f"type={kind.name}",
        f"method={method or kind.methods[0]}",
        f"tasks={len(consensus.tasks)}",
        f"workers={len(consensus.workers)}",
        f"answers={len(rows.answers)}",
    ]
    if consensus.gold_used or consensus.gold_skipped:
        parts.append(f"gold={consensus.gold_used} gold_skipped={consensus.gold_skipped}")
    model = consensus.model
    if hasattr(model, "iterations") and hasattr(model, "converged"):
        parts += [f"iterations={model.iterations}", f"converged={'yes' if model.converged else 'no'}"]
    if hasattr(model, "log_likelihood") and model.log_likelihood == model.log_likelihood:
        parts.append(f"log_likelihood={model.log_likelihood:.4f}")
    parts.append(f"time={elapsed:.3f}s")
    print(" ".join(parts), file=sys.stderr)
    for worker, quality in zip(consensus.workers.tolist(), consensus.worker_quality.tolist(), strict=True):
        if str(worker).startswith(MODEL_PREFIX):
            print(f"{worker} quality={quality:.4f}", file=sys.stderr)


if __name__ == "__main__":
    raise SystemExit(main())

"""Aggregate a CSV file of answers, no database needed.

    python -m marketplace.aggregation ANSWERS.csv --method ds|onecoin|mv [--gold GOLD.csv]
                                      [--max-iter N] [--tol T] --out LABELS.csv|-

- ANSWERS.csv: a header naming the columns ``task``, ``worker`` and ``label`` (any order; other columns are
  ignored), then one row per answer. Values are arbitrary strings (surrounding spaces are stripped).
- GOLD.csv: columns ``task`` and ``label``: known true labels, clamped during EM. Gold rows for tasks that
  have no answer are skipped (and counted on stderr).
- LABELS.csv (``-`` for stdout): ``task,label,confidence``, one row per task of ANSWERS.csv, in order of first
  appearance there; labels are the original strings. The classes are the distinct labels of both files,
  in sorted string order (majority vote breaks ties toward the first).

Iterations, log-likelihood and timing go to stderr. Exit status: 0 on success, 2 on a usage error or a
malformed file (the message names the file and the line).

This module is the engine's only I/O: the stdlib ``csv`` module reads and writes, the engine computes.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import numpy as np
import numpy.typing as npt

from marketplace.aggregation.em import dawid_skene, one_coin_dawid_skene
from marketplace.aggregation.encoding import Codebook, encode_answers, encode_keys
from marketplace.aggregation.errors import AggregationError
from marketplace.aggregation.inputs import Answers
from marketplace.aggregation.majority import majority_vote
from marketplace.aggregation.results import DawidSkeneResult, MajorityVoteResult
from marketplace.aggregation.structured_cli import AGGREGATORS
from marketplace.aggregation.structured_cli import run as run_structured

EXIT_USAGE = 2


class CliError(Exception):
    """A user-facing error: printed on stderr, exit status 2."""


@dataclass(frozen=True)
class _Job:
    answers: Answers
    codebook: Codebook
    gold: tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]] | None
    skipped_gold: int


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.type != "single_choice":
        return run_structured(args)
    try:
        job = _load(args.answers, args.gold)
        started = time.perf_counter()
        result = _aggregate(job, args.method, args.max_iter, args.tol)
        elapsed = time.perf_counter() - started
        _write(args.out, job.codebook, result)
    except (CliError, AggregationError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    _report(job, args.method, result, elapsed)
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m marketplace.aggregation", description="Aggregate crowd answers from a CSV file."
    )
    parser.add_argument("answers", type=Path, help="CSV with columns task,worker,label")
    parser.add_argument("--method", choices=["ds", "onecoin", "mv"], default="ds")
    parser.add_argument(
        "--type",
        choices=["single_choice", *AGGREGATORS],
        default="single_choice",
        help="answer type; bbox and spans read task,worker,answer (see structured_cli.py)",
    )
    parser.add_argument("--gold", type=Path, help="CSV with columns task,label (known true labels)")
    parser.add_argument("--max-iter", type=int, default=100, help="EM iteration cap (default 100)")
    parser.add_argument("--tol", type=float, default=1e-6, help="relative log-likelihood tolerance")
    parser.add_argument("--out", required=True, help="output CSV path, or - for stdout")
    return parser


def _load(answers_path: Path, gold_path: Path | None) -> _Job:
    rows = read_columns(answers_path, ("task", "worker", "label"))
    gold_rows = read_columns(gold_path, ("task", "label")) if gold_path else None
    labels = rows["label"] + (gold_rows["label"] if gold_rows else [])
    answers, codebook = encode_answers(rows["task"], rows["worker"], rows["label"], classes=np.unique(labels))
    if gold_rows is None:
        return _Job(answers, codebook, None, 0)
    gold_tasks = np.asarray(gold_rows["task"])
    answered = np.isin(gold_tasks, codebook.tasks)
    gold = (
        encode_keys(gold_tasks[answered], codebook.tasks, what="task"),
        encode_keys(np.asarray(gold_rows["label"])[answered], codebook.classes, what="label"),
    )
    return _Job(answers, codebook, gold, int((~answered).sum()))


def read_columns(path: Path, required: Sequence[str]) -> dict[str, list[str]]:
    """The ``required`` columns of a CSV file with a header, as lists of stripped strings."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            # The reader's own line count stays right when a quoted field spans several lines.
            return _read_rows(((reader.line_num, row) for row in reader), path, required)
    except OSError as exc:
        raise CliError(f"{path}: cannot read ({exc.strerror})") from exc
    except (csv.Error, UnicodeDecodeError) as exc:
        raise CliError(f"{path}: not a readable CSV file ({exc})") from exc


def _read_rows(rows: Iterator[tuple[int, list[str]]], path: Path, required: Sequence[str]) -> dict[str, list[str]]:
    _, first = next(rows, (0, []))
    header = [name.strip() for name in first]
    if not header:
        raise CliError(f"{path}: empty file, expected a header with columns {','.join(required)}")
    missing = [name for name in required if name not in header]
    if missing:
        raise CliError(f"{path} line 1: missing column(s) {', '.join(map(repr, missing))} in header {','.join(header)}")
    positions = [header.index(name) for name in required]
    columns: dict[str, list[str]] = {name: [] for name in required}
    for line, row in rows:
        if not row:
            continue  # a blank line, e.g. a trailing newline
        if len(row) != len(header):
            raise CliError(f"{path} line {line}: expected {len(header)} fields, got {len(row)}")
        for name, position in zip(required, positions, strict=True):
            value = row[position].strip()
            if not value:
                raise CliError(f"{path} line {line}: empty {name}")
            columns[name].append(value)
    if not columns[required[0]]:
        raise CliError(f"{path}: no data rows after the header")
    return columns


def _aggregate(job: _Job, method: str, max_iter: int, tol: float) -> MajorityVoteResult | DawidSkeneResult:
    if method == "mv":
        return majority_vote(job.answers, gold=job.gold)
    fit = dawid_skene if method == "ds" else one_coin_dawid_skene
    return fit(job.answers, gold=job.gold, max_iter=max_iter, tol=tol)


def _write(out: str, codebook: Codebook, result: MajorityVoteResult | DawidSkeneResult) -> None:
    if out == "-":
        try:
            _write_rows(sys.stdout, codebook, result)
            sys.stdout.flush()
        except BrokenPipeError:
            # The reader went away (``| head``): stop quietly instead of a traceback at interpreter exit.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return
    try:
        with Path(out).open("w", newline="", encoding="utf-8") as handle:
            _write_rows(handle, codebook, result)
    except OSError as exc:
        raise CliError(f"{out}: cannot write ({exc.strerror})") from exc


def _write_rows(handle: TextIO, codebook: Codebook, result: MajorityVoteResult | DawidSkeneResult) -> None:
    writer = csv.writer(handle, lineterminator="\n")
    writer.writerow(["task", "label", "confidence"])
    labels = codebook.classes[result.labels]
    confidence = [f"{value:.6f}" for value in result.confidence.tolist()]
    writer.writerows(zip(codebook.tasks.tolist(), labels.tolist(), confidence, strict=True))


def _report(job: _Job, method: str, result: MajorityVoteResult | DawidSkeneResult, elapsed: float) -> None:
    answers = job.answers
    parts = [
        f"method={method}",
        f"tasks={answers.n_tasks}",
        f"workers={answers.n_workers}",
        f"classes={answers.n_classes}",
        f"answers={answers.n_answers}",
    ]
    if job.gold is not None:
        parts.append(f"gold={len(job.gold[0])} gold_skipped={job.skipped_gold}")
    if isinstance(result, DawidSkeneResult):
        parts += [
            f"iterations={result.iterations}",
            f"converged={'yes' if result.converged else 'no'}",
            f"log_likelihood={result.log_likelihood:.4f}",
        ]
    parts.append(f"time={elapsed:.3f}s")
    print(" ".join(parts), file=sys.stderr)


if __name__ == "__main__":
    raise SystemExit(main())

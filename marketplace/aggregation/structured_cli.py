"""``python -m marketplace.aggregation ANSWERS.csv --type bbox|spans [--gold GOLD.csv] --out OUT.csv``.

- ANSWERS.csv: columns ``task``, ``worker``, ``answer`` (the answer JSON-encoded, see the type's codec); other
  columns are ignored, except an optional ``length`` for ``spans`` (the text's length).
- GOLD.csv: columns ``task``, ``answer``: known answers, clamped.
- PREDICTIONS.csv (``--predictions``): columns ``task``, ``model``, ``answer`` and optionally ``score``: each model
  one more annotator, a worker named ``model:<name>`` (one per score band when it has scores: ``score_bands``).
- OUT.csv (``-``: stdout): ``task,answer,confidence``, one row per task of ANSWERS.csv in order of first
  appearance, the answer in the input's encoding, the confidence the probability that it is exactly right.

A worker answering the same task twice is an error, as is any malformed row: a one-line message naming the file
and the line, exit status 2. The type's codec (``bbox/codec.py``, ``spans/codec.py``) turns rows into the
engine's arrays and results back into rows; this module only reads and writes.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from marketplace.aggregation.bbox.codec import aggregate_bbox_rows
from marketplace.aggregation.errors import AggregationError
from marketplace.aggregation.rows import CliInputError, Rows, read_rows, with_predictions
from marketplace.aggregation.spans.codec import aggregate_spans_rows
from marketplace.aggregation.spreadsheets import csv_text

EXIT_USAGE = 2

#: Per type: (answers, gold or None) -> output rows ``(task, answer, confidence)`` and a report for stderr.
Aggregator = Callable[[Rows, Rows | None], tuple[list[tuple[str, str, str]], str]]

AGGREGATORS: dict[str, Aggregator] = {"bbox": aggregate_bbox_rows, "spans": aggregate_spans_rows}


def run(args: argparse.Namespace) -> int:
    """Aggregate ``args.answers`` as ``args.type``; 0 on success, 2 with a one-line message on bad input."""
    try:
        answers = read_rows(args.answers, ("task", "worker", "answer"), optional=("length",))
        if args.predictions:
            answers = with_predictions(
                answers, read_rows(args.predictions, ("task", "model", "answer"), optional=("score",))
            )
        gold = read_rows(args.gold, ("task", "answer")) if args.gold else None
        started = time.perf_counter()
        rows, report = AGGREGATORS[args.type](answers, gold)
        elapsed = time.perf_counter() - started
        _write(args.out, rows)
    except (CliInputError, AggregationError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(f"type={args.type} {report} time={elapsed:.3f}s", file=sys.stderr)
    return 0


def _write(out: str, rows: list[tuple[str, str, str]]) -> None:
    if out == "-":
        _write_rows(sys.stdout, rows)
        return
    try:
        with Path(out).open("w", newline="", encoding="utf-8") as handle:
            _write_rows(handle, rows)
    except OSError as exc:
        raise CliInputError(f"{out}: cannot write ({exc.strerror})") from exc


def _write_rows(handle: TextIO, rows: list[tuple[str, str, str]]) -> None:
    writer = csv.writer(handle, lineterminator="\n")
    writer.writerow(["task", "answer", "confidence"])
    writer.writerows((csv_text(task), answer, confidence) for task, answer, confidence in rows)  # ids: file text

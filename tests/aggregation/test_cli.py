"""``python -m marketplace.aggregation``: CSV in, CSV out, exit status 2 on bad input."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from marketplace.aggregation.__main__ import main
from tests.aggregation.datasets import DATA_DIR

REPO_ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}
    command = [sys.executable, "-m", "marketplace.aggregation", *args]
    return subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60, check=False)


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_it_round_trips_a_real_data_set(tmp_path: Path) -> None:
    answers = DATA_DIR / "vldb_dog" / "answers.csv"
    out = tmp_path / "labels.csv"

    completed = _run(str(answers), "--method", "ds", "--out", str(out))

    assert completed.returncode == 0, completed.stderr
    assert "iterations=" in completed.stderr
    assert "log_likelihood=" in completed.stderr
    labels = _rows(out)
    answered = [row["task"] for row in _rows(answers)]
    assert [row["task"] for row in labels] == list(dict.fromkeys(answered))  # one row each, first-seen order
    assert {row["label"] for row in labels} <= {"0", "1", "2", "3"}
    assert all(0.25 <= float(row["confidence"]) <= 1.0 for row in labels)
    truth = {row["task"]: row["label"] for row in _rows(DATA_DIR / "vldb_dog" / "truth.csv")}
    assert sum(row["label"] == truth[row["task"]] for row in labels) / len(labels) > 0.83


def test_it_exits_with_status_2_and_names_the_missing_column(tmp_path: Path) -> None:
    bad = _write(tmp_path / "answers.csv", "task,worker\nt1,w1\n")

    completed = _run(str(bad), "--out", str(tmp_path / "labels.csv"))

    assert completed.returncode == 2
    assert "line 1" in completed.stderr
    assert "'label'" in completed.stderr
    assert not (tmp_path / "labels.csv").exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "empty file"),
        ("task,worker,label\n", "no data rows"),
        ("task,worker,label\nt1,w1,a\nt2,w1\n", "line 3: expected 3 fields, got 2"),
        ("task,worker,label\nt1,w1,a\nt2, ,b\n", "line 3: empty worker"),
    ],
)
def test_a_malformed_answers_file_is_reported_with_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    bad = _write(tmp_path / "answers.csv", content)

    status = main([str(bad), "--out", "-"])

    assert status == 2
    assert message in capsys.readouterr().err


def test_a_missing_file_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path / "nope.csv"), "--out", "-"]) == 2
    assert "cannot read" in capsys.readouterr().err


SMALL = """label,task,worker,comment
yes,t1,amy,x
yes,t1,bob,
no,t1,cat,
no,t2,amy,
no,t2,bob,
yes,t2,cat,
no,t3,amy,
"""


def test_it_writes_majority_vote_to_stdout_with_any_column_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    answers = _write(tmp_path / "answers.csv", SMALL)

    assert main([str(answers), "--method", "mv", "--out", "-"]) == 0

    lines = capsys.readouterr().out.splitlines()
    assert lines == ["task,label,confidence", "t1,yes,0.666667", "t2,no,0.666667", "t3,no,1.000000"]


def test_gold_is_clamped_and_may_name_a_class_nobody_answered(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    answers = _write(tmp_path / "answers.csv", SMALL)
    gold = _write(tmp_path / "gold.csv", "task,label\nt1,no\nt3,maybe\nt9,yes\n")
    out = tmp_path / "labels.csv"

    assert main([str(answers), "--gold", str(gold), "--out", str(out)]) == 0

    labels = {row["task"]: row for row in _rows(out)}
    assert labels["t1"]["label"] == "no"
    assert labels["t3"]["label"] == "maybe"
    assert labels["t1"]["confidence"] == "1.000000"
    assert "gold_skipped=1" in capsys.readouterr().err  # t9 has no answer


def test_a_gold_file_without_a_label_column_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    answers = _write(tmp_path / "answers.csv", SMALL)
    gold = _write(tmp_path / "gold.csv", "task,truth\nt1,no\n")

    assert main([str(answers), "--gold", str(gold), "--out", "-"]) == 2
    assert "gold.csv line 1: missing column(s) 'answer' or 'label'" in capsys.readouterr().err


def test_its_csv_output_escapes_task_ids_and_labels_a_spreadsheet_would_run_as_formulas(tmp_path: Path) -> None:
    formulas = ["=cmd|' /C calc'!A0", "+1", "-2", "@SUM(A1)"]
    rows = [(task, "w1", label) for task in formulas for label in ["=1+1"]] + [("plain", "w1", "-1")]
    answers = tmp_path / "answers.csv"
    with answers.open("w", newline="") as handle:
        csv.writer(handle).writerows([("task", "worker", "label"), *rows])
    out = tmp_path / "labels.csv"

    assert main([str(answers), "--method", "mv", "--out", str(out)]) == 0

    labels = _rows(out)
    assert [row["task"] for row in labels] == ["'" + task for task in formulas] + ["plain"]
    assert [row["label"] for row in labels] == ["'=1+1"] * 4 + ["'-1"]
    assert {row["confidence"] for row in labels} == {"1.000000"}


def test_typed_output_escapes_task_ids_but_keeps_json_answers_exact(tmp_path: Path) -> None:
    answers = tmp_path / "answers.csv"
    with answers.open("w", newline="") as handle:
        csv.writer(handle).writerows([("task", "worker", "answer"), ("=1+1", "w1", "-2.5"), ("=1+1", "w2", "-2.5")])
    out = tmp_path / "out.csv"

    assert main([str(answers), "--type", "number", "--out", str(out)]) == 0

    [row] = _rows(out)
    assert row["task"] == "'=1+1" and float(row["answer"]) == -2.5

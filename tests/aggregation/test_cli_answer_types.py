"""The command line's contract for every answer type: ``task,worker,answer`` (JSON) in, ``task,answer,confidence``
(or ``item,score`` for pairwise) out, one-line errors naming the line, one answer per worker and task."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from marketplace.aggregation.__main__ import main

REPO_ROOT = Path(__file__).resolve().parents[2]
TYPED = Path(__file__).parent / "data" / "typed"


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _csv(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _out(capsys: pytest.CaptureFixture[str]) -> list[dict[str, str]]:
    return list(csv.DictReader(capsys.readouterr().out.splitlines()))


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}
    command = [sys.executable, "-m", "marketplace.aggregation", *args]
    return subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)


def test_multi_choice_sets_go_in_and_out_as_json_lists(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = [
        ["t1", "w1", '["b","a"]'],
        ["t1", "w2", '["a","b"]'],
        ["t1", "w3", '["a"]'],
        ["t2", "w1", "[]"],
        ["t2", "w2", '["c"]'],
        ["t2", "w3", "[]"],
    ]
    answers = _csv(tmp_path / "a.csv", ["task", "worker", "answer"], rows)
    gold = _csv(tmp_path / "g.csv", ["task", "answer"], [["t2", '["c"]']])

    assert main([str(answers), "--type", "multi_choice", "--gold", str(gold), "--out", "-"]) == 0

    out = _out(capsys)
    assert [row["task"] for row in out] == ["t1", "t2"]
    assert json.loads(out[0]["answer"]) == ["a", "b"]
    assert json.loads(out[1]["answer"]) == ["c"]
    assert float(out[1]["confidence"]) == 1.0


def test_text_answers_come_out_as_the_normalised_consensus(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = [["t1", "w1", '"The cat sat."'], ["t1", "w2", '"the cat sat on"'], ["t1", "w3", '"a cat sat"']]
    answers = _csv(tmp_path / "a.csv", ["task", "worker", "answer"], rows)

    assert main([str(answers), "--type", "text", "--out", "-"]) == 0

    out = _out(capsys)
    assert json.loads(out[0]["answer"]) == "the cat sat"
    assert 0 < float(out[0]["confidence"]) <= 1


def test_numbers_come_out_as_json_numbers_and_the_schema_is_enforced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [["t1", "w1", "4"], ["t1", "w2", "4"], ["t1", "w3", "5"], ["t2", "w1", "1"], ["t2", "w2", "2"]]
    answers = _csv(tmp_path / "a.csv", ["task", "worker", "answer"], rows)
    schema = _write(tmp_path / "schema.json", '{"min": 1, "max": 5, "step": 1}')

    assert main([str(answers), "--type", "number", "--method", "median", "--schema", f"@{schema}", "--out", "-"]) == 0
    assert [json.loads(row["answer"]) for row in _out(capsys)] == [4.0, 1.5]

    assert main([str(answers), "--type", "number", "--schema", '{"min": 1, "max": 4}', "--out", "-"]) == 2
    assert "a.csv line 4: expected a number <= 4, got 5" in capsys.readouterr().err


def test_pairwise_writes_a_score_per_item(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = [
        ["a|b", "w1", '"a"'],
        ["a|b", "w2", '"a"'],
        ["b|c", "w1", '"b"'],
        ["b|c", "w2", '"b"'],
        ["a|c", "w3", '"a"'],
    ]
    answers = _csv(tmp_path / "a.csv", ["task", "worker", "answer"], rows)

    assert main([str(answers), "--type", "pairwise", "--out", "-"]) == 0

    out = _out(capsys)
    assert [row["item"] for row in out] == ["a", "b", "c"]
    scores = [float(row["score"]) for row in out]
    assert scores[0] > scores[1] > scores[2]


def test_single_choice_answers_may_be_json_or_plain_strings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    answers = _write(tmp_path / "a.csv", 'task,worker,answer\nt1,w1,"""yes"""\nt1,w2,yes\nt1,w3,no\n')

    assert main([str(answers), "--out", "-"]) == 0

    out = _out(capsys)
    assert json.loads(out[0]["answer"]) == "yes"


@pytest.mark.parametrize(
    ("args", "content"),
    [
        ([], "task,worker,label\nt1,w1,yes\nt2,w1,no\nt1,w2,no\nt1,w1,no\n"),
        (["--type", "number"], "task,worker,answer\nt1,w1,1\nt2,w1,2\nt1,w2,3\nt1,w1,4\n"),
    ],
)
def test_a_worker_answering_a_task_twice_is_an_error_naming_both_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], content: str
) -> None:
    answers = _write(tmp_path / "a.csv", content)

    assert main([str(answers), *args, "--out", "-"]) == 2
    assert "a.csv line 5: worker 'w1' already answered task 't1' on line 2" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "content", "message"),
    [
        (["--type", "multi_choice"], 'task,worker,answer\nt1,w1,"[""a"""\n', "line 2: not valid JSON"),
        (
            ["--type", "multi_choice"],
            'task,worker,answer\nt1,w1,"[""a"", ""a""]"\n',
            "line 2: choice 'a' is listed twice",
        ),
        (["--type", "text"], "task,worker,answer\nt1,w1,42\n", "line 2: expected a string"),
        (
            ["--type", "pairwise"],
            'task,worker,answer\nab,w1,"""a"""\n',
            "line 2: a pairwise task must be '<left id>|<right id>'",
        ),
        (["--type", "pairwise"], 'task,worker,answer\na|b,w1,"""c"""\n', "line 2: expected 'a' or 'b', got 'c'"),
        (
            ["--type", "pairwise"],
            "task,worker,answer\na|b,w1,null\n",
            "line 2: expected the winner's id (ties are not allowed)",
        ),
        (["--type", "text"], "task,worker,label\nt1,w1,x\n", "line 1: the 'label' column is for single_choice"),
        (
            ["--type", "number", "--method", "ds"],
            "task,worker,answer\nt1,w1,1\n",
            "unknown method 'ds'; expected one of em, mean, median",
        ),
        (["--type", "number", "--schema", "{"], "task,worker,answer\nt1,w1,1\n", "--schema: not valid JSON"),
        # An integer of more digits than Python converts: json raises a plain ValueError, not a JSONDecodeError.
        (
            ["--type", "number"],
            f"task,worker,answer\nt1,w1,{'9' * 5000}\n",
            "line 2: not valid JSON (Exceeds the limit",
        ),
        (
            ["--type", "number", "--schema", f'{{"min": {"9" * 5000}}}'],
            "task,worker,answer\nt1,w1,1\n",
            "--schema: not valid JSON (Exceeds the limit",
        ),
        (
            ["--type", "number", "--schema", '{"step": 1}'],
            "task,worker,answer\nt1,w1,1\n",
            "step must be > 0 and needs a min",
        ),
    ],
)
def test_malformed_input_is_one_line_naming_what_is_wrong(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], content: str, message: str
) -> None:
    answers = _write(tmp_path / "a.csv", content)

    assert main([str(answers), *args, "--out", "-"]) == 2

    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1


def test_contradicting_gold_rows_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    answers = _write(tmp_path / "a.csv", "task,worker,answer\nt1,w1,1\n")
    gold = _write(tmp_path / "g.csv", "task,answer\nt1,1\nt1,1\nt1,2\n")

    assert main([str(answers), "--type", "number", "--gold", str(gold), "--out", "-"]) == 2
    assert "g.csv line 4: task 't1' already has another answer on line 2" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("kind", "folder", "header"),
    [
        ("multi_choice", "ct_medical_relex", "task,answer,confidence"),
        ("text", "crowdspeech_dev", "task,answer,confidence"),
        ("number", "snow_affect", "task,answer,confidence"),
        ("pairwise", "passage_readability", "item,score"),
    ],
)
def test_each_type_runs_on_its_real_sample_as_a_command(tmp_path: Path, kind: str, folder: str, header: str) -> None:
    out = tmp_path / "out.csv"

    completed = _run(str(TYPED / folder / "answers.csv"), "--type", kind, "--out", str(out))

    assert completed.returncode == 0, completed.stderr
    assert f"type={kind}" in completed.stderr
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0] == header
    assert len(lines) > 100


def test_a_malformed_file_never_shows_a_traceback(tmp_path: Path) -> None:
    answers = _write(tmp_path / "a.csv", 'task,worker,answer\na|b,w1,"""a"""\na|b,w2,{\n')

    completed = _run(str(answers), "--type", "pairwise", "--out", str(tmp_path / "out.csv"))

    assert completed.returncode == 2
    assert "Traceback" not in completed.stderr
    assert completed.stderr.strip().endswith(
        "line 3: not valid JSON (Expecting property name enclosed in double quotes)"
    )


def test_a_models_predictions_are_one_more_annotator(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Two workers split on every task; the gold says model a is right and model b always answers "no".
    answers = _csv(
        tmp_path / "a.csv",
        ["task", "worker", "answer"],
        [[f"t{i}", w, json.dumps(v)] for i in range(8) for w, v in (("w1", "yes"), ("w2", "no"))],
    )
    truth = ["yes", "no"] * 4
    predictions = _csv(
        tmp_path / "p.csv",
        ["task", "model", "answer", "score"],
        [[f"t{i}", "a-v1", json.dumps(truth[i]), "0.9"] for i in range(8)]
        + [[f"t{i}", "b-v1", json.dumps("no"), "0.5"] for i in range(8)],
    )
    gold = _csv(tmp_path / "g.csv", ["task", "answer"], [[f"t{i}", json.dumps(truth[i])] for i in range(4)])

    code = main([str(answers), "--predictions", str(predictions), "--gold", str(gold), "--out", "-"])

    assert code == 0
    captured = capsys.readouterr()
    out = list(csv.DictReader(captured.out.splitlines()))
    assert [json.loads(row["answer"]) for row in out] == truth  # the model that earned its weight decides
    assert "model:a-v1 quality=" in captured.err and "model:b-v1 quality=" in captured.err


def test_a_scored_model_is_one_annotator_per_score_band(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The model is right where it is sure (scores 0.9-1) and answers "no" where it is not (0.5-0.6).
    truth = ["yes", "no"] * 100
    answers = _csv(
        tmp_path / "a.csv",
        ["task", "worker", "answer"],
        [[f"t{i}", w, json.dumps(v)] for i in range(200) for w, v in (("w1", "yes"), ("w2", "no"))],
    )
    sure = [i % 4 < 2 for i in range(200)]
    predictions = _csv(
        tmp_path / "p.csv",
        ["task", "model", "answer", "score"],
        [
            [
                f"t{i}",
                "m-v1",
                json.dumps(truth[i] if sure[i] else "no"),
                f"{0.9 + i / 2000 if sure[i] else 0.5 + i / 2000}",
            ]
            for i in range(200)
        ],
    )
    gold = _csv(tmp_path / "g.csv", ["task", "answer"], [[f"t{i}", json.dumps(truth[i])] for i in range(40)])
    bad = _csv(tmp_path / "b.csv", ["task", "model", "answer", "score"], [["t1", "m", '"yes"', "sure"]])

    assert main([str(answers), "--predictions", str(predictions), "--gold", str(gold), "--out", "-"]) == 0
    captured = capsys.readouterr()
    quality = {
        line.split(" quality=")[0]: float(line.split("=")[1])
        for line in captured.err.splitlines()
        if "quality=" in line
    }
    assert quality["model:m-v1 (score band 2 of 2)"] > 0.8 > 0.6 > quality["model:m-v1 (score band 1 of 2)"]
    out = list(csv.DictReader(captured.out.splitlines()))
    assert all(json.loads(row["answer"]) == truth[i] for i, row in enumerate(out) if sure[i])
    assert main([str(answers), "--predictions", str(bad), "--out", "-"]) == 2
    assert f"{bad} line 2: score 'sure' is not a number" in capsys.readouterr().err


def test_predictions_are_checked_like_answers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    answers = _csv(tmp_path / "a.csv", ["task", "worker", "answer"], [["t1", "model:x", '"yes"']])
    twice = _csv(tmp_path / "p.csv", ["task", "model", "answer"], [["t1", "m", '"yes"'], ["t1", "m", '"no"']])
    schema = '{"choices": ["yes", "no"]}'
    bad = _csv(tmp_path / "b.csv", ["task", "model", "answer"], [["t1", "m", '"maybe"']])
    plain = _csv(tmp_path / "ok.csv", ["task", "worker", "answer"], [["t1", "w1", '"yes"']])

    assert main([str(plain), "--predictions", str(twice), "--out", "-"]) == 2
    assert "line 3: model 'm' already predicted task 't1' on line 2" in capsys.readouterr().err
    assert main([str(plain), "--schema", schema, "--predictions", str(bad), "--out", "-"]) == 2
    assert f"{bad} line 2:" in capsys.readouterr().err
    assert main([str(answers), "--predictions", str(plain), "--out", "-"]) == 2

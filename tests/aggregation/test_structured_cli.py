"""``python -m marketplace.aggregation --type bbox|spans``: JSON answers in, the same encoding out, one-line
errors naming the line; and the engines on real crowd data (tests/aggregation/data, see its README)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from marketplace.aggregation import Answers, dawid_skene, majority_vote
from marketplace.aggregation.__main__ import main
from marketplace.aggregation.bbox.geometry import corners, iou
from marketplace.aggregation.spans.bio import tags_to_spans
from tests.aggregation.datasets import DATA_DIR


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def _write(path: Path, rows: list[tuple]) -> Path:
    with path.open("w", newline="") as handle:
        csv.writer(handle).writerows(rows)
    return path


def _run(tmp_path: Path, answers: Path, kind: str, *extra: str) -> dict[str, dict[str, str]]:
    out = tmp_path / "out.csv"
    assert main([str(answers), "--type", kind, "--out", str(out), *extra]) == 0
    return {row["task"]: row for row in _rows(out)}


def test_bbox_lists_of_labelled_boxes_come_back_as_lists_with_gold_clamped(tmp_path: Path) -> None:
    answers = _write(
        tmp_path / "answers.csv",
        [
            ("task", "worker", "answer"),
            ("img1", "ann", json.dumps([[10, 10, 20, 20, "car"], [100, 100, 30, 30, "dog"]])),
            ("img1", "bob", json.dumps([[12, 10, 20, 20, "car"], [100, 100, 30, 30, "dog"]])),
            ("img1", "cy", json.dumps([[11, 11, 20, 20, "car"]])),
            ("img2", "ann", json.dumps([])),
            ("img2", "bob", json.dumps([[5, 5, 5, 5, "car"]])),
        ],
    )
    gold = _write(tmp_path / "gold.csv", [("task", "answer"), ("img2", json.dumps([[5, 5, 6, 6, "car"]]))])

    out = _run(tmp_path, answers, "bbox", "--gold", str(gold))

    assert list(out) == ["img1", "img2"]
    assert json.loads(out["img1"]["answer"]) == [[11, 10, 20, 20, "car"], [100, 100, 30, 30, "dog"]]
    assert json.loads(out["img2"]["answer"]) == [[5, 5, 6, 6, "car"]]
    assert float(out["img2"]["confidence"]) == pytest.approx(1.0)


def test_bbox_on_the_crowdseg_set_beats_the_median_of_corners(tmp_path: Path) -> None:
    folder = DATA_DIR / "crowdseg_bbox"

    out = _run(tmp_path, folder / "answers.csv", "bbox")

    truth = {row["task"]: json.loads(row["answer"]) for row in _rows(folder / "truth.csv")}
    tasks = sorted(truth)
    drawn: dict[str, list] = {}
    for row in _rows(folder / "answers.csv"):
        drawn.setdefault(row["task"], []).append(json.loads(row["answer"]))
    target = corners(np.array([truth[t] for t in tasks], dtype=float))
    ours = iou(corners(np.array([json.loads(out[t]["answer"]) for t in tasks], dtype=float)), target)
    median = iou(np.array([np.median(corners(np.array(drawn[t], dtype=float)), axis=0) for t in tasks]), target)
    # Measured: 0.898 against 0.890 mean IoU; 45 against 42 of 47 objects at IoU >= 0.75.
    assert ours.mean() > median.mean() + 0.005
    assert (ours >= 0.75).sum() > (median >= 0.75).sum()
    assert all(0 < float(out[t]["confidence"]) <= 1 for t in tasks)


def test_spans_in_either_encoding_come_back_in_it(tmp_path: Path) -> None:
    spans = _write(
        tmp_path / "spans.csv",
        [
            ("task", "worker", "answer", "length"),
            ("s1", "a", json.dumps([[0, 3, "PER"], [10, 16, "LOC"]]), "20"),
            ("s1", "b", json.dumps([[0, 3, "PER"], [10, 16, "LOC"]]), "20"),
            ("s1", "c", json.dumps([[0, 3, "PER"]]), "20"),
        ],
    )
    tags = _write(
        tmp_path / "tags.csv",
        [
            ("task", "worker", "answer"),
            ("s1", "a", json.dumps(["B-PER", "I-PER", "O", "B-LOC"])),
            ("s1", "b", json.dumps(["B-PER", "I-PER", "O", "O"])),
            ("s1", "c", json.dumps(["B-PER", "I-PER", "O", "B-LOC"])),
        ],
    )

    assert json.loads(_run(tmp_path, spans, "spans")["s1"]["answer"]) == [[0, 3, "PER"], [10, 16, "LOC"]]
    assert json.loads(_run(tmp_path, tags, "spans")["s1"]["answer"]) == ["B-PER", "I-PER", "O", "B-LOC"]


def test_spans_on_a_conll_sample_beat_token_majority_vote_and_match_token_dawid_skene(tmp_path: Path) -> None:
    folder = DATA_DIR / "conll_ner_sample"

    out = _run(tmp_path, folder / "answers.csv", "spans")

    truth = {row["task"]: json.loads(row["answer"]) for row in _rows(folder / "truth.csv")}
    mv, ds = _token_baselines(folder, truth)
    ours = _span_f1({t: json.loads(row["answer"]) for t, row in out.items()}, truth)
    # Measured on this 250-sentence sample: 0.723 against MV 0.646 and DS 0.721. On the whole set (6,055
    # sentences) the gap to DS is 2.7 points: see bench/README.md.
    assert ours > mv + 0.05
    assert ours > ds - 0.01


def _span_f1(predicted: dict[str, list[str]], truth: dict[str, list[str]]) -> float:
    found = {(t, *span) for t, tags in predicted.items() for span in tags_to_spans(tags)}
    gold = {(t, *span) for t, tags in truth.items() for span in tags_to_spans(tags)}
    return 2 * len(found & gold) / (len(found) + len(gold))


def _token_baselines(folder: Path, truth: dict[str, list[str]]) -> tuple[float, float]:
    rows = _rows(folder / "answers.csv")
    tags = sorted({tag for row in rows for tag in json.loads(row["answer"])} | {"O"})
    tasks = list(dict.fromkeys(row["task"] for row in rows))
    workers = sorted({row["worker"] for row in rows})
    offset = dict(zip(tasks, np.cumsum([0] + [len(truth[t]) for t in tasks]).tolist(), strict=False))
    columns: tuple[list[int], list[int], list[int]] = ([], [], [])
    for row in rows:
        for position, tag in enumerate(json.loads(row["answer"])):
            columns[0].append(offset[row["task"]] + position)
            columns[1].append(workers.index(row["worker"]))
            columns[2].append(tags.index(tag))
    n_tokens = sum(len(truth[t]) for t in tasks)
    answers = Answers(*map(np.array, columns), n_tasks=n_tokens, n_workers=len(workers), n_classes=len(tags))

    def decode(labels: np.ndarray) -> dict[str, list[str]]:
        return {t: [tags[x] for x in labels[offset[t] : offset[t] + len(truth[t])]] for t in tasks}

    return (
        _span_f1(decode(majority_vote(answers).labels), truth),
        _span_f1(decode(dawid_skene(answers).labels), truth),
    )


@pytest.mark.parametrize(
    ("kind", "answer", "words"),
    [
        ("bbox", "[[1, 2, 3]]", "line 3: box 0: expected [x, y, w, h] or [x, y, w, h, label]"),
        ("bbox", "[[1, 2, 0, 4, 1]]", "line 3: box 0: w and h must be > 0"),
        ("bbox", "{bad json", "line 3: answer is not valid JSON"),
        ("bbox", f"[[{'9' * 5000}, 2, 3, 4]]", "line 3: answer is not valid JSON (Exceeds the limit"),
        ("spans", '[[4, 2, "PER"]]', "line 3: span 0: need integers 0 <= start < end, got [4, 2]"),
        ("spans", '["B-PER", "X"]', "line 3: tag 1: 'X' is not O, B-<label> or I-<label>"),
        ("spans", '[[0, 1, ""]]', "line 3: span 0: label must be a non-empty string"),
    ],
)
def test_a_malformed_answer_is_a_one_line_error_naming_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str, answer: str, words: str
) -> None:
    good = "[[1, 1, 2, 2, 1]]" if kind == "bbox" else '[[0, 1, "PER"]]'
    answers = _write(tmp_path / "answers.csv", [("task", "worker", "answer"), ("t", "a", good), ("t", "b", answer)])

    status = main([str(answers), "--type", kind, "--out", str(tmp_path / "out.csv")])

    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith("error: ") and words in err
    assert err.count("\n") == 1
    assert "Traceback" not in err


@pytest.mark.parametrize("kind", ["bbox", "spans"])
def test_a_worker_answering_a_task_twice_is_an_error_naming_both_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    answer = "[]"
    answers = _write(
        tmp_path / "answers.csv",
        [("task", "worker", "answer"), ("t", "a", answer), ("u", "a", answer), ("t", "a", answer)],
    )

    assert main([str(answers), "--type", kind, "--out", str(tmp_path / "out.csv")]) == 2
    assert "line 4: worker 'a' already answered task 't' on line 2" in capsys.readouterr().err


def test_mixing_span_lists_and_tag_lists_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    answers = _write(
        tmp_path / "answers.csv",
        [("task", "worker", "answer"), ("t", "a", '[[0, 1, "PER"]]'), ("t", "b", '["B-PER", "O"]')],
    )

    assert main([str(answers), "--type", "spans", "--out", str(tmp_path / "out.csv")]) == 2
    assert "line 3: answers mix BIO tag lists and span lists" in capsys.readouterr().err


def test_a_missing_answer_column_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    answers = _write(tmp_path / "answers.csv", [("task", "worker", "label"), ("t", "a", "x")])

    assert main([str(answers), "--type", "bbox", "--out", str(tmp_path / "out.csv")]) == 2
    assert "line 1: missing column(s) 'answer'" in capsys.readouterr().err


def test_a_models_boxes_are_one_more_annotators(tmp_path: Path) -> None:
    answers = _write(
        tmp_path / "answers.csv",
        [
            ("task", "worker", "answer"),
            ("img1", "ann", json.dumps([10, 10, 20, 20])),
            ("img1", "bob", json.dumps([60, 60, 20, 20])),
        ],
    )
    predictions = _write(
        tmp_path / "predictions.csv",
        [("task", "model", "answer"), ("img1", "detector-v1", json.dumps([11, 10, 20, 20]))],
    )
    box = json.dumps([1, 1, 2, 2])
    twice = _write(tmp_path / "twice.csv", [("task", "model", "answer"), ("img1", "m", box), ("img1", "m", box)])

    alone = _run(tmp_path, answers, "bbox")
    with_model = _run(tmp_path, answers, "bbox", "--predictions", str(predictions))

    box = json.loads(with_model["img1"]["answer"])
    assert abs(box[0] - 10.5) <= 1 and abs(box[1] - 10) <= 1  # the model sides with ann: their box wins
    assert float(with_model["img1"]["confidence"]) > float(alone["img1"]["confidence"])
    assert main([str(answers), "--type", "bbox", "--predictions", str(twice), "--out", "-"]) == 2


def test_a_duplicate_prediction_names_its_own_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    answers = _write(
        tmp_path / "answers.csv", [("task", "worker", "answer"), ("img1", "ann", json.dumps([1, 1, 2, 2]))]
    )
    twice = _write(
        tmp_path / "twice.csv",
        [("task", "model", "answer"), ("img1", "m", json.dumps([1, 1, 2, 2])), ("img1", "m", json.dumps([1, 1, 2, 2]))],
    )

    assert main([str(answers), "--type", "bbox", "--predictions", str(twice), "--out", "-"]) == 2
    assert f"{twice} line 3: worker 'model:m' already answered task 'img1' on line 2" in capsys.readouterr().err


def test_a_scored_model_is_one_annotator_per_score_band(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = [("task", "worker", "answer")] + [(f"img{i}", "ann", json.dumps([10, 10, 20, 20])) for i in range(200)]
    answers = _write(tmp_path / "answers.csv", rows)
    predictions = _write(
        tmp_path / "predictions.csv",
        [("task", "model", "answer", "score")]
        + [(f"img{i}", "detector", json.dumps([10, 11, 20, 20]), f"{i / 200:.3f}") for i in range(200)],
    )
    twice = _write(
        tmp_path / "twice.csv",
        [("task", "model", "answer", "score"), ("img1", "m", json.dumps([1, 1, 2, 2]), "0.1")]
        + [(f"img{i}", "m", json.dumps([1, 1, 2, 2]), "0.9") for i in range(1, 200)],
    )
    bad = _write(
        tmp_path / "bad.csv", [("task", "model", "answer", "score"), ("img1", "m", json.dumps([1, 1, 2, 2]), "9")]
    )

    assert len(_run(tmp_path, answers, "bbox", "--predictions", str(predictions))) == 200
    assert main([str(answers), "--type", "bbox", "--predictions", str(twice), "--out", "-"]) == 2
    assert f"{twice} line 3: worker 'model:m' already answered task 'img1' on line 2" in capsys.readouterr().err
    assert main([str(answers), "--type", "bbox", "--predictions", str(bad), "--out", "-"]) == 2
    assert f"{bad} line 2: score '9' is not between 0 and 1" in capsys.readouterr().err

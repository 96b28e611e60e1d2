"""Exports that ML tools read, read back: COCO by pycocotools, CoNLL by a CoNLL reader, spaCy JSONL by json;
and the BIO conversions they rest on."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from marketplace.aggregation.bbox import box_aggregate
from marketplace.aggregation.bbox.coco import CocoBox, CocoImage, coco_dataset
from marketplace.aggregation.spans import span_aggregate
from marketplace.aggregation.spans.bio import spans_to_tags, tags_to_spans
from marketplace.aggregation.spans.export import (
    ConllSentence,
    SpacyDoc,
    char_to_token_spans,
    conll_bio,
    read_conll,
    spacy_jsonl,
)
from tests.aggregation.simulate_structured import box_crowd, span_crowd

CATEGORIES = ["car", "person", "dog"]


def test_fused_boxes_export_to_coco_that_pycocotools_loads_and_scores(tmp_path: Path) -> None:
    crowd = box_crowd(40, seed=6)
    result = box_aggregate(crowd.answers)
    images = [CocoImage(id=t + 1, file_name=f"img{t}.jpg", width=1000, height=800) for t in range(40)]
    truth = coco_dataset(
        images=images,
        categories=CATEGORIES,
        boxes=[
            CocoBox(int(t) + 1, tuple(box), CATEGORIES[label], 1.0)
            for t, box, label in zip(crowd.truth_tasks, crowd.truth_boxes.tolist(), crowd.truth_labels, strict=True)
        ],
    )
    ours = coco_dataset(
        images=images,
        categories=CATEGORIES,
        boxes=[
            CocoBox(int(t) + 1, tuple(box), CATEGORIES[label], float(score))
            for t, box, label, score in zip(
                result.task, result.box.tolist(), result.label, result.confidence, strict=True
            )
        ],
    )
    (tmp_path / "truth.json").write_text(json.dumps(truth))

    ground = COCO(str(tmp_path / "truth.json"))
    detections = ground.loadRes(ours["annotations"])
    evaluation = COCOeval(ground, detections, "bbox")
    evaluation.evaluate()
    evaluation.accumulate()
    evaluation.summarize()

    assert len(ground.getImgIds()) == 40
    assert [c["name"] for c in ground.loadCats(ground.getCatIds())] == CATEGORIES
    assert len(detections.getAnnIds()) == len(result.task)
    first = detections.loadAnns(detections.getAnnIds())[0]
    assert first["score"] == pytest.approx(float(result.confidence[0]))
    assert evaluation.stats[1] > 0.8  # AP at IoU 0.5


def test_coco_refuses_an_unknown_category() -> None:
    with pytest.raises(ValueError, match="box 0"):
        coco_dataset(images=[CocoImage(1, "a.jpg")], categories=["car"], boxes=[CocoBox(1, (0, 0, 1, 1), "cat", 1)])


def test_aggregated_spans_export_to_conll_that_reads_back_to_the_same_spans() -> None:
    crowd = span_crowd(30, seed=7)
    result = span_aggregate(crowd.answers)
    labels = ["PER", "LOC", "ORG", "MISC"]
    sentences = [
        ConllSentence(
            tokens=[f"w{i}" for i in range(int(crowd.answers.lengths[t]))],
            spans=[(s, e, labels[lab]) for s, e, lab in _spans(result, t)],
            document=f"doc{t // 10}",
        )
        for t in range(30)
    ]

    text = conll_bio(sentences, docstart=True)
    back = read_conll(text)

    assert text.count("-DOCSTART-") == 3
    assert len(back) == 30
    for sentence, (tokens, tags) in zip(sentences, back, strict=True):
        assert tokens == list(sentence.tokens)
        assert tags_to_spans(tags) == sorted(sentence.spans)


def _spans(result, task: int) -> list[tuple[int, int, int]]:
    rows = result.task == task
    return list(zip(result.start[rows].tolist(), result.end[rows].tolist(), result.label[rows].tolist(), strict=True))


def test_conll_refuses_tokens_with_spaces() -> None:
    with pytest.raises(ValueError, match="sentence 0"):
        conll_bio([ConllSentence(tokens=["New York"], spans=[])])


def test_spacy_jsonl_reads_back_with_character_offsets() -> None:
    text = "Ada Lovelace met Babbage in London."
    docs = [SpacyDoc(text=text, spans=[(28, 34, "LOC"), (0, 12, "PER")], meta={"task": "t1"}), SpacyDoc("", [])]

    lines = spacy_jsonl(docs).splitlines()

    first = json.loads(lines[0])
    assert [text[s["start"] : s["end"]] for s in first["spans"]] == ["Ada Lovelace", "London"]
    assert first["meta"] == {"task": "t1"}
    assert json.loads(lines[1]) == {"text": "", "spans": [], "meta": {}}
    with pytest.raises(ValueError, match="document 0"):
        spacy_jsonl([SpacyDoc(text="abc", spans=[(1, 9, "PER")])])


def test_character_spans_map_onto_the_tokens_they_touch() -> None:
    offsets = [(0, 3), (4, 12), (13, 16), (17, 24)]  # "Ada Lovelace met Babbage"

    assert char_to_token_spans(offsets, [(0, 12, "PER"), (17, 20, "PER"), (12, 13, "X")]) == [
        (0, 2, "PER"),
        (3, 4, "PER"),
    ]


def test_bio_reading_follows_conlleval_on_ill_formed_tags() -> None:
    assert tags_to_spans(["I-PER", "I-PER", "O", "B-LOC", "I-ORG"]) == [(0, 2, "PER"), (3, 4, "LOC"), (4, 5, "ORG")]
    assert tags_to_spans(["B-PER", "B-PER", "I-PER"]) == [(0, 1, "PER"), (1, 3, "PER")]


def test_spans_to_tags_refuses_overlaps_and_spans_outside_the_text() -> None:
    with pytest.raises(ValueError, match="overlaps"):
        spans_to_tags([(0, 3, "A"), (2, 4, "B")], 5)
    with pytest.raises(ValueError, match="does not fit"):
        spans_to_tags([(3, 7, "A")], 5)


@st.composite
def flat_spans(draw: st.DrawFn) -> tuple[int, list[tuple[int, int, str]]]:
    cuts = sorted(draw(st.sets(st.integers(0, 30), max_size=12)))
    pieces = list(zip(cuts, cuts[1:], strict=False))
    chosen = [p for p in pieces if draw(st.booleans())]
    return 31, [(s, e, draw(st.sampled_from(["PER", "LOC"]))) for s, e in chosen]


@given(flat_spans())
def test_bio_conversion_round_trips_any_flat_set_of_spans(case: tuple[int, list[tuple[int, int, str]]]) -> None:
    length, spans = case
    tags = spans_to_tags(spans, length)

    assert len(tags) == length
    assert tags_to_spans(tags) == sorted(spans)
    assert np.all([t == "O" or t[:2] in ("B-", "I-") for t in tags])

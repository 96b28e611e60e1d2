"""The ``bbox`` and ``spans`` answer types of the registry on small hand-checked cases: schemas, answers checked
against their item (the image's size, the text's length) with errors naming the box or span, grading by F1,
aggregation through the pure engines (boxes fused, a spammer's boxes dropped, adjacent and nested spans), and the
types' own export formats."""

import json

import pytest

from marketplace.aggregation.errors import InvalidAnswerError, InvalidSchemaError
from marketplace.aggregation.spans.export import read_conll
from marketplace.aggregation.types import answer_type
from marketplace.aggregation.types.base import ExportRow

BBOX, SPANS = answer_type("bbox"), answer_type("spans")
IMAGE = {"media": "street.png", "kind": "image", "width": 100, "height": 50}


def boxes_schema(**options):
    return BBOX.parse_schema({"labels": ["car", "person"], **options})


def spans_schema(**options):
    return SPANS.parse_schema({"text_field": "text", "labels": ["PER", "LOC"], **options})


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({}, "labels must be a non-empty list"),
        ({"labels": ["car", "car"]}, "labels must be distinct"),
        ({"labels": ["car"], "min_boxes": 2, "max_boxes": 1}, "max_boxes must be an integer >= max(min_boxes, 1)"),
        ({"labels": ["car"], "iou_threshold": 0}, "iou_threshold must be a number in (0, 1]"),
        ({"labels": ["car"], "image_field": 3}, "image_field must name a field"),
        ({"labels": ["car"], "colour": "red"}, "unknown schema field(s): colour"),
    ],
)
def test_a_bad_bbox_schema_names_its_field(raw, message):
    with pytest.raises(InvalidSchemaError) as refused:
        BBOX.parse_schema(raw)
    assert message in str(refused.value)


def test_a_box_must_fit_the_items_image_and_the_error_names_the_box():
    schema = boxes_schema(max_boxes=2)
    item = {"photo": IMAGE, "caption": "a street"}

    assert BBOX.clean(schema, [[0, 0, 100, 50, "car"]], item=item) == [[0, 0, 100, 50, "car"]]
    with pytest.raises(InvalidAnswerError, match=r"^box 1: y \+ h = 51 exceeds the image height 50$"):
        BBOX.clean(schema, [[0, 0, 10, 10, "car"], [0, 1, 10, 50, "person"]], item=item)
    with pytest.raises(InvalidAnswerError, match=r"box 0: label 'bus' is not one of car, person"):
        BBOX.clean(schema, [[0, 0, 10, 10, "bus"]], item=item)
    with pytest.raises(InvalidAnswerError, match="box 0: w must be > 0"):
        BBOX.clean(schema, [[0, 0, 0, 10, "car"]], item=item)
    with pytest.raises(InvalidAnswerError, match="3 boxes given, at most 2 allowed"):
        BBOX.clean(schema, [[0, 0, 1, 1, "car"]] * 3, item=item)
    with pytest.raises(InvalidAnswerError, match=r"box 0: expected \[x, y, w, h, label\]"):
        BBOX.clean(schema, [[0, 0, 1, "car"]], item=item)


def test_the_image_is_the_named_field_or_the_only_image_and_an_unknown_size_checks_no_bounds():
    huge = [[0, 0, 500, 500, "car"]]
    two_images = {"before": IMAGE, "after": {**IMAGE, "width": 1000, "height": 1000}}

    assert BBOX.clean(boxes_schema(), huge, item=two_images) == huge  # which image? none is assumed
    assert BBOX.clean(boxes_schema(image_field="after"), huge, item=two_images) == huge
    with pytest.raises(InvalidAnswerError, match="exceeds the image width 100"):
        BBOX.clean(boxes_schema(image_field="before"), huge, item=two_images)
    assert BBOX.clean(boxes_schema(), huge, item={"photo": "https://example.org/a.png"}) == huge
    assert BBOX.clean(boxes_schema(), huge) == huge


def test_boxes_are_graded_by_f1_of_the_matches_at_the_iou_threshold():
    schema = boxes_schema(pass_threshold=0.6)
    key = [[0, 0, 10, 10, "car"], [50, 0, 10, 10, "person"]]

    assert BBOX.grade(schema, [[1, 1, 10, 10, "car"], [50, 0, 10, 10, "person"]], key).score == 1.0
    half = BBOX.grade(schema, [[1, 1, 10, 10, "car"]], key)  # precision 1, recall 1/2
    assert half.score == pytest.approx(2 / 3)
    assert half.passed
    wrong_label = BBOX.grade(schema, [[0, 0, 10, 10, "person"], [50, 0, 10, 10, "car"]], key)
    assert (wrong_label.score, wrong_label.passed) == (0.0, False)
    shifted = BBOX.grade(schema, [[5, 5, 10, 10, "car"], [50, 0, 10, 10, "person"]], key)  # IoU 25/175 < 0.5
    assert shifted.score == pytest.approx(0.5)
    assert BBOX.grade(schema, [], []).score == 1.0


def test_three_workers_boxes_fuse_to_the_middle_one_and_a_spammers_stray_boxes_do_not_survive():
    schema = boxes_schema()
    tasks, workers, answers = [], [], []
    for image in range(6):
        for shift, worker in enumerate(["a", "b", "c"]):
            tasks.append(f"img{image}")
            workers.append(worker)
            answers.append([[10 + image + shift, 10 + shift, 20, 20, "car"]])
        tasks.append(f"img{image}")
        workers.append("spammer")
        answers.append([[60 + 3 * image, 30 - image, 8, 8, "person"]])

    consensus = BBOX.aggregate(schema, tasks, workers, answers)

    for image, boxes in enumerate(consensus.answers):
        assert boxes == [[11 + image, 11, 20, 20, "car"]]
    assert all(len(c) == 1 and c[0] > 0.5 for c in consensus.part_confidence)
    quality = dict(zip(consensus.workers.tolist(), consensus.worker_quality.tolist(), strict=True))
    assert min(quality["a"], quality["b"], quality["c"]) > 0.9 > 0.1 > quality["spammer"]


def test_gold_boxes_clamp_their_image_and_a_blocked_worker_is_left_out():
    schema = boxes_schema()
    tasks = ["g", "g", "t", "t", "t"]
    workers = ["a", "b", "a", "b", "x"]
    answers = [[[0, 0, 10, 10, "car"]], [[0, 0, 10, 10, "car"]], [[5, 5, 10, 10, "car"]], [[5, 5, 10, 10, "car"]]]
    answers.append([[40, 20, 10, 10, "person"]])  # the blocked worker's

    consensus = BBOX.aggregate(
        schema, tasks, workers, answers, gold={"g": [[1, 1, 10, 10, "car"]]}, exclude_workers=["x"]
    )

    assert consensus.answers == [[[1, 1, 10, 10, "car"]], [[5, 5, 10, 10, "car"]]]
    assert consensus.gold_used == 1


def test_the_coco_export_names_the_image_file_and_scores_each_box():
    schema = boxes_schema()
    rows = [
        ExportRow(7, "e7", {"photo": IMAGE}, [[1, 2, 3, 4, "person"]], 0.8, [0.9]),
        ExportRow(8, "e8", {"photo": "no-file"}, None, None, None),
    ]

    coco = json.loads("".join(BBOX.exports["coco"].write(schema, rows)))

    assert coco["images"] == [
        {"id": 7, "file_name": "street.png", "width": 100, "height": 50},
        {"id": 8, "file_name": "e8", "width": 0, "height": 0},
    ]
    assert coco["categories"] == [
        {"id": 1, "name": "car", "supercategory": ""},
        {"id": 2, "name": "person", "supercategory": ""},
    ]
    assert coco["annotations"] == [
        {
            "id": 1,
            "image_id": 7,
            "category_id": 2,
            "bbox": [1.0, 2.0, 3.0, 4.0],
            "area": 12.0,
            "iscrowd": 0,
            "score": 0.9,
        }
    ]


# --- spans ---------------------------------------------------------------------------------------------------------


def test_a_spans_schema_needs_the_text_field_and_labels():
    with pytest.raises(InvalidSchemaError, match="text_field must name"):
        SPANS.parse_schema({"labels": ["PER"]})
    with pytest.raises(InvalidSchemaError, match="labels must be"):
        SPANS.parse_schema({"text_field": "text"})
    with pytest.raises(InvalidSchemaError, match="measure must be one of exact, overlap"):
        SPANS.parse_schema({"text_field": "text", "labels": ["PER"], "measure": "iou"})


def test_a_span_must_lie_in_the_items_text_and_the_error_names_the_span():
    schema = spans_schema()
    item = {"text": "Ada met Bob"}  # 11 characters

    assert SPANS.clean(schema, [[8, 11, "PER"], [0, 3, "PER"]], item=item) == [[0, 3, "PER"], [8, 11, "PER"]]
    assert SPANS.clean(schema, [[0, 3, "PER"], [3, 7, "LOC"]], item=item)  # adjacent spans may touch
    with pytest.raises(InvalidAnswerError, match=r"^span 1: end 12 is past the end of the text \(11\)$"):
        SPANS.clean(schema, [[0, 3, "PER"], [8, 12, "PER"]], item=item)
    with pytest.raises(InvalidAnswerError, match="span 0: end 2 must be greater than start 3"):
        SPANS.clean(schema, [[3, 2, "PER"]], item=item)
    with pytest.raises(InvalidAnswerError, match="span 1 overlaps span 0"):
        SPANS.clean(schema, [[0, 7, "PER"], [4, 7, "LOC"]], item=item)
    nested = spans_schema(allow_overlap=True)
    assert SPANS.clean(nested, [[0, 7, "PER"], [4, 7, "LOC"]], item=item) == [[0, 7, "PER"], [4, 7, "LOC"]]


def test_spans_are_graded_by_exact_or_overlap_f1():
    key = [[0, 3, "PER"], [8, 11, "PER"]]
    answer = [[0, 3, "PER"], [8, 10, "PER"]]

    assert SPANS.grade(spans_schema(), answer, key).score == pytest.approx(0.5)
    assert SPANS.grade(spans_schema(measure="overlap"), answer, key).score == 1.0
    assert not SPANS.grade(spans_schema(), [[0, 3, "LOC"]], key).passed


def test_adjacent_spans_stay_apart_and_nested_ones_are_flattened_to_what_the_majority_marked():
    schema = spans_schema(allow_overlap=True)
    item = {"text": "AdaBob went to Rome"}
    tasks = ["t"] * 3
    workers = ["a", "b", "c"]
    answers = [
        [[0, 3, "PER"], [3, 6, "PER"], [15, 19, "LOC"]],
        [[0, 3, "PER"], [3, 6, "PER"], [15, 19, "LOC"]],
        [[0, 6, "PER"], [3, 6, "LOC"], [15, 19, "LOC"]],  # one outer span with a nested one
    ]

    consensus = SPANS.aggregate(schema, tasks, workers, answers, items={"t": item})

    assert consensus.answers == [[[0, 3, "PER"], [3, 6, "PER"], [15, 19, "LOC"]]]
    assert len(consensus.part_confidence[0]) == 3


def test_the_conll_export_tags_whitespace_tokens_and_the_spacy_export_keeps_characters():
    schema = spans_schema()
    rows = [
        ExportRow(1, "a", {"text": "Ada Lovelace met Bob"}, [[0, 12, "PER"], [17, 20, "PER"]], 0.9, [0.95, 0.9]),
        ExportRow(2, "b", {"text": "in Rome"}, None, None, None),
    ]

    conll = "".join(SPANS.exports["conll"].write(schema, rows))
    docs = [json.loads(line) for line in "".join(SPANS.exports["spacy"].write(schema, rows)).splitlines()]

    assert read_conll(conll) == [
        (["Ada", "Lovelace", "met", "Bob"], ["B-PER", "I-PER", "O", "B-PER"]),
        (["in", "Rome"], ["O", "O"]),
    ]
    assert docs[0]["spans"] == [{"start": 0, "end": 12, "label": "PER"}, {"start": 17, "end": 20, "label": "PER"}]
    assert docs[0]["meta"] == {"item_id": 1, "external_id": "a", "confidence": 0.9, "span_confidence": [0.95, 0.9]}
    assert docs[1] == {
        "text": "in Rome",
        "spans": [],
        "meta": {"item_id": 2, "external_id": "b", "confidence": None, "span_confidence": []},
    }

"""Boxes on images and spans in texts, end to end through the HTTP API: a job is created, gets its images (media with
their recorded sizes), items and gold (keys in the type's JSON encoding, checked against their item), launches;
several workers claim and submit, a wrong-shaped answer is a 400 naming the box or span, a spammer is blocked by gold
graded with the type's F1; the aggregation gives each item its boxes or spans with a confidence for the whole and
for each part; the results API and every export serve them, and the type's own files (COCO JSON; CoNLL BIO and
spaCy-style JSONL) are read back by a parser: pycocotools (with COCOeval against the truth), a small CoNLL reader."""

import csv
import io
import json
import re
from contextlib import redirect_stdout
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from PIL import Image
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from marketplace.models import Participation
from marketplace.services.aggregation import job_aggregate
from tests.factories import RequesterFactory, WorkerFactory

pytestmark = pytest.mark.django_db

N_ITEMS, N_GOLD = 6, 8
WIDTH, HEIGHT = 120, 80


def png(width: int, height: int, shade: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (shade, 60, 90)).save(out, format="PNG")
    return out.getvalue()


def upload(client, job_id: int, kind: str, rows: list[dict]) -> Any:
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    file = io.BytesIO(text.getvalue().encode())
    file.name = f"{kind}.csv"
    return client.post(f"/api/v1/jobs/{job_id}/uploads/", {"file": file, "kind": kind}, format="multipart")


def create_job(client, label_schema: dict, item_schema: dict) -> int:
    job = client.post(
        "/api/v1/jobs/",
        {
            "title": f"A {label_schema['type']} job",
            "label_schema": label_schema,
            "item_schema": item_schema,
            "items_per_task": 2,
            "overlap_min": 3,
            "overlap_max": 3,
            "gold_ratio": "0.5",
            "min_gold": 2,
            "reward_cents": 10,
        },
    )
    assert job.status_code == 201, job.content
    return job.json()["id"]


def launch(client, job_id: int) -> None:
    cost = client.get(f"/api/v1/jobs/{job_id}/cost/").json()
    client.post(
        "/api/v1/payments/deposits/", {"amount": cost["total_cents"], "currency": "USD", "idempotency_key": "d"}
    )
    launched = client.post(f"/api/v1/jobs/{job_id}/launch/")
    assert launched.status_code == 200, launched.content


def run_workers(api, job_id: int, capture, bad: Any, check_refusal, answer_of_by_worker: list) -> list[int]:
    """Each worker claims and submits until no work is left; each first sends `bad` (every position refused)."""
    submitted = []
    for worker, answer_of in answer_of_by_worker:
        worker_api, first = api.as_user(worker), True
        while True:
            claim = worker_api.post(f"/api/v1/work/jobs/{job_id}/claim/")
            if claim.status_code != 201:
                break
            assignment = claim.json()
            items = assignment["items"]
            if first:  # a wrong-shaped answer is a 400 naming the position, the box or span, and what was expected
                wrong = [{"position": i["position"], "answer": bad} for i in items]
                refused = worker_api.post(f"/api/v1/work/assignments/{assignment['id']}/submit/", {"answers": wrong})
                assert refused.status_code == 400, refused.content
                errors = refused.json()["extra"]["errors"]
                assert {e["position"] for e in errors} == set(range(len(items)))
                for error in errors:
                    check_refusal(error["message"])
                first = False
            answers = [{"position": i["position"], "answer": answer_of(i)} for i in items]
            with capture(execute=True):  # quality control runs after the commit
                done = worker_api.post(f"/api/v1/work/assignments/{assignment['id']}/submit/", {"answers": answers})
            assert done.status_code == 200, done.content
            submitted.append(assignment["id"])
    return submitted


def exported(client, job_id: int, fmt: str) -> str:
    response = client.get(f"/api/v1/jobs/{job_id}/results/export/?format={fmt}")
    assert response.status_code == 200, response.content
    return b"".join(response.streaming_content).decode()


# --- Boxes -----------------------------------------------------------------------------------------------------------

BOX_TRUTH = [
    [[10, 10, 40, 30, "car"]],
    [[5, 40, 30, 30, "person"], [60, 10, 50, 40, "car"]],
    [[70, 20, 30, 50, "person"]],
    [],
    [[20, 20, 60, 40, "car"]],
    [[0, 0, 25, 25, "person"], [80, 40, 35, 35, "person"]],
]
GOLD_BOXES = [
    [[10, 10, 50, 50, "car"]],
    [[60, 20, 40, 40, "person"]],
    [[30, 5, 40, 60, "car"], [75, 10, 20, 20, "person"]],
    [[5, 5, 100, 60, "car"]],
] * 2


def jittered(boxes: list[list[Any]], shift: int) -> list[list[Any]]:
    """A careful worker's boxes: the truth moved by `shift` pixels, inside the image."""
    return [[max(0, x + shift), max(0, y + shift), w, h, label] for x, y, w, h, label in boxes]


def test_a_bbox_job_runs_from_images_and_gold_to_coco_export(api, django_capture_on_commit_callbacks, tmp_path):
    requester = RequesterFactory()
    client = api.as_user(requester)
    schema = {"type": "bbox", "labels": ["car", "person"], "max_boxes": 3, "iou_threshold": 0.5}
    item_schema = {"fields": [{"name": "photo", "type": "image"}, {"name": "n", "type": "integer"}]}
    job_id = create_job(client, schema, item_schema)

    images = {f"img-{n}.png": png(WIDTH, HEIGHT, n) for n in [*range(N_ITEMS), *range(100, 100 + N_GOLD)]}
    files = [SimpleUploadedFile(name, data) for name, data in images.items()]
    sent = client.post(f"/api/v1/jobs/{job_id}/media/", {"files": files}, format="multipart")
    assert sent.status_code == 201, sent.content

    assert (
        upload(client, job_id, "items", [{"photo": f"img-{i}.png", "n": i} for i in range(N_ITEMS)]).status_code == 201
    )
    outside = [{"photo": "img-100.png", "n": 100, "gold_label": json.dumps([[100, 10, 30, 30, "car"]])}]
    refused = upload(client, job_id, "gold", outside)  # a key must fit its image too
    assert refused.status_code == 400
    assert "box 0: x + w = 130 exceeds the image width 120" in json.dumps(refused.json())
    gold = [
        {"photo": f"img-{100 + g}.png", "n": 100 + g, "gold_label": json.dumps(GOLD_BOXES[g])} for g in range(N_GOLD)
    ]
    assert upload(client, job_id, "gold", gold).status_code == 201
    launch(client, job_id)

    def truth_of(item: dict) -> list[list[Any]]:
        n = item["payload"]["n"]
        return BOX_TRUTH[n] if n < 100 else GOLD_BOXES[n - 100]

    def refusal(message: str) -> None:
        assert message == "box 0: x + w = 125 exceeds the image width 120"

    spammer = WorkerFactory()
    honest = [WorkerFactory() for _ in range(3)]
    workers = [(spammer, lambda item: [[90, 60, 8, 8, "car"]])]
    workers += [(worker, lambda item, s=s: jittered(truth_of(item), s)) for s, worker in enumerate(honest)]
    run_workers(api, job_id, django_capture_on_commit_callbacks, [[95, 10, 30, 20, "car"]], refusal, workers)

    assert Participation.objects.get(job_id=job_id, worker=spammer).blocked_at is not None
    job_aggregate(job_id=job_id)
    results = {r["payload"]["n"]: r for r in client.get(f"/api/v1/jobs/{job_id}/results/").json()["results"]}
    assert len(results) == N_ITEMS
    for i, truth in enumerate(BOX_TRUTH):
        result = results[i]
        boxes = result["label"]
        assert sorted(b[4] for b in boxes) == sorted(b[4] for b in truth), (i, boxes)
        for box in boxes:  # the fused box: the honest workers' middle one, within a pixel
            middle = jittered(truth, 1)
            assert any(
                b[4] == box[4] and all(abs(u - v) <= 1.01 for u, v in zip(box[:4], b[:4], strict=True)) for b in middle
            )
        assert len(result["part_confidence"]) == len(boxes)
        assert all(0.5 <= c <= 1 for c in result["part_confidence"])
        assert 0.5 <= result["confidence"] <= 1
    agreement = client.get(f"/api/v1/jobs/{job_id}/agreement/")  # a statistic of classes: none here, no error
    assert agreement.status_code == 200, agreement.content
    pages = Client()
    pages.force_login(requester)
    for page in ("job", "dashboard"):  # the requester's pages show a box job's results too
        assert pages.get(reverse(f"web:requester:{page}", args=[job_id])).status_code == 200, page
    quality = {w["worker"]: w for w in client.get(f"/api/v1/jobs/{job_id}/workers/").json()["results"]}
    assert all(quality[w.pk]["estimated_accuracy"] > 0.9 for w in honest)

    # The project's own files: JSONL and CSV carry the boxes in their JSON encoding, with each box's confidence.
    lines = [json.loads(line) for line in exported(client, job_id, "jsonl").splitlines()]
    assert {row["item_id"]: row["label"] for row in lines} == {r["id"]: r["label"] for r in results.values()}
    assert all(len(row["part_confidence"]) == len(row["label"]) for row in lines)
    rows = list(csv.DictReader(io.StringIO(exported(client, job_id, "csv"))))
    assert {int(row["item_id"]): json.loads(row["label"]) for row in rows} == {
        r["id"]: r["label"] for r in results.values()
    }

    # COCO, read back by pycocotools, and the boxes scored against the truth by COCOeval.
    path = tmp_path / "coco.json"
    path.write_text(exported(client, job_id, "coco"))
    with redirect_stdout(io.StringIO()):
        coco = COCO(str(path))
    assert [c["name"] for c in coco.loadCats(coco.getCatIds())] == ["car", "person"]
    by_item = {r["id"]: r for r in results.values()}
    assert sorted(coco.getImgIds()) == sorted(by_item)
    for image in coco.loadImgs(coco.getImgIds()):
        assert (image["width"], image["height"]) == (WIDTH, HEIGHT)
        assert image["file_name"] == f"img-{by_item[image['id']]['payload']['n']}.png"
    assert len(coco.getAnnIds()) == sum(len(boxes) for boxes in BOX_TRUTH)
    truth = {
        "images": coco.dataset["images"],
        "categories": coco.dataset["categories"],
        "annotations": [
            {
                "id": k,
                "image_id": item_id,
                "category_id": 1 + ["car", "person"].index(b[4]),
                "bbox": b[:4],
                "area": b[2] * b[3],
                "iscrowd": 0,
            }
            for k, (item_id, b) in enumerate(
                ((item_id, b) for item_id, r in by_item.items() for b in BOX_TRUTH[r["payload"]["n"]]), start=1
            )
        ],
    }
    (tmp_path / "truth.json").write_text(json.dumps(truth))
    with redirect_stdout(io.StringIO()):
        ground = COCO(str(tmp_path / "truth.json"))
        evaluation = COCOeval(ground, ground.loadRes(coco.dataset["annotations"]), "bbox")
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    assert evaluation.stats[1] > 0.99  # AP at IoU 0.5


# --- Spans -----------------------------------------------------------------------------------------------------------

TEXTS = [
    "Ada Lovelace met Charles Babbage in London",
    "Paris is in France",
    "nothing to see here",
    "Grace Hopper worked at Harvard",
    "Alan Turing was born in Maida Vale , London",
    "Berlin and Rome",
]
SPAN_TRUTH = [
    [[0, 12, "PER"], [17, 32, "PER"], [36, 42, "LOC"]],
    [[0, 5, "LOC"], [12, 18, "LOC"]],
    [],
    [[0, 12, "PER"], [23, 30, "ORG"]],
    [[0, 11, "PER"], [24, 34, "LOC"], [37, 43, "LOC"]],
    [[0, 6, "LOC"], [11, 15, "LOC"]],
]
GOLD_TEXTS = ["Marie Curie lived in Warsaw", "IBM hired Bob", "the sky is blue", "Oslo is cold"] * 2
GOLD_SPANS = [[[0, 11, "PER"], [21, 27, "LOC"]], [[0, 3, "ORG"], [10, 13, "PER"]], [], [[0, 4, "LOC"]]] * 2


def read_conll(text: str) -> list[list[tuple[str, str]]]:
    """A small CoNLL reader, independent of the project's: blank lines end sentences; a line is `token tag`."""
    sentences, current = [], []
    for line in text.split("\n"):
        if line.strip():
            token, tag = line.split("\t")
            assert re.fullmatch(r"O|[BI]-[A-Z]+", tag), tag
            current.append((token, tag))
        elif current:
            sentences.append(current)
            current = []
    return sentences


def bio(text: str, spans: list[list[Any]]) -> list[tuple[str, str]]:
    """The truth as CoNLL tags of the whitespace tokens."""
    out = []
    for match in re.finditer(r"\S+", text):
        inside = [s for s in spans if s[0] <= match.start() and match.end() <= s[1]]
        tag = "O" if not inside else ("B-" if inside[0][0] == match.start() else "I-") + inside[0][2]
        out.append((match.group(), tag))
    return out


@pytest.mark.parametrize(
    ("label_schema", "message"),
    [
        ({"type": "spans", "labels": ["PER"]}, "text_field must name"),
        ({"type": "spans", "text_field": "n", "labels": ["PER"]}, "text_field 'n' must name a field of type string"),
        ({"type": "spans", "text_field": "nope", "labels": ["PER"]}, "text_field 'nope' must name a field of type"),
        (
            {"type": "bbox", "labels": ["car"], "image_field": "text"},
            "image_field 'text' must name a field of type image",
        ),
        ({"type": "bbox", "labels": []}, "labels must be a non-empty list"),
        ({"type": "bbox", "labels": ["car"], "max_boxes": 0}, "max_boxes must be an integer >= max(min_boxes, 1)"),
    ],
)
def test_a_bad_box_or_span_schema_is_a_400_naming_the_label_schema(api, label_schema, message):
    client = api.as_user(RequesterFactory())
    item_schema = {"fields": [{"name": "text", "type": "string"}, {"name": "n", "type": "integer"}]}
    response = client.post(
        "/api/v1/jobs/", {"title": "t", "label_schema": label_schema, "item_schema": item_schema, "reward_cents": 5}
    )
    assert response.status_code == 400
    body = response.json()
    assert "label_schema" in json.dumps(body["extra"]), body
    assert message in json.dumps(body), body


def test_a_spans_job_runs_from_texts_and_gold_to_conll_and_spacy_exports(api, django_capture_on_commit_callbacks):
    requester = RequesterFactory()
    client = api.as_user(requester)
    schema = {"type": "spans", "text_field": "text", "labels": ["PER", "LOC", "ORG"], "max_spans": 5}
    job_id = create_job(
        client, schema, {"fields": [{"name": "text", "type": "string"}, {"name": "n", "type": "integer"}]}
    )
    bad_key = [{"text": GOLD_TEXTS[0], "n": 100, "gold_label": json.dumps([[21, 40, "LOC"]])}]
    refused = upload(client, job_id, "gold", bad_key)
    assert refused.status_code == 400
    assert "span 0: end 40 is past the end of the text (27)" in json.dumps(refused.json())
    items = [{"text": TEXTS[i], "n": i} for i in range(N_ITEMS)]
    assert upload(client, job_id, "items", items).status_code == 201
    gold = [{"text": GOLD_TEXTS[g], "n": 100 + g, "gold_label": json.dumps(GOLD_SPANS[g])} for g in range(N_GOLD)]
    assert upload(client, job_id, "gold", gold).status_code == 201
    launch(client, job_id)

    def truth_of(item: dict) -> list[list[Any]]:
        n = item["payload"]["n"]
        return SPAN_TRUTH[n] if n < 100 else GOLD_SPANS[n - 100]

    def sloppy(item: dict) -> list[list[Any]]:  # an honest worker who misses the last span of each real text
        truth = truth_of(item)
        return truth[:-1] if item["payload"]["n"] < 100 and len(truth) > 1 else truth

    def refusal(message: str) -> None:
        assert re.fullmatch(r"span 0: end 500 is past the end of the text \(\d+\)", message), message

    spammer = WorkerFactory()
    honest = [WorkerFactory() for _ in range(3)]
    workers = [(spammer, lambda item: [[1, 3, "ORG"]])]
    workers += [(honest[0], truth_of), (honest[1], truth_of), (honest[2], sloppy)]
    run_workers(api, job_id, django_capture_on_commit_callbacks, [[0, 500, "PER"]], refusal, workers)

    assert Participation.objects.get(job_id=job_id, worker=spammer).blocked_at is not None
    job_aggregate(job_id=job_id)
    results = client.get(f"/api/v1/jobs/{job_id}/results/").json()["results"]
    assert len(results) == N_ITEMS
    for result in results:
        assert result["label"] == SPAN_TRUTH[result["payload"]["n"]], result
        assert len(result["part_confidence"]) == len(result["label"])
        assert all(0.5 <= c <= 1 for c in result["part_confidence"])
        assert 0.5 <= result["confidence"] <= 1
    by_n = {r["payload"]["n"]: r for r in results}

    conll = read_conll(exported(client, job_id, "conll"))
    non_empty = [n for n in sorted(by_n, key=lambda n: by_n[n]["id"]) if TEXTS[n].strip()]
    assert conll == [bio(TEXTS[n], SPAN_TRUTH[n]) for n in non_empty]

    docs = [json.loads(line) for line in exported(client, job_id, "spacy").splitlines()]
    assert len(docs) == N_ITEMS
    n_of_item = {r["id"]: r["payload"]["n"] for r in results}
    for doc in docs:
        n = n_of_item[doc["meta"]["item_id"]]
        assert doc["text"] == TEXTS[n]
        assert [[s["start"], s["end"], s["label"]] for s in doc["spans"]] == SPAN_TRUTH[n]
        assert len(doc["meta"]["span_confidence"]) == len(doc["spans"])

    wrong_format = client.get(f"/api/v1/jobs/{job_id}/results/export/?format=coco")
    assert wrong_format.status_code == 400
    assert "conll" in json.dumps(wrong_format.json())


def test_a_spans_job_over_text_files_checks_offsets_against_each_file_shows_its_text_and_exports_it(
    api, django_capture_on_commit_callbacks
):
    requester = RequesterFactory()
    client = api.as_user(requester)
    schema = {"type": "spans", "text_field": "doc", "labels": ["PER", "LOC", "ORG"], "max_spans": 5}
    job_id = create_job(
        client, schema, {"fields": [{"name": "doc", "type": "text_file"}, {"name": "n", "type": "integer"}]}
    )
    texts = {f"doc-{n}.txt": TEXTS[n] for n in range(N_ITEMS)}
    texts |= {f"doc-{100 + g}.txt": GOLD_TEXTS[g] for g in range(N_GOLD)}
    files = [SimpleUploadedFile(name, text.encode()) for name, text in texts.items()]
    assert client.post(f"/api/v1/jobs/{job_id}/media/", {"files": files}, format="multipart").status_code == 201
    bad_key = [{"doc": "doc-100.txt", "n": 100, "gold_label": json.dumps([[21, 40, "LOC"]])}]
    refused = upload(client, job_id, "gold", bad_key)  # a key must fit its file's text
    assert refused.status_code == 400
    assert "span 0: end 40 is past the end of the text (27)" in json.dumps(refused.json())
    assert upload(client, job_id, "items", [{"doc": f"doc-{i}.txt", "n": i} for i in range(N_ITEMS)]).status_code == 201
    gold = [{"doc": f"doc-{100 + g}.txt", "n": 100 + g, "gold_label": json.dumps(GOLD_SPANS[g])} for g in range(N_GOLD)]
    assert upload(client, job_id, "gold", gold).status_code == 201
    launch(client, job_id)

    def truth_of(item: dict) -> list[list[Any]]:
        n = item["payload"]["n"]
        return SPAN_TRUTH[n] if n < 100 else GOLD_SPANS[n - 100]

    def refusal(message: str) -> None:
        assert re.fullmatch(r"span 0: end 500 is past the end of the text \(\d+\)", message), message

    worker = WorkerFactory()
    held = api.as_user(worker).post(f"/api/v1/work/jobs/{job_id}/claim/").json()
    pages = Client()
    pages.force_login(worker)
    page = pages.get(f"/work/tasks/{held['id']}/").content.decode()
    drawn = [json.loads(text) for text in re.findall(r'<script[^>]*type="application/json">(.*?)</script>', page)]
    assert sorted(drawn) == sorted(texts[f"doc-{item['payload']['n']}.txt"] for item in held["items"])  # read
    assert api.as_user(worker).post(f"/api/v1/work/assignments/{held['id']}/release/").status_code == 200

    spammer, honest = WorkerFactory(), [WorkerFactory() for _ in range(3)]
    workers = [(spammer, lambda item: [[1, 3, "ORG"]]), *((w, truth_of) for w in honest)]
    run_workers(api, job_id, django_capture_on_commit_callbacks, [[0, 500, "PER"]], refusal, workers)

    assert Participation.objects.get(job_id=job_id, worker=spammer).blocked_at is not None
    job_aggregate(job_id=job_id)
    results = client.get(f"/api/v1/jobs/{job_id}/results/").json()["results"]
    assert {r["payload"]["n"]: r["label"] for r in results} == {n: SPAN_TRUTH[n] for n in range(N_ITEMS)}
    by_id = {r["id"]: r["payload"]["n"] for r in results}
    conll = read_conll(exported(client, job_id, "conll"))
    assert conll == [bio(TEXTS[n], SPAN_TRUTH[n]) for n in range(N_ITEMS)]  # items in id order: as uploaded
    docs = [json.loads(line) for line in exported(client, job_id, "spacy").splitlines()]
    assert {by_id[d["meta"]["item_id"]]: d["text"] for d in docs} == {n: TEXTS[n] for n in range(N_ITEMS)}

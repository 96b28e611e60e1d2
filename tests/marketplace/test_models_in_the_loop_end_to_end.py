"""Models in the loop, end to end through the HTTP API on the real commit path: a job with predictions from two model
versions (a good one and a constant, bad one), the least certain items claimed first, workers labeling, the
aggregation weighting each model by what it earned, items stopped at one paid answer where the good model and a
person agree, and items appended to the running job, funded and worked."""

import random

import pytest

from marketplace.models import ItemResult
from tests.factories import WorkerFactory
from tests.marketplace.helpers import csv_file

pytestmark = pytest.mark.django_db(transaction=True)  # on-commit work (aggregation, raises) runs as in production
CLASSES = ["cat", "dog", "bird"]


def rows(start: int, n: int, seed: int) -> tuple[str, list[str]]:
    """Items whose URL carries their class (the simulated workers' and models' truth)."""
    rng = random.Random(seed)
    truth = [rng.choice(CLASSES) for _ in range(n)]
    text = "external_id,image_url\n" + "".join(
        f"i{start + i},https://example.com/{c}/{start + i}.jpg\n" for i, c in enumerate(truth)
    )
    return text, truth


def truth_of(payload: dict) -> str:
    return payload["image_url"].split("/")[3]


def predictions(items: list[dict], model: str, answer_of, score_of) -> list[dict]:
    return [{"item": i["id"], "model": model, "answer": answer_of(i), "score": score_of(i)} for i in items]


def work(api, job_id: int, workers: list, rng: random.Random) -> int:
    """Workers right 70% of the time take turns until nobody gets work; returns the submissions."""
    done, progress = 0, True
    while progress:
        progress = False
        for worker in workers:
            client = api.as_user(worker)
            claimed = client.post(f"/api/v1/work/jobs/{job_id}/claim/")
            if claimed.status_code != 201:
                continue
            body = claimed.json()
            answers = []
            for item in body["items"]:
                truth = truth_of(item["payload"])
                wrong = rng.choice([c for c in CLASSES if c != truth])
                answers.append({"position": item["position"], "answer": truth if rng.random() < 0.7 else wrong})
            submitted = client.post(f"/api/v1/work/assignments/{body['id']}/submit/", {"answers": answers})
            assert submitted.status_code == 200, submitted.content
            done, progress = done + 1, True
    return done


def test_a_job_with_two_models_pays_for_what_the_models_cannot_settle(api, requester_api):
    created = requester_api.post(
        "/api/v1/jobs/",
        {
            "title": "Which animal?",
            "label_schema": {"type": "single_choice", "classes": CLASSES},
            "reward_cents": 10,
            "items_per_task": 1,
            "overlap_min": 1,
            "overlap_max": 4,
            # Calibrated on the job's 24 gold, a model and one 70% person who agree give 0.93-0.97: at the default
            # 0.95 such an item stops or not by the draw of the gold; 0.9 is the target the bench measures.
            "confidence_target": 0.9,
            "gold_ratio": "0.5",
            "min_gold": 1000,
            "max_open_assignments": 1,
            "claim_order": "uncertain",
            "continuous": True,
        },
    )
    assert created.status_code == 201, created.content
    job_id = created.json()["id"]
    items_csv, _ = rows(0, 24, seed=1)
    gold_csv = "image_url,gold_label\n" + "".join(
        f"https://example.com/{c}/g{i}.jpg,{c}\n" for i, c in enumerate(CLASSES * 8)
    )
    for text, kind in ((items_csv, "items"), (gold_csv, "gold")):
        upload = requester_api.post(
            f"/api/v1/jobs/{job_id}/uploads/", {"file": csv_file(text), "kind": kind}, format="multipart"
        )
        assert upload.status_code == 201, upload.content
    items = requester_api.get(f"/api/v1/jobs/{job_id}/items/?page_size=100").json()["results"]
    doubtful = {i["id"] for i in items if not i.get("is_gold") and i["external_id"] in ("i5", "i17")}
    sent = requester_api.post(
        f"/api/v1/jobs/{job_id}/predictions/",
        {
            "predictions": predictions(
                items, "good-v2", lambda i: truth_of(i["payload"]), lambda i: 0.3 if i["id"] in doubtful else 0.95
            )
            + predictions(items, "bad-v1", lambda i: "bird", lambda i: 0.99)
        },
    )
    assert sent.status_code == 201, sent.content
    cost = requester_api.get(f"/api/v1/jobs/{job_id}/cost/").json()["total_cents"]
    deposit = {"amount": cost + 1000, "currency": "USD"}
    assert requester_api.post("/api/v1/payments/deposits/", deposit, HTTP_IDEMPOTENCY_KEY="e2e-1").status_code == 201
    assert requester_api.post(f"/api/v1/jobs/{job_id}/launch/").status_code == 200

    # Uncertain first: before any answer, the items the models score lowest come first.
    early = api.as_user(WorkerFactory())
    first = early.post(f"/api/v1/work/jobs/{job_id}/claim/").json()
    [real] = [i["payload"]["image_url"] for i in first["items"] if "/g" not in i["payload"]["image_url"]]
    assert real.endswith(("/5.jpg", "/17.jpg")), real
    answers = [{"position": i["position"], "answer": truth_of(i["payload"])} for i in first["items"]]
    assert early.post(f"/api/v1/work/assignments/{first['id']}/submit/", {"answers": answers}).status_code == 200
    workers = WorkerFactory.create_batch(6)
    rng = random.Random(4)
    work(api, job_id, workers, rng)

    reports = {r["model"]: r for r in requester_api.get(f"/api/v1/jobs/{job_id}/models/").json()}
    assert reports["good-v2"]["estimated_accuracy"] > 0.8 > 0.5 > reports["bad-v1"]["estimated_accuracy"]
    results = ItemResult.objects.filter(job_id=job_id).select_related("item")
    right = sum(r.label == truth_of(r.item.payload) for r in results)
    paid = sum(r.answer_count for r in results)
    assert right >= 23  # the good model settles what the 70% workers get wrong; the bad one moves nothing
    # One paid answer where the good model and a person agree (at least half the items), more where they do not.
    assert sum(r.answer_count == 1 for r in results) >= 12 and max(r.answer_count for r in results) > 1
    assert paid < 24 * 2

    # The training loop's next batch: appended to the running job, funded from the balance, worked.
    more, _ = rows(100, 6, seed=2)
    appended = requester_api.post(
        f"/api/v1/jobs/{job_id}/uploads/", {"file": csv_file(more), "kind": "items"}, format="multipart"
    )
    assert appended.status_code == 201 and appended.json()["tasks_created"] == 6
    assert requester_api.get(f"/api/v1/jobs/{job_id}/progress/").json()["slots_waiting_for_funds"] == 0
    assert work(api, job_id, workers, rng) >= 6
    assert ItemResult.objects.filter(job_id=job_id).count() == 30

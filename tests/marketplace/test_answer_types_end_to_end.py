"""Answer types beyond single choice, end to end through the HTTP API: a multi-label, a transcription, a rating and a
pairwise comparison job are created, get items and gold (keys in the type's encoding), launch; several workers claim
and submit, a spammer is blocked by gold graded with the type's own measure; the aggregation gives each item an
answer and a confidence; the results API and the export serve them in the type's encoding; appeals are decided by
the type's own measure against the other workers' aggregate: the spammer's waits for an admin, an honest worker's
wrongly rejected work is overturned at once."""

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from marketplace.models import Dispute, Participation, WebhookDelivery
from marketplace.services.aggregation import job_aggregate
from tests.factories import RequesterFactory, WorkerFactory

pytestmark = pytest.mark.django_db

N_ITEMS, N_GOLD = 6, 8


@dataclass(frozen=True)
class Case:
    schema: dict[str, Any]
    truth: list[Any]  # per item, then per gold item
    wrong: Any  # what the spammer always answers
    bad: Any  # an answer of the wrong shape
    fields: Callable[[int], dict[str, Any]] = lambda n: {}  # what else item n carries (a pairwise item's sides)


def quality(n: int) -> int:
    """The hidden order of the passages a pairwise job compares: passage `p<k>` ranks by (5k mod 13)."""
    return (5 * n) % 13


def sides(n: int) -> dict[str, Any]:
    """Pairwise item n compares passage p<n mod 13> with p<(n+4) mod 13>, never the same passage twice."""
    return {"left": f"p{n % 13}", "right": f"p{(n + 4) % 13}"}


def winner(n: int) -> str:
    return "left" if quality(n % 13) > quality((n + 4) % 13) else "right"


CASES = {
    "multi_choice": Case(
        {"type": "multi_choice", "choices": ["red", "green", "blue"], "min_count": 1},
        [["red"], ["red", "blue"], ["green"], ["blue"], ["red", "green"], ["green", "blue"]]
        + [["red"], ["blue"], ["red", "blue"]] * 3,  # gold keys: a spammer always saying "green" matches none
        ["green"],
        "red",
    ),
    "text": Case(
        {"type": "text", "max_length": 200},
        [f"the cat sat on mat {i}" for i in range(N_ITEMS + N_GOLD)],
        "lorem ipsum dolor",
        12,
    ),
    "number": Case(
        {"type": "number", "min": 1, "max": 5, "step": 1},
        [1 + (i % 5) for i in range(N_ITEMS + N_GOLD)],
        5,
        "five",
    ),
    "pairwise": Case(
        {"type": "pairwise", "allow_tie": True},
        [winner(i) for i in range(N_ITEMS)] + [winner(100 + g) for g in range(N_GOLD)],
        "tie",  # an explicit tie, allowed by the schema, against a known order: half a point, never a pass
        "middle",
        sides,
    ),
}


def approx(value: Any) -> Any:
    return pytest.approx(value, abs=0.01) if isinstance(value, int | float) else value


def upload(client, job_id: int, kind: str, rows: list[dict]) -> None:
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    file = io.BytesIO(text.getvalue().encode())
    file.name = f"{kind}.csv"
    response = client.post(f"/api/v1/jobs/{job_id}/uploads/", {"file": file, "kind": kind}, format="multipart")
    assert response.status_code == 201, response.content


def item_fields(case: Case) -> list[dict[str, str]]:
    return [{"name": name, "type": "string"} for name in case.fields(0)]


def cell(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


@pytest.mark.parametrize("name", list(CASES))
def test_a_job_of_this_type_runs_from_upload_to_results_export_and_appeal(
    api, name, django_capture_on_commit_callbacks
):
    case = CASES[name]
    requester = RequesterFactory()
    client = api.as_user(requester)
    job = client.post(
        "/api/v1/jobs/",
        {
            "title": f"A {name} job",
            "label_schema": case.schema,
            "item_schema": {"fields": [{"name": "n", "type": "integer"}, *item_fields(case)]},
            "items_per_task": 2,
            "overlap_min": 4,  # the spammer's, and three honest workers' (two others behind each honest answer)
            "overlap_max": 4,
            "gold_ratio": "0.5",
            "min_gold": 2,
            "reward_cents": 10,
        },
    )
    assert job.status_code == 201, job.content
    job_id = job.json()["id"]
    hook = {"url": "https://example.com/hooks", "events": ["results.updated"], "description": "results"}
    assert client.post(f"/api/v1/jobs/{job_id}/webhooks/", hook).status_code == 201
    upload(client, job_id, "items", [{"external_id": f"i{i}", "n": i, **case.fields(i)} for i in range(N_ITEMS)])
    gold = [{"n": 100 + g, **case.fields(100 + g), "gold_label": cell(case.truth[N_ITEMS + g])} for g in range(N_GOLD)]
    upload(client, job_id, "gold", gold)
    cost = client.get(f"/api/v1/jobs/{job_id}/cost/").json()
    client.post(
        "/api/v1/payments/deposits/", {"amount": cost["total_cents"], "currency": "USD", "idempotency_key": "d"}
    )
    assert client.post(f"/api/v1/jobs/{job_id}/launch/").status_code == 200

    def truth_of(item: dict) -> Any:
        n = item["payload"]["n"]
        return case.truth[n] if n < 100 else case.truth[N_ITEMS + n - 100]

    def work(worker, answer_of) -> list[int]:
        done, worker_api = [], api.as_user(worker)
        while True:
            claim = worker_api.post(f"/api/v1/work/jobs/{job_id}/claim/")
            if claim.status_code != 201:
                return done
            items = claim.json()["items"]
            if not done:  # a wrong-shaped answer is a 400 naming the position
                bad = [{"position": i["position"], "answer": case.bad} for i in items]
                refused = worker_api.post(f"/api/v1/work/assignments/{claim.json()['id']}/submit/", {"answers": bad})
                assert refused.status_code == 400
                assert {e["position"] for e in refused.json()["extra"]["errors"]} == {0, 1, 2, 3}
            answers = [{"position": i["position"], "answer": answer_of(i)} for i in items]
            with django_capture_on_commit_callbacks(execute=True):  # quality control runs after the commit
                submitted = worker_api.post(
                    f"/api/v1/work/assignments/{claim.json()['id']}/submit/", {"answers": answers}
                )
            assert submitted.status_code == 200, submitted.content
            done.append(claim.json()["id"])

    spammer = WorkerFactory()
    work(spammer, lambda item: case.wrong)
    honest = [WorkerFactory() for _ in range(3)]
    for worker in honest:
        work(worker, truth_of)

    assert Participation.objects.get(job_id=job_id, worker=spammer).blocked_at is not None
    job_aggregate(job_id=job_id)
    results = {r["external_id"]: r for r in client.get(f"/api/v1/jobs/{job_id}/results/").json()["results"]}
    labels = {key: r["label"] for key, r in results.items()}
    assert labels == {f"i{i}": approx(case.truth[i]) for i in range(N_ITEMS)}  # numbers: the estimated true value
    assert all(0.5 <= r["confidence"] <= 1 for r in results.values())
    export = client.get(f"/api/v1/jobs/{job_id}/results/export/?file_format=jsonl")
    lines = [json.loads(line) for line in b"".join(export.streaming_content).decode().splitlines() if line]
    assert {row["external_id"]: row["label"] for row in lines} == labels
    export = client.get(f"/api/v1/jobs/{job_id}/results/export/?format=csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(export.streaming_content).decode())))
    assert {row["external_id"]: row["label"] for row in rows} == {key: cell(label) for key, label in labels.items()}
    scores = client.get(f"/api/v1/jobs/{job_id}/aggregation/").json()["item_scores"]
    if case.fields(0):  # pairwise: each compared passage gets a score, which orders every pair compared as its truth
        pairs = [(sides(n), winner(n)) for n in [*range(N_ITEMS), *range(100, 100 + N_GOLD)]]
        assert all((scores[pair["left"]] > scores[pair["right"]]) == (won == "left") for pair, won in pairs)
        assert len(scores) == 13
    else:
        assert scores == {}
    [event] = WebhookDelivery.objects.filter(job_id=job_id, event_type="results.updated")
    assert {i["external_id"]: i["label"] for i in event.payload["data"]["updated_items"]} == labels

    rejected = client.get(f"/api/v1/jobs/{job_id}/assignments/?worker={spammer.pk}").json()["results"]
    assert rejected and all(a["review_status"] == "rejected" for a in rejected)
    appeal = api.as_user(spammer).post(
        f"/api/v1/work/assignments/{rejected[0]['id']}/appeal/", {"message": "I was right."}
    )
    assert appeal.status_code == 201, appeal.content
    assert appeal.json()["status"] == "open"  # the others' aggregate contradicts every answer: an admin decides
    assert Dispute.objects.get(pk=appeal.json()["id"]).agreement == 0.0

    wronged = client.get(f"/api/v1/jobs/{job_id}/assignments/?worker={honest[0].pk}").json()["results"][0]
    review = client.post(f"/api/v1/jobs/{job_id}/review/", {"reject": [{"id": wronged["id"], "reason": "No."}]})
    assert review.json()["rejected"] == [wronged["id"]], review.content
    appeal = api.as_user(honest[0]).post(f"/api/v1/work/assignments/{wronged['id']}/appeal/", {"message": "Look."})
    assert appeal.status_code == 201, appeal.content
    overturned = Dispute.objects.get(pk=appeal.json()["id"])
    assert (overturned.status, overturned.decision, overturned.agreement) == ("resolved", "overturn", 1.0)


@pytest.mark.parametrize(
    ("row", "field", "message"),
    [
        ({"n": 1, "left": "p1", "right": ""}, "right", "right: a pairwise item names its side"),
        ({"n": 1, "left": "p1", "right": "p1"}, "right", "right: a pairwise item compares two different ids"),
    ],
)
def test_a_pairwise_item_without_two_different_sides_is_refused_naming_the_row_and_field(api, row, field, message):
    client = api.as_user(RequesterFactory())
    fields = [{"name": "n", "type": "integer"}, *item_fields(CASES["pairwise"])]
    for spec in fields[1:]:
        spec["required"] = False
    job = client.post(
        "/api/v1/jobs/",
        {"title": "Pairs", "label_schema": {"type": "pairwise"}, "item_schema": {"fields": fields}, "reward_cents": 5},
    )
    assert job.status_code == 201, job.content
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=["n", "left", "right"])
    writer.writeheader()
    writer.writerows([{"n": 0, "left": "p0", "right": "p1"}, row])
    file = io.BytesIO(text.getvalue().encode())
    file.name = "items.csv"

    response = client.post(
        f"/api/v1/jobs/{job.json()['id']}/uploads/", {"file": file, "kind": "items"}, format="multipart"
    )

    assert response.status_code == 400, response.content
    [error] = response.json()["extra"]["errors"]
    assert (error["row"], error["field"]) == (2, field)
    assert error["message"].startswith(message)

"""The posterior Dawid-Skene stores for each item is served: in the results list, the CSV and JSONL exports, and
the `results.updated` webhook, always as class -> probability over the label schema's classes."""

import csv
import io
import json

import pytest

from marketplace.models import ItemResult, Job, WebhookDelivery
from marketplace.services.aggregation import job_aggregate
from marketplace.services.assignments import assignment_claim, assignment_submit
from marketplace.services.webhooks import webhook_endpoint_create
from tests.factories import WorkerFactory
from tests.marketplace.helpers import answers_for, launched_job

pytestmark = pytest.mark.django_db
CLASSES = ["cat", "dog", "bird"]


def answer_one_task(job: Job, *labels: str) -> None:
    """One worker per label answers the next free task, every item with that label."""
    for label in labels:
        worker = WorkerFactory()
        assignment = assignment_claim(job_id=job.pk, worker=worker)
        assignment_submit(assignment_id=assignment.pk, worker=worker, answers=answers_for(assignment, label))


@pytest.fixture
def job(requester) -> Job:
    """Two tasks of two items, two answers each, no gold; the first task answered and aggregated."""
    job = launched_job(requester, n_items=4, items_per_task=2, overlap_min=2, overlap_max=2, gold_ratio=0)
    answer_one_task(job, "cat", "cat")
    job_aggregate(job_id=job.pk)
    return job


def stored(job: Job) -> dict[int, dict[str, float]]:
    return {r.item_id: dict(zip(CLASSES, r.posterior, strict=True)) for r in ItemResult.objects.filter(job=job)}


def test_each_result_carries_its_posterior_by_class_and_null_before_any_aggregation(requester_api, job):
    results = requester_api.get(f"/api/v1/jobs/{job.pk}/results/").json()["results"]

    posteriors = {r["id"]: r["posterior"] for r in results}
    assert len(stored(job)) == 2
    assert {k: v for k, v in posteriors.items() if v is not None} == stored(job)
    assert sum(v is None for v in posteriors.values()) == 2  # the unanswered task's items
    for result in results:
        if result["posterior"] is not None:
            assert list(result["posterior"]) == CLASSES
            assert max(result["posterior"], key=result["posterior"].get) == result["label"] == "cat"
            assert result["confidence"] == pytest.approx(max(result["posterior"].values()))
            assert sum(result["posterior"].values()) == pytest.approx(1, abs=1e-5)


def test_the_results_list_costs_the_same_queries_however_many_items(
    requester, requester_api, django_assert_max_num_queries
):
    big = launched_job(requester, n_items=60, items_per_task=2, overlap_min=2, overlap_max=2, gold_ratio=0)
    for _ in range(5):
        answer_one_task(big, "dog", "dog")
    job_aggregate(job_id=big.pk)

    with django_assert_max_num_queries(4):  # the job (and its requirements), the count, the page with results
        body = requester_api.get(f"/api/v1/jobs/{big.pk}/results/", {"page_size": 60}).json()

    assert sum(r["posterior"] is not None for r in body["results"]) == 10


def test_the_csv_export_has_one_probability_column_per_class(requester_api, job):
    response = requester_api.get(f"/api/v1/jobs/{job.pk}/results/export/", {"answers": "true"})

    text = b"".join(response.streaming_content).decode()
    header = next(csv.reader(io.StringIO(text)))
    assert header == [
        *("item_id", "external_id", "payload", "label", "confidence", "answer_count"),
        *("p_cat", "p_dog", "p_bird", "answers"),
    ]
    rows = list(csv.DictReader(io.StringIO(text)))
    expected = stored(job)
    for row in rows:
        probabilities = [row[f"p_{c}"] for c in CLASSES]
        if int(row["item_id"]) in expected:
            assert [float(p) for p in probabilities] == list(expected[int(row["item_id"])].values())
        else:
            assert probabilities == ["", "", ""]
    assert len(json.loads(rows[0]["answers"])) == 2


def test_the_jsonl_export_has_the_posterior_as_an_object(requester_api, job):
    response = requester_api.get(f"/api/v1/jobs/{job.pk}/results/export/", {"file_format": "jsonl"})

    lines = [json.loads(line) for line in b"".join(response.streaming_content).decode().splitlines()]
    assert {line["item_id"]: line["posterior"] for line in lines if line["posterior"]} == stored(job)
    assert sum(line["posterior"] is None for line in lines) == 2


def test_results_updated_carries_the_posterior_of_the_items_answered_since_the_last_run(
    requester, job, django_capture_on_commit_callbacks
):
    webhook_endpoint_create(owner=requester, job=job, url="https://example.com/hooks", events=["results.updated"])
    answer_one_task(job, "dog", "dog")

    with django_capture_on_commit_callbacks():
        job_aggregate(job_id=job.pk)
    results = stored(job)
    with django_capture_on_commit_callbacks():
        job_aggregate(job_id=job.pk)  # a rerun on the same answers: nothing new to report

    first, rerun = WebhookDelivery.objects.filter(event_type="results.updated").order_by("id")
    data = first.payload["data"]
    task_two = sorted(item for item, p in results.items() if max(p, key=p.get) == "dog")
    assert [u["item"] for u in data["updated_items"]] == task_two and data["updated_items_total"] == 2
    for update in data["updated_items"]:
        assert update["posterior"] == results[update["item"]] and update["label"] == "dog"
        assert list(update["posterior"]) == CLASSES and update["external_id"].startswith("img-")
    assert data["results_url"] == f"/api/v1/jobs/{job.pk}/results/"
    assert (rerun.payload["data"]["updated_items"], rerun.payload["data"]["updated_items_total"]) == ([], 0)


def test_results_updated_lists_at_most_the_configured_number_of_items(
    requester, job, django_capture_on_commit_callbacks, settings
):
    settings.WEBHOOK_RESULTS_MAX_ITEMS = 1
    webhook_endpoint_create(owner=requester, job=job, url="https://example.com/hooks", events=["results.updated"])
    answer_one_task(job, "dog", "dog")

    with django_capture_on_commit_callbacks():
        job_aggregate(job_id=job.pk)

    [event] = WebhookDelivery.objects.filter(event_type="results.updated")
    assert (len(event.payload["data"]["updated_items"]), event.payload["data"]["updated_items_total"]) == (1, 2)

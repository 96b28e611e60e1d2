"""The order claims serve tasks in (`Job.claim_order`): as uploaded, by the items' priority, or the least certain
first (active learning: the lowest confidence after each aggregation, a model's lowest score before any answer)."""

import pytest

from marketplace.models import ClaimOrder, Item, ItemResult, Job
from marketplace.services.aggregation import job_aggregate
from marketplace.services.assignments import assignment_claim, assignment_submit
from marketplace.services.claim_order import claim_order_rank
from marketplace.services.jobs import job_transition
from marketplace.services.predictions import predictions_put
from marketplace.services.uploads import upload_receive
from tests.factories import JobFactory, WorkerFactory
from tests.marketplace.helpers import csv_file, fund

pytestmark = pytest.mark.django_db

PRIORITY_SCHEMA = {"fields": [{"name": "image_url", "type": "url"}, {"name": "priority", "type": "number"}]}


def job_of(requester, priorities: list[float], **fields) -> Job:
    """A drafted job of one item per task, overlap 1 unless given, no gold; item n (from 1) has priority
    `priorities[n - 1]`."""
    fields = {"overlap_min": 1, "overlap_max": 1, **fields}
    job = JobFactory(
        requester=requester, items_per_task=1, gold_ratio=0, max_open_assignments=50, item_schema=PRIORITY_SCHEMA,
        **fields,
    )  # fmt: skip
    rows = "".join(f"https://example.com/{n}.jpg,{p}\n" for n, p in enumerate(priorities, start=1))
    upload_receive(job=job, user=requester, file=csv_file("image_url,priority\n" + rows), kind="items")
    return job


def launch(job: Job) -> Job:
    fund(job)
    return job_transition(job=job, action="launch")


def claimed_numbers(job: Job, n: int) -> list[int]:
    """The task numbers `n` claims by one worker get, in order."""
    worker = WorkerFactory()
    return [assignment_claim(job_id=job.pk, worker=worker).task.number for _ in range(n)]


def test_claims_serve_tasks_as_uploaded_by_default(requester):
    job = launch(job_of(requester, [1, 9, 5, 7]))

    assert job.claim_order == ClaimOrder.UPLOADED
    assert claimed_numbers(job, 4) == [1, 2, 3, 4]


def test_claims_by_priority_serve_the_highest_first_and_ties_in_upload_order(requester):
    job = launch(job_of(requester, [1, 9, 5, 9, 2.5], claim_order=ClaimOrder.PRIORITY))

    assert claimed_numbers(job, 5) == [2, 4, 3, 5, 1]


def test_claims_by_priority_need_the_items_priority_declared_a_number(requester_api):
    job = {"title": "t", "label_schema": {"type": "single_choice", "classes": ["a", "b"]}, "reward_cents": 5}

    refused = requester_api.post("/api/v1/jobs/", {**job, "claim_order": "priority"}, format="json")
    accepted = requester_api.post(
        "/api/v1/jobs/", {**job, "claim_order": "priority", "item_schema": PRIORITY_SCHEMA}, format="json"
    )

    assert refused.status_code == 400 and "claim_order" in refused.json()["extra"]["fields"]
    assert accepted.status_code == 201 and accepted.json()["claim_order"] == "priority"


def test_uncertain_first_serves_what_a_model_doubts_before_any_answer_then_the_lowest_confidence(requester):
    job = job_of(requester, [0, 0, 0, 0], claim_order=ClaimOrder.UNCERTAIN, overlap_min=2, overlap_max=2)
    items = list(Item.objects.filter(job=job).order_by("task__number"))
    scores = [0.9, 0.2, 0.6, None]  # item 4: no score, so nothing says it is settled: first
    predictions = [
        {"item": i.pk, "model": "m1", "answer": "cat", "score": s} for i, s in zip(items, scores, strict=True)
    ]
    predictions_put(job=job, predictions=predictions)
    launch(job)

    assert claimed_numbers(job, 4) == [4, 2, 3, 1]

    # After an aggregation, the tasks' confidence ranks them (written here directly; the run's own re-ranking is
    # tested below).
    for item, confidence in zip(items, [0.55, 0.99, 0.7, 0.95], strict=True):
        ItemResult.objects.create(item=item, job=job, label="cat", confidence=confidence, answer_count=1)
    claim_order_rank(job=job)

    assert claimed_numbers(job, 4) == [1, 3, 4, 2]


def test_each_aggregation_ranks_the_tasks_again_by_their_items_lowest_confidence(requester, callbacks):
    job = launch(job_of(requester, [0] * 6, claim_order=ClaimOrder.UNCERTAIN, overlap_min=3, overlap_max=3))
    for answers in (["cat", "cat", "dog", "cat", "dog", "cat"], ["cat", "dog", "dog", "cat", "cat", "cat"]):
        worker = WorkerFactory()
        for answer in answers:
            assignment = assignment_claim(job_id=job.pk, worker=worker)
            submit = [{"position": 0, "answer": answer}]
            with callbacks(execute=True):
                assignment_submit(assignment_id=assignment.pk, worker=worker, answers=submit)

    job_aggregate(job_id=job.pk)

    ranks = dict(job.tasks.values_list("number", "rank"))
    confidence = dict(ItemResult.objects.filter(job=job).values_list("item__task__number", "confidence"))
    assert ranks == pytest.approx(confidence) and len(set(ranks.values())) > 1
    assert claimed_numbers(job, 1) == [min(ranks, key=lambda n: (ranks[n], n))]


def test_the_order_may_change_while_the_job_runs(requester_api, requester):
    job = launch(job_of(requester, [1, 9, 5]))

    changed = requester_api.patch(f"/api/v1/jobs/{job.pk}/", {"claim_order": "priority"}, format="json")
    renamed = requester_api.patch(f"/api/v1/jobs/{job.pk}/", {"overlap_max": 3}, format="json")

    assert changed.status_code == 200, changed.content
    assert renamed.status_code == 409  # what an answer is or costs stays frozen
    assert claimed_numbers(job, 3) == [2, 3, 1]

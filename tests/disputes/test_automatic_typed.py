"""Appeals on jobs of the engine's other answer types (multi_choice, text, number, pairwise, bbox, spans), decided
through the registry: each item's label is the type's own aggregate of the other workers' answers (the appellant's
left out), determined once APPEAL_AUTO_MIN_ANSWERS of them answered it, and the appellant is backed where their
answer passes the type's own grading measure against that label (boxes matched at the schema's IoU, spans by F1),
as against a gold key."""

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from marketplace.models import Dispute, DisputeStatus, Job
from marketplace.selectors import assignment_items
from marketplace.services.aggregation import job_aggregate
from marketplace.services.assignments import assignment_claim, assignment_submit
from marketplace.services.disputes import appeal_file
from marketplace.services.jobs import job_transition
from marketplace.services.reviews import assignment_reject
from marketplace.services.uploads import upload_receive
from tests.disputes.helpers import REWARD, payable
from tests.factories import JobFactory, WorkerFactory
from tests.marketplace.helpers import csv_file, fund

pytestmark = pytest.mark.django_db

N_ITEMS = 3


@dataclass(frozen=True)
class Case:
    schema: dict[str, Any]
    truth: Callable[[int], Any]  # item n's true answer
    wrong: Callable[[int], Any]  # an answer the type's measure fails against the truth


CASES = {
    "multi_choice": Case(
        {"type": "multi_choice", "choices": ["red", "green", "blue"]},
        lambda n: [["red"], ["green", "blue"], ["blue"]][n],
        lambda n: [["green"], ["red"], ["red", "green"]][n],
    ),
    "text": Case({"type": "text"}, lambda n: f"the cat sat on mat {n}", lambda n: f"a dog ran far away {n}"),
    "number": Case({"type": "number", "min": 1, "max": 5, "step": 1}, lambda n: 1 + n, lambda n: 5 - n // 2),
    "pairwise": Case(
        {"type": "pairwise"}, lambda n: "left" if n % 2 else "right", lambda n: "right" if n % 2 else "left"
    ),
    # Boxes match at IoU >= 0.5 (the schema's default), spans exactly: the wrong answers miss every one.
    "bbox": Case(
        {"type": "bbox", "labels": ["car", "person"]},
        lambda n: [[10 + 5 * n, 10, 40, 30, "car"], [100, 50, 20, 60, "person"]],
        lambda n: [[200 + n, 150, 10, 10, "car"]],
    ),
    "spans": Case(
        {"type": "spans", "text_field": "name", "labels": ["ID", "NUM"]},
        lambda n: [[0, 1, "ID"], [1, 2, "NUM"]],  # the item's name is "i<n>"
        lambda n: [[0, 2, "NUM"]],
    ),
}


def typed_job(requester, case: Case, *, overlap: int) -> Job:
    """One task of three items (a pairwise item compares p<n> with p<n+1>), `overlap` answers each, no gold."""
    job = JobFactory(
        requester=requester,
        label_schema=case.schema,
        item_schema={"fields": [{"name": n, "type": "string"} for n in ("name", "left", "right")]},
        items_per_task=N_ITEMS,
        overlap_min=overlap,
        overlap_max=overlap,
        gold_ratio=0,
    )
    rows = "".join(f"i{n},p{n},p{n + 1}\n" for n in range(N_ITEMS))
    upload_receive(job=job, user=requester, file=csv_file("name,left,right\n" + rows), kind="items")
    fund(job)
    return job_transition(job=job, action="launch")


def work_once(job: Job, answer_of: Callable[[int], Any]):
    worker = WorkerFactory()
    assignment = assignment_claim(job_id=job.pk, worker=worker, rng=random.Random(worker.pk))
    answers = [
        {"position": p, "answer": answer_of(int(item.payload["name"][1:]))}
        for p, item in enumerate(assignment_items(assignment=assignment))
    ]
    return assignment_submit(assignment_id=assignment.pk, worker=worker, answers=answers)


def appealed_after(job: Job, appellant: Callable[[int], Any], others: list[Callable[[int], Any]]) -> Dispute:
    first = work_once(job, appellant)
    assignment_reject(assignment_id=first.pk, by=job.requester, reason="Disagrees with the crowd.")
    appeal = appeal_file(assignment_id=first.pk, worker=first.worker, message="My answers are right.")
    for behave in others:
        work_once(job, behave)
    job_aggregate(job_id=job.pk)  # which checks the open appeal again
    appeal.refresh_from_db()
    return appeal


@pytest.mark.parametrize("name", list(CASES))
def test_others_whose_aggregate_the_worker_passes_overturn_the_rejection(requester, name):
    case = CASES[name]
    job = typed_job(requester, case, overlap=3)

    appeal = appealed_after(job, case.truth, others=[case.truth, case.truth])

    assert (appeal.status, appeal.decision, appeal.agreement) == (DisputeStatus.RESOLVED, "overturn", 1.0)
    assert appeal.resolution_note == (
        "Overturned automatically: other workers' answers back the worker on 3 of 3 items (needed 80%)."
    )
    assert payable(appeal.worker) == REWARD


@pytest.mark.parametrize("name", list(CASES))
def test_others_whose_aggregate_the_worker_fails_leave_the_appeal_to_an_admin(requester, name):
    case = CASES[name]
    job = typed_job(requester, case, overlap=3)

    appeal = appealed_after(job, case.wrong, others=[case.truth, case.truth])

    assert (appeal.status, appeal.agreement) == (DisputeStatus.OPEN, 0.0)
    assert "they back the worker on 0 and contradict them on 3" in appeal.pending_reason
    assert payable(appeal.worker) == 0


@pytest.mark.parametrize("name", list(CASES))
def test_one_other_answer_per_item_determines_nothing_at_the_default_minimum(requester, name):
    case = CASES[name]
    job = typed_job(requester, case, overlap=2)

    appeal = appealed_after(job, case.truth, others=[case.truth])

    assert (appeal.status, appeal.agreement) == (DisputeStatus.OPEN, None)
    assert appeal.pending_reason == (
        "Other workers' answers determine none of the 3 items' labels (an item needs 2 answers from other workers, "
        "whose aggregate the worker's answer must pass as a gold key)."
    )


def test_the_types_own_measure_decides_a_multi_label_half_overlapping_the_others_is_backed(requester):
    case = CASES["multi_choice"]  # Jaccard >= 0.5 passes by default
    job = typed_job(requester, case, overlap=3)

    appeal = appealed_after(job, lambda n: sorted({*case.truth(n), "red"}), others=[case.truth, case.truth])

    assert (appeal.status, appeal.decision) == (DisputeStatus.RESOLVED, "overturn")

"""Real concurrent clients, on PostgreSQL and SQLite: threads, each with its own connection, racing the engine."""

import random
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from marketplace.errors import AssignmentClosed, NotEligible, NoWorkAvailable, TooManyOpenAssignments
from marketplace.models import Answer, Assignment, AssignmentStatus, GoldExposure, Item, JobStatus, MicroTask
from marketplace.services.assignments import (
    assignment_claim,
    assignment_expire_overdue,
    assignment_release,
    assignment_submit,
    assignment_submit_and_claim,
)
from tests.factories import WorkerFactory
from tests.marketplace.helpers import answers_for, launched_job
from tests.marketplace.invariants import assignment_invariant_violations
from tests.threads import run_in_threads

pytestmark = pytest.mark.django_db(transaction=True)


def test_fifty_workers_racing_on_two_hundred_items_fill_every_slot_exactly_once(requester):
    job = launched_job(requester, n_items=200, n_gold=20, items_per_task=2, overlap_min=3, overlap_max=3)
    workers = WorkerFactory.create_batch(50)

    def work(i: int) -> int:
        worker, rng, done = workers[i], random.Random(i), 0
        patience = 500  # a slot released by another worker may reopen after this worker found none
        while True:
            try:
                assignment = assignment_claim(job_id=job.pk, worker=worker, rng=rng)
            except NoWorkAvailable:
                patience -= 1
                if patience == 0 or not MicroTask.objects.filter(job=job, assigned_count__lt=3).exists():
                    return done
                time.sleep(0.005)
                continue
            except NotEligible as refused:  # the last submit completed the job
                assert refused.extra["reason"] == "job_not_active"
                return done
            if rng.random() < 0.1:  # some workers hand work back: the slot must return to the pool
                assignment_release(assignment_id=assignment.pk, worker=worker)
                continue
            assignment_submit(assignment_id=assignment.pk, worker=worker, answers=answers_for(assignment))
            done += 1

    submitted = run_in_threads(50, work)

    job.refresh_from_db()
    assert sum(submitted) == 100 * 3
    assert job.status == JobStatus.COMPLETED
    assert Answer.objects.filter(job=job, is_gold=False).count() == 200 * 3
    assert not MicroTask.objects.filter(job=job).exclude(submitted_count=3).exists()
    assert assignment_invariant_violations() == []


def test_thirty_workers_going_on_with_submit_and_claim_fill_every_slot_exactly_once(requester):
    job = launched_job(requester, n_items=120, n_gold=20, items_per_task=2, overlap_min=3, overlap_max=3)
    workers = WorkerFactory.create_batch(30)

    def work(i: int) -> int:
        worker, rng, done, held = workers[i], random.Random(i), 0, None
        while True:
            if held is None:
                try:
                    held = assignment_claim(job_id=job.pk, worker=worker, rng=rng)
                except (NoWorkAvailable, NotEligible):  # nothing free for this worker, or the job completed
                    return done
            _, held, refusal = assignment_submit_and_claim(
                assignment_id=held.pk, worker=worker, answers=answers_for(held), rng=rng
            )
            done += 1
            assert (held is None) == (refusal is not None)
            if refusal is not None:
                assert isinstance(refusal, NoWorkAvailable) or refusal.extra["reason"] == "job_not_active"
                return done

    submitted = run_in_threads(30, work)

    job.refresh_from_db()
    assert sum(submitted) == 60 * 3
    assert job.status == JobStatus.COMPLETED
    assert Answer.objects.filter(job=job, is_gold=False).count() == 120 * 3
    assert not Assignment.objects.filter(job=job, status=AssignmentStatus.OPEN).exists()
    assert assignment_invariant_violations() == []


def test_twenty_claims_for_the_last_slot_have_exactly_one_winner(requester):
    job = launched_job(requester, n_items=1, items_per_task=1, overlap_min=1, overlap_max=1)
    workers = WorkerFactory.create_batch(20)

    def grab(i: int) -> str:
        try:
            assignment_claim(job_id=job.pk, worker=workers[i])
            return "won"
        except NoWorkAvailable:
            return "none left"

    outcomes = run_in_threads(20, grab)

    assert outcomes.count("won") == 1
    assert Assignment.objects.count() == 1
    assert assignment_invariant_violations() == []


def test_one_worker_double_clicking_claim_gets_one_assignment(requester):
    job = launched_job(requester, n_items=10, items_per_task=1)
    worker = WorkerFactory()

    def grab(i: int) -> str:
        try:
            assignment_claim(job_id=job.pk, worker=worker)
            return "won"
        except Exception as exc:  # noqa: BLE001 -- the losing code is what the test checks
            return type(exc).__name__

    outcomes = run_in_threads(10, grab)

    assert sorted(outcomes) == ["TooManyOpenAssignments"] * 9 + ["won"]
    assert assignment_invariant_violations() == []


def test_one_worker_claiming_many_at_once_gets_each_its_own_task_and_gold(requester):
    """With room for ten open assignments, of twelve claims of one worker at once exactly ten succeed, each with a
    task and a gold item the others did not get. Two bugs this found: the losers of the race to create the worker's
    row on the job were refused as over the cap; and a claim taken in one statement picked from a snapshot older
    than its wait on the worker's row, so it could take the task another claim had just taken (a duplicate-key
    error, a 500)."""
    job = launched_job(
        requester, n_items=40, n_gold=30, items_per_task=1, gold_ratio=Decimal("0.5"), max_open_assignments=10
    )
    worker = WorkerFactory()
    gold = set(Item.objects.filter(job=job, is_gold=True).values_list("pk", flat=True))

    def grab(i: int) -> str:
        try:
            assignment_claim(job_id=job.pk, worker=worker)
            return "won"
        except TooManyOpenAssignments:
            return "refused"

    for _ in range(3):
        outcomes = run_in_threads(12, grab)
        for assignment in Assignment.objects.filter(job=job, worker=worker, status=AssignmentStatus.OPEN):
            assignment_submit(assignment_id=assignment.pk, worker=worker, answers=answers_for(assignment))

        assert sorted(outcomes) == ["refused"] * 2 + ["won"] * 10  # the cap, and nothing short of it
    shown = [
        item_id for assignment in Assignment.objects.filter(job=job, worker=worker) for item_id in assignment.item_ids
    ]
    shown_gold = [item_id for item_id in shown if item_id in gold]
    assert len(shown_gold) == 30 and set(shown_gold) == gold  # one gold item per claim, each once
    assert GoldExposure.objects.filter(job=job, worker=worker).count() == 30
    assert assignment_invariant_violations() == []


def test_claims_racing_on_a_job_with_plenty_left_never_answer_no_work(requester):
    """Sixteen workers claim and submit at once on a job far from running out: every claim gets a task. (A claim
    written as `UPDATE ... WHERE id = (SELECT ... FOR UPDATE SKIP LOCKED)` answered "no work" about once in 700
    claims under load: re-checking a task that a concurrent claim had just changed, PostgreSQL ran the subquery
    again, which then picked another task, and the UPDATE changed nothing.)"""
    job = launched_job(requester, n_items=3000, n_gold=120, items_per_task=1)  # each claim: 1 item and 1 gold
    workers = WorkerFactory.create_batch(16)

    def work(i: int) -> list[str]:
        refusals = []
        for _ in range(100):  # 1,600 of the job's 9,000 slots in all
            try:
                assignment = assignment_claim(job_id=job.pk, worker=workers[i])
            except NoWorkAvailable:
                untouched = MicroTask.objects.filter(job=job, assigned_count=0).count()
                refusals.append(f"no work, with {untouched} tasks nobody has claimed yet")
                continue
            assignment_submit(assignment_id=assignment.pk, worker=workers[i], answers=answers_for(assignment))
        return refusals

    refusals = run_in_threads(16, work)

    assert [r for worker_refusals in refusals for r in worker_refusals] == []
    assert assignment_invariant_violations() == []


def test_the_same_submit_sent_ten_times_at_once_is_stored_once(requester):
    job = launched_job(requester, n_items=5, items_per_task=5)
    worker = WorkerFactory()
    assignment = assignment_claim(job_id=job.pk, worker=worker)

    results = run_in_threads(
        10, lambda i: assignment_submit(assignment_id=assignment.pk, worker=worker, answers=answers_for(assignment))
    )

    assert {r.submitted_at for r in results} == {results[0].submitted_at}
    assert Answer.objects.filter(assignment=assignment).count() == 5
    assert MicroTask.objects.get(pk=assignment.task_id).submitted_count == 1


@pytest.mark.parametrize("round_", range(5))
def test_a_submit_racing_the_expiry_ends_either_submitted_or_expired_never_both(requester, round_):
    job = launched_job(requester, n_items=3, items_per_task=3)
    worker = WorkerFactory()
    assignment = assignment_claim(job_id=job.pk, worker=worker)
    Assignment.objects.filter(pk=assignment.pk).update(expires_at=timezone.now() + timedelta(milliseconds=30))

    def race(i: int) -> str:
        if i == 0:
            while (
                assignment_expire_overdue(job_id=job.pk) == 0
                and Assignment.objects.filter(pk=assignment.pk, status=AssignmentStatus.OPEN).exists()
            ):
                pass
            return "expiry ran"
        try:
            assignment_submit(assignment_id=assignment.pk, worker=worker, answers=answers_for(assignment))
            return "submitted"
        except AssignmentClosed:
            return "refused"

    outcome = run_in_threads(2, race)[1]

    assignment.refresh_from_db()
    task = MicroTask.objects.get(pk=assignment.task_id)
    answers = Answer.objects.filter(assignment=assignment).count()
    if outcome == "submitted":
        assert (assignment.status, answers, task.assigned_count, task.submitted_count) == ("submitted", 3, 1, 1)
    else:
        assert (assignment.status, answers, task.assigned_count, task.submitted_count) == ("expired", 0, 0, 0)
    assert assignment_invariant_violations() == []

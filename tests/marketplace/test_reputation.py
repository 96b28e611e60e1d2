"""Reputation is fed by the marketplace (gold, aggregation, approvals) and gates jobs with a minimum."""

from decimal import Decimal

import pytest

from marketplace.errors import NotEligible
from marketplace.services.assignments import assignment_claim, assignment_submit
from marketplace.services.reputation import reputation_recompute
from marketplace.services.reviews import assignment_approve, assignment_reject
from marketplace.tasks import reputation_recompute_task
from tests.factories import WorkerFactory
from tests.marketplace.helpers import answers_for, launched_job
from workers.models import WorkerProfile

pytestmark = pytest.mark.django_db


def work(job, worker, label="cat"):
    assignment = assignment_claim(job_id=job.pk, worker=worker)
    return assignment_submit(assignment_id=assignment.pk, worker=worker, answers=answers_for(assignment, label))


def test_approvals_raise_and_rejections_lower_reputation(requester):
    job = launched_job(
        requester,
        n_items=8,
        items_per_task=1,
        overlap_min=1,
        overlap_max=1,
        gold_ratio=Decimal(0),
        max_open_assignments=10,
    )
    good, bad = WorkerFactory(), WorkerFactory()
    for _ in range(4):
        assignment_approve(assignment_id=work(job, good).pk)
        assignment_reject(assignment_id=work(job, bad).pk, by=requester, reason="Wrong labels.")

    good_score = WorkerProfile.objects.get(user=good).reputation
    bad_score = WorkerProfile.objects.get(user=bad).reputation
    assert 0 <= bad_score < good_score <= 1


def test_the_beat_task_recomputes_every_known_worker(requester):
    job = launched_job(requester, n_items=4, n_gold=4, items_per_task=1, gold_ratio=Decimal("0.5"))
    worker = WorkerFactory()
    work(job, worker)
    WorkerProfile.objects.filter(user=worker).update(reputation=None)

    assert reputation_recompute_task() >= 1
    assert WorkerProfile.objects.get(user=worker).reputation is not None


def test_a_job_with_a_minimum_reputation_admits_a_worker_once_earned(requester):
    starter = launched_job(
        requester,
        n_items=10,
        items_per_task=1,
        overlap_min=1,
        overlap_max=1,
        gold_ratio=Decimal(0),
        max_open_assignments=10,
    )
    picky = launched_job(requester, n_items=2, items_per_task=1, min_reputation=0.6)
    worker = WorkerFactory()
    with pytest.raises(NotEligible):
        assignment_claim(job_id=picky.pk, worker=worker)

    for _ in range(10):
        assignment_approve(assignment_id=work(starter, worker).pk)
    reputation_recompute(worker_ids=[worker.pk])

    assert WorkerProfile.objects.get(user=worker).reputation >= 0.6
    assert assignment_claim(job_id=picky.pk, worker=worker)


def test_a_worker_sees_their_own_reputation_and_gold_record(api, requester):
    job = launched_job(requester, n_items=4, n_gold=4, items_per_task=1, gold_ratio=Decimal("0.5"))
    worker = WorkerFactory()
    assignment_approve(assignment_id=work(job, worker).pk)

    me = api.as_user(worker).get("/api/v1/me/").json()

    profile = WorkerProfile.objects.get(user=worker)
    assert (me["reputation"], me["gold_answered"], me["gold_correct"]) == (
        profile.reputation,
        profile.gold_answered,
        profile.gold_correct,
    )
    assert 0 < me["reputation"] < 1

"""Aggregation runs that never finish (their task lost with the broker, their worker killed mid-run or after storing
the results but before the appeals and reputations) are asked for again by the sweeper, a few times at most."""

from datetime import timedelta

import pytest
from django.utils import timezone

from marketplace import tasks
from marketplace.models import ItemResult, JobAggregate
from marketplace.services import aggregation
from marketplace.services.aggregation import aggregation_enqueue, aggregation_resume_stuck, job_aggregate
from tests.marketplace.test_aggregation import crowd_job, honest, run_crowd

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def answered_job(requester, settings):
    settings.AGGREGATE_EVERY_ANSWERS = 10_000  # no run but the ones each test asks for
    job = crowd_job(requester, n_items=6, n_gold=6, overlap_min=3, overlap_max=3)  # a gold item per assignment
    run_crowd(job, [honest, honest])  # two answers per item: the job stays active, with its completion run unasked
    JobAggregate.objects.filter(job=job).delete()
    ItemResult.objects.filter(job=job).delete()
    return job


def lose_tasks(monkeypatch) -> list[int]:
    """The broker takes the task and loses it (or the worker that took it dies before it runs)."""
    lost: list[int] = []
    monkeypatch.setattr(tasks.job_aggregate_task, "delay", lost.append)
    return lost


def age_request(job, minutes: int = 10) -> None:
    JobAggregate.objects.filter(job=job).update(requested_at=timezone.now() - timedelta(minutes=minutes))


def test_a_run_whose_task_was_lost_is_asked_for_again_by_the_sweeper(answered_job, monkeypatch):
    with monkeypatch.context() as patch:
        lost = lose_tasks(patch)
        aggregation_enqueue(job_id=answered_job.pk)
    assert lost == [answered_job.pk]
    assert aggregation_resume_stuck() == 0  # its task may still be waiting in the queue

    age_request(answered_job)
    assert tasks.aggregation_resume_stuck_task.apply().get() == 1

    state = JobAggregate.objects.get(job=answered_job)
    assert state.computed_at is not None and state.requested_at is None
    assert ItemResult.objects.filter(job=answered_job).count() == 6
    assert aggregation_resume_stuck() == 0


def test_a_run_killed_after_storing_its_results_is_run_again_until_it_finishes(answered_job, monkeypatch):
    with monkeypatch.context() as patch:
        lose_tasks(patch)
        aggregation_enqueue(job_id=answered_job.pk)
    with monkeypatch.context() as patch:
        patch.setattr(aggregation, "appeals_auto_resolve", lambda **kwargs: 1 / 0)  # the worker dies here
        with pytest.raises(ZeroDivisionError):
            job_aggregate(job_id=answered_job.pk)
    stored = JobAggregate.objects.get(job=answered_job)
    assert stored.computed_at is not None and stored.requested_at is not None  # results in, the run unfinished

    age_request(answered_job)
    assert aggregation_resume_stuck() == 1

    assert JobAggregate.objects.get(job=answered_job).requested_at is None


def test_a_request_made_while_a_run_was_computing_stays_asked_for(answered_job, monkeypatch):
    """A run finishes only the requests made before its snapshot: answers that came after need a run of their own."""
    fit = aggregation._fit  # the run's EM, between its snapshot and its store

    def request_meanwhile(*args, **kwargs):
        with monkeypatch.context() as patch:
            lose_tasks(patch)
            aggregation_enqueue(job_id=answered_job.pk)
        return fit(*args, **kwargs)

    monkeypatch.setattr(aggregation, "_fit", request_meanwhile)
    job_aggregate(job_id=answered_job.pk)

    state = JobAggregate.objects.get(job=answered_job)
    assert state.computed_at is not None and state.requested_at is not None


def test_the_sweeper_gives_up_on_a_run_that_keeps_failing(answered_job, monkeypatch, caplog):
    with monkeypatch.context() as patch:
        lose_tasks(patch)
        aggregation_enqueue(job_id=answered_job.pk)
    JobAggregate.objects.filter(job=answered_job).update(request_attempts=aggregation.RESUME_MAX_ATTEMPTS)
    age_request(answered_job)
    lost = lose_tasks(monkeypatch)

    assert aggregation_resume_stuck() == 0

    assert lost == []
    state = JobAggregate.objects.get(job=answered_job)
    assert (state.requested_at, state.request_attempts) == (None, aggregation.RESUME_MAX_ATTEMPTS)
    assert "gave up" in caplog.text


def test_a_request_alone_is_not_an_aggregation_for_the_api(answered_job, requester_api, monkeypatch):
    with monkeypatch.context() as patch:
        lose_tasks(patch)
        aggregation_enqueue(job_id=answered_job.pk)

    response = requester_api.get(f"/api/v1/jobs/{answered_job.pk}/aggregation/")

    assert (response.status_code, response.json()["code"]) == (404, "not_aggregated")

"""Storing the reputation: `worker_reputation_update`."""

import threading

import pytest
from django.db import connection

from tests.factories import WorkerFactory
from workers.models import WorkerProfile
from workers.reputation import reputation_score
from workers.selectors import worker_reputation
from workers.services import worker_reputation_update

pytestmark = pytest.mark.django_db
EVIDENCE = {
    "gold_right": 18,
    "gold_answered": 20,
    "ds_accuracy": 0.85,
    "ds_answers": 300,
    "approved": 9,
    "reviewed": 10,
}


def test_it_stores_the_score_on_an_existing_profile_and_returns_it(worker):
    profile = WorkerProfile.objects.create(user=worker, gold_answered=20, gold_correct=18)

    score = worker_reputation_update(worker_id=worker.pk, **EVIDENCE)

    assert score == reputation_score(**EVIDENCE)
    profile.refresh_from_db()
    assert profile.reputation == score
    assert (profile.gold_answered, profile.gold_correct) == (20, 18)  # the gold record is not touched
    assert worker_reputation(worker=worker) == score


def test_it_creates_a_missing_profile(worker):
    score = worker_reputation_update(worker_id=worker.pk, **EVIDENCE)

    profile = WorkerProfile.objects.get(user=worker)
    assert profile.reputation == score
    assert (profile.gold_answered, profile.gold_correct) == (0, 0)


def test_a_recompute_overwrites_the_old_score_and_leaves_other_workers_alone(worker):
    outsider = WorkerFactory()
    WorkerProfile.objects.create(user=outsider, reputation=0.42)
    worker_reputation_update(worker_id=worker.pk, **EVIDENCE)
    before = WorkerProfile.objects.get(user=worker).updated_at

    worse = EVIDENCE | {"approved": 2}
    score = worker_reputation_update(worker_id=worker.pk, **worse)

    profile = WorkerProfile.objects.get(user=worker)
    assert profile.reputation == score < reputation_score(**EVIDENCE)
    assert profile.updated_at > before
    assert WorkerProfile.objects.get(user=outsider).reputation == 0.42


def test_an_existing_profile_is_updated_in_one_query(worker, django_assert_num_queries):
    WorkerProfile.objects.create(user=worker)
    with django_assert_num_queries(1):
        worker_reputation_update(worker_id=worker.pk, **EVIDENCE)


def test_impossible_evidence_writes_nothing(worker):
    with pytest.raises(ValueError):
        worker_reputation_update(worker_id=worker.pk, **(EVIDENCE | {"gold_right": 21}))
    assert not WorkerProfile.objects.filter(user=worker).exists()


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_first_updates_create_one_profile():
    worker = WorkerFactory()
    barrier, errors = threading.Barrier(2), []

    def update(approved: int) -> None:
        try:
            barrier.wait()
            worker_reputation_update(worker_id=worker.pk, **(EVIDENCE | {"approved": approved}))
        except Exception as error:  # reported by the assertion below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=update, args=(approved,)) for approved in (9, 3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert WorkerProfile.objects.filter(user=worker).count() == 1
    stored = WorkerProfile.objects.get(user=worker).reputation
    assert stored in {reputation_score(**(EVIDENCE | {"approved": a})) for a in (9, 3)}

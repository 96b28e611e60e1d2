"""Queued uploads whose ingest died: claimed once per run, recovered by the sweeper, never ingested twice.

The real `kill -9` of an ingest process is in tests/faults/test_ingest_killed.py; here a dead run is the state it
leaves behind (the upload `processing`, no rows, nobody holding its row lock).
"""

import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from marketplace import tasks
from marketplace.models import Item, MicroTask, Upload
from marketplace.services.upload_recovery import upload_resume_stuck
from marketplace.services.uploads import upload_ingest, upload_receive
from tests.factories import JobFactory
from tests.marketplace.helpers import csv_file, csv_rows


@pytest.fixture(autouse=True)
def _queue_every_file(settings):
    settings.INGEST_SYNC_MAX_BYTES = 10


def queued_upload(job, django_capture_on_commit_callbacks, rows: int = 30) -> Upload:
    """An upload stored and queued, its task not (yet) run."""
    with django_capture_on_commit_callbacks(execute=False):
        upload = upload_receive(job=job, user=job.requester, file=csv_file(csv_rows(rows)), kind="items")
    assert upload.status == Upload.Status.QUEUED
    return upload


def died_mid_run(upload: Upload, *, attempts: int = 1, minutes_ago: int = 5) -> None:
    """What a run killed mid-ingest leaves: its claim, and nothing else (PostgreSQL rolled its rows back)."""
    started = timezone.now() - timedelta(minutes=minutes_ago)
    Upload.objects.filter(pk=upload.pk).update(status=Upload.Status.PROCESSING, attempts=attempts, started_at=started)


@pytest.mark.django_db
class TestTheSweeper:
    def test_it_runs_again_an_ingest_that_died_and_the_rows_arrive_once(
        self, requester, django_capture_on_commit_callbacks
    ):
        job = JobFactory(requester=requester, items_per_task=10)
        upload = queued_upload(job, django_capture_on_commit_callbacks)
        died_mid_run(upload)

        with django_capture_on_commit_callbacks(execute=True):
            assert tasks.upload_resume_stuck_task.apply().get() == 1

        upload.refresh_from_db()
        assert (upload.status, upload.attempts, upload.items_created, upload.tasks_created) == ("succeeded", 2, 30, 3)
        assert Item.objects.filter(job=job).count() == 30
        assert MicroTask.objects.filter(job=job).count() == 3
        assert not upload.file

    def test_it_leaves_a_run_that_just_started_alone(self, requester, django_capture_on_commit_callbacks):
        job = JobFactory(requester=requester)
        upload = queued_upload(job, django_capture_on_commit_callbacks)
        died_mid_run(upload, minutes_ago=0)  # between its claim and its row lock, a live run looks the same

        assert upload_resume_stuck() == 0
        assert Upload.objects.get(pk=upload.pk).status == Upload.Status.PROCESSING

    def test_an_upload_whose_runs_keep_dying_fails_visibly_after_the_last_attempt(
        self, requester, settings, django_capture_on_commit_callbacks
    ):
        settings.INGEST_MAX_ATTEMPTS = 3
        job = JobFactory(requester=requester)
        upload = queued_upload(job, django_capture_on_commit_callbacks)
        died_mid_run(upload, attempts=3)

        with django_capture_on_commit_callbacks(execute=True):
            assert upload_resume_stuck() == 1

        upload.refresh_from_db()
        assert (upload.status, upload.attempts) == ("failed", 3)
        [error] = upload.errors
        assert (error["row"], error["field"]) == (None, None)
        assert "3 times" in error["message"]
        assert upload.finished_at is not None and not upload.file
        assert not Item.objects.filter(job=job).exists()

    def test_it_recovers_an_upload_left_processing_before_runs_were_counted(
        self, requester, django_capture_on_commit_callbacks
    ):
        job = JobFactory(requester=requester, items_per_task=10)
        upload = queued_upload(job, django_capture_on_commit_callbacks)
        old = timezone.now() - timedelta(hours=3)
        Upload.objects.filter(pk=upload.pk).update(status="processing", started_at=None, queued_at=None, created_at=old)

        with django_capture_on_commit_callbacks(execute=True):
            assert upload_resume_stuck() == 1

        assert Upload.objects.get(pk=upload.pk).status == Upload.Status.SUCCEEDED
        assert Item.objects.filter(job=job).count() == 30

    def test_it_queues_again_an_upload_whose_task_was_lost(self, requester, django_capture_on_commit_callbacks):
        job = JobFactory(requester=requester, items_per_task=10)
        lost = queued_upload(job, django_capture_on_commit_callbacks)
        Upload.objects.filter(pk=lost.pk).update(queued_at=timezone.now() - timedelta(minutes=10))
        fresh = queued_upload(JobFactory(requester=requester), django_capture_on_commit_callbacks)

        with django_capture_on_commit_callbacks(execute=True):
            assert upload_resume_stuck() == 1

        assert Upload.objects.get(pk=lost.pk).status == Upload.Status.SUCCEEDED
        assert Upload.objects.get(pk=fresh.pk).status == Upload.Status.QUEUED  # its task may just be waiting


@pytest.mark.django_db
def test_a_second_run_of_a_finished_upload_adds_nothing(requester, django_capture_on_commit_callbacks):
    job = JobFactory(requester=requester, items_per_task=10)
    upload = queued_upload(job, django_capture_on_commit_callbacks)

    first = upload_ingest(upload_id=upload.pk)
    second = upload_ingest(upload_id=upload.pk)

    assert (first.status, second) == ("succeeded", None)
    assert Item.objects.filter(job=job).count() == 30
    assert Upload.objects.get(pk=upload.pk).attempts == 1


@pytest.mark.django_db
def test_a_run_that_lost_its_claim_writes_nothing(requester, django_capture_on_commit_callbacks):
    """A run the sweeper gave up on (it looked dead) and whose upload another run claimed since: when it wakes up,
    its claim no longer holds, so it ingests nothing."""
    job = JobFactory(requester=requester, items_per_task=10)
    upload = queued_upload(job, django_capture_on_commit_callbacks)
    died_mid_run(upload, attempts=2)  # attempt 2 holds the upload now

    from marketplace.services.upload_recovery import upload_lock_claimed

    with transaction.atomic():
        assert upload_lock_claimed(upload_id=upload.pk, attempt=1) is None
        assert upload_lock_claimed(upload_id=upload.pk, attempt=2) is not None


@pytest.mark.django_db(transaction=True)
def test_two_runs_of_one_upload_at_once_ingest_it_once(requester, monkeypatch):
    job = JobFactory(requester=requester, items_per_task=10)
    with monkeypatch.context() as patch:
        patch.setattr(tasks.upload_ingest_task, "delay", lambda upload_id: None)  # the two runs below are its tasks
        upload = upload_receive(job=job, user=requester, file=csv_file(csv_rows(3000)), kind="items")
    results: list[str | None] = []
    start = threading.Barrier(2)

    def run() -> None:
        try:
            start.wait()
            outcome = upload_ingest(upload_id=upload.pk)
            results.append(outcome.status if outcome else None)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(results, key=str) == [None, "succeeded"]
    assert Item.objects.filter(job=job).count() == 3000
    assert MicroTask.objects.filter(job=job).count() == 300
    assert Upload.objects.get(pk=upload.pk).attempts == 1

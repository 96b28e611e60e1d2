"""Large uploads through the real broker: the request queues the file in Redis and a real Celery worker ingests it."""

import time

import pytest
from celery.contrib.testing.worker import start_worker

from marketplace.celery import app as celery_app
from marketplace.models import Item, Upload
from tests.factories import JobFactory
from tests.marketplace.helpers import csv_file, csv_rows

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def celery_worker(settings):
    assert settings.REDIS_URL, "this test needs the real broker: run it with REDIS_URL set (make test does)"
    settings.INGEST_SYNC_MAX_BYTES = 1000
    # Under its CELERY_ namespace: `conf.task_always_eager = False` is shadowed by the Django setting, and the
    # task would run in place, never through the broker.
    celery_app.conf.update(CELERY_TASK_ALWAYS_EAGER=False)
    try:
        with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=30) as worker:
            yield worker
    finally:
        celery_app.conf.update(CELERY_TASK_ALWAYS_EAGER=True)


def wait_for(upload_id: int, seconds: float = 30) -> Upload:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        upload = Upload.objects.get(pk=upload_id)
        if upload.status in (Upload.Status.SUCCEEDED, Upload.Status.FAILED):
            return upload
        time.sleep(0.1)
    raise AssertionError(f"upload {upload_id} still {upload.status} after {seconds}s")


def test_a_large_upload_goes_through_redis_to_a_celery_worker(celery_worker, api, requester):
    job = JobFactory(requester=requester, items_per_task=7)

    response = api.as_user(requester).post(
        f"/api/v1/jobs/{job.pk}/uploads/", {"file": csv_file(csv_rows(700))}, format="multipart"
    )

    assert response.status_code == 202
    upload = wait_for(response.json()["id"])
    assert (upload.status, upload.items_created, upload.tasks_created) == ("succeeded", 700, 100)
    assert Item.objects.filter(job=job).count() == 700
    assert not upload.file  # the stored file is removed once ingested

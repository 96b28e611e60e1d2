"""An ingest process killed with SIGKILL mid-file: nothing of the file is kept, the upload does not stay
`processing`, the sweeper runs it again, and the rows arrive exactly once."""

import os
import signal

import pytest

from marketplace import tasks
from marketplace.models import Item, MicroTask, Upload
from marketplace.services import upload_recovery
from marketplace.services.upload_recovery import upload_resume_stuck
from marketplace.services.uploads import upload_progress, upload_receive
from tests.factories import JobFactory
from tests.faults.conftest import PYTHON, start_child, wait_until
from tests.marketplace.helpers import csv_file, csv_rows

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]

ROWS = 150_000
INGEST = (
    "import django; django.setup(); from marketplace.services.uploads import upload_ingest; upload_ingest(upload_id={})"
)


def test_an_ingest_killed_mid_way_is_run_again_by_the_sweeper_and_its_rows_arrive_once(
    requester, settings, child_env, tmp_path, monkeypatch
):
    settings.INGEST_SYNC_MAX_BYTES = 10
    job = JobFactory(requester=requester, items_per_task=10)
    with monkeypatch.context() as patch:
        patch.setattr(tasks.upload_ingest_task, "delay", lambda upload_id: None)  # the child below is its run
        upload = upload_receive(job=job, user=requester, file=csv_file(csv_rows(ROWS)), kind="items")
    child = start_child([PYTHON, "-c", INGEST.format(upload.pk)], child_env, tmp_path / "ingest.log")

    wait_until(lambda: upload_progress(upload) >= 10_000, 60, "the child is into the file")
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=10)

    upload.refresh_from_db()
    assert (upload.status, upload.attempts) == (Upload.Status.PROCESSING, 1)
    assert not Item.objects.filter(job=job).exists()  # its transaction died with it
    assert upload_resume_stuck() == 0  # a run this young may still be alive

    monkeypatch.setattr(upload_recovery, "START_GRACE", upload_recovery.START_GRACE * 0)
    # The sweeper queues it again as soon as PostgreSQL has dropped the dead run's lock; the task runs in place.
    wait_until(lambda: upload_resume_stuck() == 1, 30, "the sweeper takes over the dead run's upload")

    upload.refresh_from_db()
    assert (upload.status, upload.attempts, upload.items_created) == (Upload.Status.SUCCEEDED, 2, ROWS)
    assert Item.objects.filter(job=job).count() == ROWS
    assert MicroTask.objects.filter(job=job).count() == ROWS // 10
    assert upload_resume_stuck() == 0

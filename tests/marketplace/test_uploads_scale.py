"""Ingest at scale on PostgreSQL (COPY), and the newcomer's path on embedded SQLite (bulk_create)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.files.uploadedfile import TemporaryUploadedFile

from marketplace.models import Item, MicroTask
from marketplace.services.uploads import upload_receive
from tests.factories import JobFactory

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db
@pytest.mark.postgresql_only("COPY")
def test_one_hundred_thousand_rows_import_into_postgresql(requester, settings):
    settings.INGEST_SYNC_MAX_BYTES = 10 * 1024 * 1024
    job = JobFactory(requester=requester, items_per_task=10)
    upload_file = TemporaryUploadedFile("big.csv", "text/csv", 0, None)
    upload_file.write(b"external_id,image_url\n")
    upload_file.write(b"".join(b"id-%d,https://example.com/%d.jpg\n" % (i, i) for i in range(100_000)))
    upload_file.size = upload_file.tell()

    upload = upload_receive(job=job, user=requester, file=upload_file, kind="items")

    assert (upload.status, upload.items_created, upload.tasks_created) == ("succeeded", 100_000, 10_000)
    assert Item.objects.filter(job=job).count() == 100_000
    assert MicroTask.objects.filter(job=job, n_items=10).count() == 10_000
    last = Item.objects.get(job=job, external_id="id-99999")
    assert (last.row_number, last.position, last.task.number) == (100_000, 9, 10_000)


def test_a_newcomer_gets_a_seeded_marketplace_on_embedded_sqlite(tmp_path):
    env = {
        **os.environ,
        "DEBUG": "1",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}",
        "REDIS_URL": "",
        "CELERY_TASK_ALWAYS_EAGER": "",
        "MEDIA_ROOT": str(tmp_path / "media"),
    }
    env.pop("SECRET_KEY", None)

    def manage(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    manage("migrate", "--verbosity", "0")
    first = manage("seed_demo")
    again = manage("seed_demo")
    counts = manage(
        "shell",
        "--no-imports",
        "-c",
        "from marketplace.models import *; print(Item.objects.count(), Job.objects.count())",
    )

    assert "is active" in first and "requester@demo.local" in first
    assert first.splitlines()[0] == again.splitlines()[0]
    assert counts.split() == ["156", "3"]  # species (96 items, 12 gold), boxes (24, 8), names (12, 4)

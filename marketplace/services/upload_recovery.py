"""The life of a queued upload's ingest: one run at a time, and runs that died are run again, a few times at most.

    queued --claim--> processing --its transaction commits--> succeeded | failed

A run claims the upload with a conditional UPDATE (queued -> processing, counting the attempt; row count 1 or
another run has it), then ingests in one transaction that holds the upload's row lock throughout and writes only
while its claim still holds. The rows and the `succeeded` status commit together, so "its rows are in" and
"it succeeded" are one fact: a second run finds the upload finished, or its claim gone, and writes nothing.

A run that dies (kill -9, out of memory, a time limit, a restart) leaves the upload `processing` and nothing else:
PostgreSQL rolls its rows back and drops its lock at once. A `processing` upload whose row nobody holds is therefore
a dead run (once past the instant between a live run's claim and its lock). The sweeper, `upload_resume_stuck`
(beat, every minute), queues it again, or after `INGEST_MAX_ATTEMPTS` runs fails it with an error that says so. It
also queues again an upload still `queued` long after it was queued (an enqueue lost with the broker); the task it
may duplicate finds the upload claimed and does nothing.
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from marketplace.models import Item, Upload
from marketplace.services.commit import after_commit

logger = logging.getLogger(__name__)

# A live run's row is unlocked only between its claim and its transaction's first statement: far less than this.
START_GRACE = timedelta(seconds=30)
# A queued upload is queued again this long after it was last queued: a lost task, or a long queue (a duplicate
# task is harmless, so the cost of guessing wrong is one no-op task).
REQUEUE_AFTER = timedelta(minutes=5)


def upload_claim(*, upload_id: int) -> int | None:
    """Take a queued upload for one run: queued -> processing, by a conditional UPDATE whose row count must be 1.
    Returns the run's attempt number (its claim), or None when the upload is not queued (another run has it, or it
    is finished)."""
    now = timezone.now()
    claimed = Upload.objects.filter(pk=upload_id, status=Upload.Status.QUEUED).update(
        status=Upload.Status.PROCESSING, attempts=F("attempts") + 1, started_at=now
    )
    if claimed != 1:
        return None
    return Upload.objects.filter(pk=upload_id).values_list("attempts", flat=True).get()


def upload_lock_claimed(*, upload_id: int, attempt: int) -> Upload | None:
    """Inside the run's transaction: the upload, locked until the transaction ends, if claim `attempt` still holds
    it and none of its rows are in; else None (write nothing). The lock is what tells the sweeper the run lives."""
    upload = (
        Upload.objects.select_for_update()
        .filter(pk=upload_id, status=Upload.Status.PROCESSING, attempts=attempt)
        .first()
    )
    if upload is None:
        return None
    is_gold = upload.kind == Upload.Kind.GOLD
    if Item.objects.filter(job_id=upload.job_id, is_gold=is_gold, upload_id=upload.pk).exists():
        # Unreachable while rows and status commit together; the check keeps a future change from doubling rows.
        logger.error("Upload %s is processing but its rows are in: not ingesting it again.", upload_id)
        return None
    return upload


def upload_resume_stuck(*, limit: int = 100) -> int:
    """Queue again the uploads whose run died (or fail those out of attempts), and those whose task was lost.
    Returns how many it queued or failed. Rows locked by a live run are skipped (SKIP LOCKED), never waited on."""
    now = timezone.now()
    # Uploads from before these fields existed have them empty: their creation time stands in.
    started = Q(started_at__lt=now - START_GRACE) | Q(started_at__isnull=True, created_at__lt=now - START_GRACE)
    queued = Q(queued_at__lt=now - REQUEUE_AFTER) | Q(queued_at__isnull=True, created_at__lt=now - REQUEUE_AFTER)
    with transaction.atomic():
        unfinished = Upload.objects.select_for_update(skip_locked=True).order_by("id")
        dead = list(unfinished.filter(started, status=Upload.Status.PROCESSING)[:limit])
        lost = list(unfinished.filter(queued, status=Upload.Status.QUEUED)[:limit])
        for upload in dead:
            if upload.attempts >= settings.INGEST_MAX_ATTEMPTS:
                _give_up(upload, now)
            else:
                logger.warning("Upload %s: run %s died mid-ingest; queuing it again.", upload.pk, upload.attempts)
                upload_enqueue(upload=upload, now=now)
        for upload in lost:
            upload_enqueue(upload=upload, now=now)
    return len(dead) + len(lost)


def upload_enqueue(*, upload: Upload, now: datetime | None = None) -> None:
    """Mark the upload queued and ask for its ingest task after the commit. A broker that is down then only delays
    it: the upload stays queued and the sweeper asks again."""
    from marketplace.tasks import upload_ingest_task  # noqa: PLC0415 -- tasks import the services

    upload.status, upload.queued_at = Upload.Status.QUEUED, now or timezone.now()
    upload.save(update_fields=["status", "queued_at"])
    after_commit(upload_ingest_task.delay, upload.pk)


def _give_up(upload: Upload, now: datetime) -> None:
    logger.error("Upload %s: gave up after %s interrupted runs.", upload.pk, upload.attempts)
    message = (
        f"The ingest was interrupted {upload.attempts} times (its worker stopped before the end) and was given up; "
        "nothing from the file was kept. Upload the file again."
    )
    upload.status, upload.finished_at = Upload.Status.FAILED, now
    upload.errors = [{"row": None, "line": None, "field": None, "message": message}]
    upload.save(update_fields=["status", "finished_at", "errors"])
    stored = upload.file
    if stored:
        after_commit(stored.delete, save=False)
        Upload.objects.filter(pk=upload.pk).update(file="")

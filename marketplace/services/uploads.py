"""Uploads: a requester's CSV/JSONL file becomes items grouped into micro-tasks, all or nothing.

Small files are ingested inside the request; larger ones are stored and ingested by a Celery task, which reports
progress through the cache (the rows it writes are invisible to others until its single transaction commits).
"""

import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import PurePath
from typing import IO

from django.conf import settings
from django.core.cache import cache
from django.core.files import File
from django.db import connection, transaction
from django.utils import timezone
from psycopg.copy import QueuedLibpqWriter

from marketplace.accounts.models import User
from marketplace.errors import UploadNotAccepted, UploadRejected
from marketplace.models import ClaimOrder, Item, Job, JobStatus, MicroTask, Upload
from marketplace.schemas import parse_item_schema, parse_label_schema
from marketplace.selectors import media_described, media_kinds
from marketplace.services.claim_order import claim_order_rank
from marketplace.services.funding import job_tasks_fund_new
from marketplace.services.model_endpoints import model_requests_for_upload
from marketplace.services.rows import CleanRow, RowError, RowValidator, read_records
from marketplace.services.upload_recovery import upload_claim, upload_enqueue, upload_lock_claimed

logger = logging.getLogger(__name__)

ACCEPTS_UPLOADS: dict[str, frozenset[str]] = {
    # Items appended to a launched job are funded as they arrive (`funding.job_tasks_fund_new`).
    Upload.Kind.ITEMS: frozenset({JobStatus.DRAFT, JobStatus.ACTIVE, JobStatus.PAUSED}),
    Upload.Kind.GOLD: frozenset({JobStatus.DRAFT, JobStatus.ACTIVE, JobStatus.PAUSED}),
}
EXTENSIONS = {".csv": Upload.Format.CSV, ".jsonl": Upload.Format.JSONL, ".ndjson": Upload.Format.JSONL}
# What the requester sees when ingest broke for a reason that is not in their file (the details go to the log).
INTERNAL_ERROR = {
    "row": None,
    "line": None,
    "field": None,
    "message": "The file could not be imported because of an internal error; nothing from it was kept. "
    "Try again, and contact support if it happens again.",
}


def upload_format_for(name: str, declared: str | None) -> str:
    if declared:
        return declared
    fmt = EXTENSIONS.get(PurePath(name).suffix.lower())
    if fmt is None:
        raise UploadRejected(
            "Cannot tell the file format: name the file .csv or .jsonl, or pass 'format'.", field="format"
        )
    return fmt


def upload_receive(*, job: Job, user: User, file: File, kind: str, fmt: str | None = None) -> Upload:
    """Accept a file for `job`. Small files are ingested now (raises `UploadRejected`, keeping nothing, on a bad
    row); larger files are stored and queued, and the returned upload is polled for progress and errors."""
    _check_accepts(job, kind)
    upload = Upload(
        job=job,
        created_by=user,
        kind=kind,
        format=upload_format_for(file.name or "", fmt),
        original_name=PurePath(file.name or "").name[:255],
        size_bytes=file.size or 0,
    )
    if upload.size_bytes <= settings.INGEST_SYNC_MAX_BYTES:
        with transaction.atomic():
            upload.save()
            _ingest(upload, _binary(file))
        return upload
    return _queue(upload, file)


def _check_accepts(job: Job, kind: str) -> None:
    if job.status not in ACCEPTS_UPLOADS[kind]:
        allowed = ", ".join(sorted(ACCEPTS_UPLOADS[kind]))
        raise UploadNotAccepted(f"A {job.status} job accepts no {kind} uploads (only when {allowed}).")


def _queue(upload: Upload, file: File) -> Upload:
    with transaction.atomic():
        upload.file.save(f"{upload.job_id}-{upload.original_name}", file, save=False)
        upload.save()
        upload_enqueue(upload=upload)
    return upload


def upload_ingest(*, upload_id: int) -> Upload | None:
    """Ingest a queued upload (the Celery task's body). Idempotent: a run claims the upload first, and a redelivered
    or duplicate task finds it claimed or finished and does nothing (see services/upload_recovery.py).

    A run that keeps its claim always ends the upload `succeeded` or `failed`: a bad file with the errors the request
    would have listed, any other exception (logged with its traceback) with `INTERNAL_ERROR`, which tells the
    requester nothing internal."""
    attempt = upload_claim(upload_id=upload_id)
    if attempt is None:
        return None
    try:
        with transaction.atomic(durable=True):
            upload = upload_lock_claimed(upload_id=upload_id, attempt=attempt)
            if upload is None:
                return None
            with upload.file.open("rb") as stored:
                _ingest(upload, _binary(stored))
    except UploadRejected as rejected:
        return _mark_failed(upload_id, rejected.extra.get("errors", []), attempt=attempt)
    except Exception:
        logger.exception("Ingest of upload %s failed unexpectedly; marking it failed.", upload_id)
        return _mark_failed(upload_id, [INTERNAL_ERROR], attempt=attempt)
    finally:
        cache.delete(_progress_key(upload_id))
    _discard_file(upload)
    return upload


def _mark_failed(upload_id: int, errors: list[dict], *, attempt: int) -> Upload | None:
    """End the upload `failed` with `errors`, only while run `attempt`'s claim still holds it (the sweeper may have
    handed it to another run meanwhile): else leave it and return None."""
    with transaction.atomic():
        held = Upload.objects.select_for_update().filter(
            pk=upload_id, status=Upload.Status.PROCESSING, attempts=attempt
        )
        upload = held.first()
        if upload is None:
            return None
        upload.status, upload.errors, upload.finished_at = Upload.Status.FAILED, errors, timezone.now()
        upload.save(update_fields=["status", "errors", "finished_at"])
    _discard_file(upload)
    return upload


def _discard_file(upload: Upload) -> None:
    """The stored file is only needed until its rows are in the database (or refused)."""
    if upload.file:
        upload.file.delete(save=False)
        Upload.objects.filter(pk=upload.pk).update(file="")


def upload_progress(upload: Upload) -> int:
    """Rows read so far by a running ingest (0 when none runs)."""
    return cache.get(_progress_key(upload.pk), 0)


def _progress_key(upload_id: int) -> str:
    return f"upload-progress:{upload_id}"


def _binary(file: File) -> IO[bytes]:
    raw = getattr(file, "file", file)
    raw.seek(0)
    return raw


@dataclass
class _Totals:
    rows: int = 0
    items: int = 0
    tasks: int = 0


def _ingest(upload: Upload, stream: IO[bytes]) -> None:
    """Read, validate and write every row of `stream` inside the caller's transaction; on any bad row raise
    `UploadRejected` (the caller's rollback removes every item and task written so far).

    Locks the job row so that two uploads to one job number their micro-tasks one after the other.
    """
    job = Job.objects.select_for_update().get(pk=upload.job_id)
    _check_accepts(job, upload.kind)
    is_gold = upload.kind == Upload.Kind.GOLD
    item_schema = parse_item_schema(job.item_schema)
    fields = None if item_schema.fields else _payload_fields(job)
    media = media_kinds(job=job) if item_schema.media_fields else None
    label_schema = parse_label_schema(job.label_schema)
    gold_schema = label_schema if is_gold else None
    described = media_described(job=job) if media and is_gold and label_schema.needs_item else None
    validator = RowValidator(item_schema, gold_schema, fields, media, described, answer_schema=label_schema)
    required = [f.name for f in item_schema.fields if f.required] + (["gold_label"] if is_gold else [])
    writer = ItemWriter(job=job, upload=upload, gold=is_gold)
    totals = _Totals()
    errors: list[dict] = []
    for batch in _batches(read_records(stream, upload.format, required), validator, errors, _batch_size(job)):
        if not errors:
            writer.write(batch, totals)
            cache.set(_progress_key(upload.pk), totals.rows, timeout=3600)
    if not errors and totals.rows == 0:
        errors.append({"row": None, "line": None, "field": None, "message": "The file has no data rows."})
    if errors:
        raise UploadRejected(errors=errors, truncated=len(errors) >= settings.INGEST_MAX_ERRORS)
    if is_gold:
        job.gold_count = writer.next_gold_number - 1
        job.save(update_fields=["gold_count"])
    elif job.launched_at is not None:  # a running job's new tasks: funded now, or waiting for the requester's funds
        job_tasks_fund_new(job=job, task_ids=writer.task_ids)
        if job.claim_order != ClaimOrder.UPLOADED:
            claim_order_rank(job=job)
    model_requests_for_upload(job=job, upload=upload)  # the job's model endpoints, asked once this commits
    upload.status, upload.finished_at = Upload.Status.SUCCEEDED, timezone.now()
    upload.rows_processed, upload.items_created, upload.tasks_created = totals.rows, totals.items, totals.tasks
    upload.save()


def _payload_fields(job: Job) -> tuple[str, ...] | None:
    """The fields the job's items carry, read off one of them (gold or real), when the job has no item schema: every
    later upload, gold or not, must carry the same. None before the first upload."""
    payload = Item.objects.filter(job=job).values_list("payload", flat=True).first()
    return None if payload is None else tuple(payload)


def _batch_size(job: Job) -> int:
    # A multiple of items_per_task, so that every micro-task but the last of the file is full.
    return max(1, settings.INGEST_BATCH_ROWS // job.items_per_task) * job.items_per_task


def _batches(
    records: Iterable[tuple[int, int, dict] | RowError], validate: RowValidator, errors: list[dict], size: int
) -> Iterator[list[CleanRow]]:
    """Group clean rows into batches; collect the first `INGEST_MAX_ERRORS` problems into `errors` and stop."""
    batch: list[CleanRow] = []
    for record in records:
        try:
            if isinstance(record, RowError):
                raise record
            batch.append(validate(*record))
        except RowError as error:
            errors.append(error.problem.as_dict())
            if len(errors) >= settings.INGEST_MAX_ERRORS:
                break
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


class ItemWriter:
    """Writes clean rows as items (and their micro-tasks). On PostgreSQL items go through COPY; elsewhere through
    batched `bulk_create`. Never a row-by-row save."""

    def __init__(self, *, job: Job, upload: Upload, gold: bool) -> None:
        self.job, self.upload, self.gold = job, upload, gold
        last = MicroTask.objects.filter(job=job).order_by("-number").values_list("number", flat=True).first()
        self.next_number = (last or 0) + 1
        self.next_gold_number = job.gold_count + 1  # the job row is locked: gold numbers go on where they stopped
        self.task_ids: list[int] = []

    def write(self, rows: list[CleanRow], totals: _Totals) -> None:
        task_ids = [] if self.gold else self._create_tasks(len(rows))
        per_task, first_gold = self.job.items_per_task, self.next_gold_number
        values = [
            (
                None if self.gold else task_ids[i // per_task],
                0 if self.gold else i % per_task,
                first_gold + i if self.gold else None,
                row,
            )
            for i, row in enumerate(rows)
        ]
        if self.gold:
            self.next_gold_number += len(rows)
        if connection.vendor == "postgresql":
            self._copy(values)
        else:
            self._bulk_create(values)
        totals.rows += len(rows)
        totals.items += len(rows)
        totals.tasks += len(task_ids)

    def _create_tasks(self, n_rows: int) -> list[int]:
        """A draft job's tasks start at `overlap_min` answers (the launch funds them); a running job's new tasks
        start with those slots waiting for funds, which the end of the ingest pays or leaves waiting."""
        per_task, overlap = self.job.items_per_task, self.job.overlap_min
        running = self.job.launched_at is not None
        sizes = [min(per_task, n_rows - start) for start in range(0, n_rows, per_task)]
        tasks = [
            MicroTask(
                job=self.job,
                upload=self.upload,
                number=self.next_number + i,
                n_items=size,
                overlap_target=0 if running else overlap,
                unfunded_slots=overlap if running else 0,
            )
            for i, size in enumerate(sizes)
        ]
        self.next_number += len(tasks)
        created = [task.pk for task in MicroTask.objects.bulk_create(tasks, batch_size=2000)]
        self.task_ids += created
        return created

    def _copy(self, values: list[tuple[int | None, int, int | None, CleanRow]]) -> None:
        columns = (
            "job_id, upload_id, task_id, position, gold_number, row_number, external_id, payload, is_gold, gold_answer"
        )
        sql = f"COPY {Item._meta.db_table} ({columns}) FROM STDIN"
        job, upload, gold, dumps = self.job.pk, self.upload.pk, self.gold, json.dumps
        with connection.cursor() as cursor:
            raw = cursor.cursor
            # The queued writer sends data from a thread, so rows are formatted while the server ingests.
            with raw.copy(sql, writer=QueuedLibpqWriter(raw)) as copy:
                for task, position, number, row in values:
                    answer = None if row.gold_answer is None else dumps(row.gold_answer)
                    payload = dumps(row.payload)
                    copy.write_row(
                        (job, upload, task, position, number, row.row, row.external_id, payload, gold, answer)
                    )

    def _bulk_create(self, values: list[tuple[int | None, int, int | None, CleanRow]]) -> None:
        items = [
            Item(
                job_id=self.job.pk,
                upload_id=self.upload.pk,
                task_id=task_id,
                position=position,
                gold_number=number,
                row_number=row.row,
                external_id=row.external_id,
                payload=row.payload,
                is_gold=self.gold,
                gold_answer=row.gold_answer,
            )
            for task_id, position, number, row in values
        ]
        Item.objects.bulk_create(items, batch_size=1000)

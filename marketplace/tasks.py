"""Celery tasks: thin wrappers that load by id and call one service."""

from celery import shared_task

from marketplace.services.uploads import upload_ingest


@shared_task(acks_late=True)
def upload_ingest_task(upload_id: int) -> str | None:
    upload = upload_ingest(upload_id=upload_id)
    return upload.status if upload else None

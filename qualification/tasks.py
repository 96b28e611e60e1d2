"""Celery tasks of the qualification app: thin wrappers that call one service."""

from celery import shared_task

from qualification.services.attempts import attempt_expire_overdue


@shared_task(acks_late=True)
def attempt_expire_overdue_task() -> int:
    """Expire overdue attempts in batches until none is left. Attempts also expire lazily (on the worker's next
    start or submit), so this only tidies statuses; schedule it with beat, e.g. every few minutes."""
    total = 0
    while expired := attempt_expire_overdue(limit=500):
        total += expired
    return total

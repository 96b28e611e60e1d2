"""Celery tasks of the payments app: thin wrappers that call one service."""

from celery import shared_task
from django.db import DatabaseError, InterfaceError

from payments.errors import PaymentsError
from payments.services.payouts import payout_resume_stuck, payout_send

PAYOUT_SEND_MAX_RETRIES = 8


@shared_task(bind=True, acks_late=True, max_retries=PAYOUT_SEND_MAX_RETRIES)
def payout_send_task(self, payout_id: int) -> str:  # type: ignore[no-untyped-def]
    """Send one payout. Idempotent: a sent or failed payout, or one another run is sending, is left alone.

    Transient errors (provider or ledger busy, database trouble) are retried with exponential backoff, and a retry
    resumes the payout where the failed run left it; domain errors fail fast. When the retries run out, the
    payout stays `sending` and `payout_resume_stuck_task` picks it up later.
    """
    try:
        return payout_send(payout_id=payout_id, resume=self.request.retries > 0).status
    except PaymentsError as exc:
        if not exc.transient:
            raise
        raise self.retry(exc=exc, countdown=_backoff(self.request.retries)) from exc
    except (DatabaseError, InterfaceError, ConnectionError, TimeoutError) as exc:
        raise self.retry(exc=exc, countdown=_backoff(self.request.retries)) from exc


@shared_task(acks_late=True)
def payout_resume_stuck_task() -> int:
    """Re-queue payouts left requested or sending too long (run by beat every minute)."""
    return payout_resume_stuck()


def _backoff(retries: int) -> int:
    return min(10 * 2**retries, 3600)

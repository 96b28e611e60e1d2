"""Celery tasks of the payments app: thin wrappers that call one service."""

from celery import shared_task

from payments.errors import PaymentsError
from payments.models import PayoutStatus
from payments.services.payouts import payout_resume_stuck, payout_send


@shared_task(acks_late=True)
def payout_send_task(payout_id: int, resume: bool = False) -> str:
    """Send one payout. Idempotent: a sent or failed payout, or one another run is sending, is left alone.

    No retry here: a provider that did not answer leaves the payout `sending` with its next attempt due after a
    backoff, and a crash (database trouble, a killed worker) leaves it to its attempt's lease; the sweeper sends it
    when due. A worker never holds a countdown task, which a broker restart would lose. Domain errors fail fast.
    """
    try:
        return payout_send(payout_id=payout_id, resume=resume).status
    except PaymentsError as exc:
        if not exc.transient:
            raise
        return PayoutStatus.SENDING


@shared_task(acks_late=True)
def payout_resume_stuck_task() -> int:
    """Queue the sends of payouts whose next attempt is due (run by beat every 15 s)."""
    return payout_resume_stuck()

"""Dispute reads, each scoped to who may see it: a worker's own, a job's (for its requester, who the caller already
checked owns it), and every dispute for staff. The staff console's queue with its evidence is in `selectors_staff`."""

from django.db.models import QuerySet

from marketplace.accounts.models import User
from marketplace.errors import NotFound
from marketplace.models import Dispute, Job


def worker_dispute_list(*, worker: User) -> QuerySet[Dispute]:
    """The worker's own appeals and the complaints about them (whose text the API does not show), newest first."""
    return Dispute.objects.filter(worker=worker).order_by("-id")


def job_dispute_list(*, job: Job) -> QuerySet[Dispute]:
    """Appeals of the job's assignments and complaints about its workers, newest first."""
    return Dispute.objects.filter(job=job).order_by("-id")


def dispute_list() -> QuerySet[Dispute]:
    """Every dispute, for staff: the oldest first (a queue)."""
    return Dispute.objects.order_by("created_at", "id")


def dispute_get(*, dispute_id: int) -> Dispute:
    dispute = dispute_list().filter(pk=dispute_id).first()
    if dispute is None:
        raise NotFound("No such dispute.")
    return dispute

"""Release and expiry: an open assignment handed back by its worker, or past its deadline, gives its slot back.

Locks, in the engine's order: the assignment, then its task, then the worker's participation.
"""

from functools import partial

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from marketplace.accounts.models import User
from marketplace.models import Assignment, AssignmentStatus, Job, MicroTask, Participation
from marketplace.services.assignment_own import closed, lock_own
from marketplace.services.webhooks import webhook_assignment_data, webhook_emit


def assignment_release(*, assignment_id: int, worker: User) -> Assignment:
    """The worker hands an open assignment back; its slot returns to the pool. Releasing twice is harmless; an
    overdue assignment is recorded as expired rather than released."""
    with transaction.atomic(durable=True):
        assignment = lock_own(assignment_id, worker)
        if assignment.status == AssignmentStatus.RELEASED:
            return assignment
        if assignment.status != AssignmentStatus.OPEN:
            raise closed(assignment)
        overdue = assignment.expires_at <= timezone.now()
        close(assignment, AssignmentStatus.EXPIRED if overdue else AssignmentStatus.RELEASED)
    return assignment


def assignments_release_open(*, job: Job, worker_id: int) -> int:
    """Release every open assignment of a worker on a job (when they are blocked). Returns how many.

    Locks each assignment, then its task and the participation: the engine's lock order."""
    with transaction.atomic():
        open_ones = list(
            Assignment.objects.select_for_update().filter(job=job, worker_id=worker_id, status=AssignmentStatus.OPEN)
        )
        for assignment in open_ones:
            close(assignment, AssignmentStatus.RELEASED)
    return len(open_ones)


def assignment_expire_overdue(*, job_id: int | None = None, limit: int = 1000) -> int:
    """Expire up to `limit` open assignments past their deadline and free their slots. Returns how many.

    Rows another transaction holds (a submit in progress) are skipped: that transaction decides their fate.
    """
    with transaction.atomic():
        overdue = Assignment.objects.select_for_update(skip_locked=True).filter(
            status=AssignmentStatus.OPEN, expires_at__lte=timezone.now()
        )
        if job_id is not None:
            overdue = overdue.filter(job_id=job_id)
        batch = list(overdue.order_by("expires_at")[:limit])
        for assignment in batch:
            close(assignment, AssignmentStatus.EXPIRED)
    return len(batch)


def close(assignment: Assignment, status: str) -> None:
    """Expire or release a locked open assignment and give its slot back."""
    assignment.status, assignment.closed_at = status, timezone.now()
    assignment.save(update_fields=["status", "closed_at"])
    MicroTask.objects.filter(pk=assignment.task_id).update(assigned_count=F("assigned_count") - 1)
    Participation.objects.filter(job_id=assignment.job_id, worker_id=assignment.worker_id).update(
        open_assignments=F("open_assignments") - 1
    )
    if status == AssignmentStatus.EXPIRED:
        webhook_emit(
            job=assignment.job_id, event="assignment.expired", data=partial(webhook_assignment_data, assignment)
        )

"""Blocks: a worker kept off one job, or off every job of a requester, with who, why and when; and lifted again.

A block on a job (`participation_block`; quality control's gold and speed rules use it too) takes the worker's work
on the job out of play: their open assignments go back to the pool, their work awaiting review is rejected with the
block's reason (they may appeal each rejection), the aggregation leaves their answers out, and each task they
submitted gets one more slot (`funding.job_slots_add`: funded in the same transaction, or left waiting for funds)
so that every item still collects its answers. Lifting it (`participation_unblock`) undoes each step: the
rejections it made are pending review again (unless appealed), the replacement slots nobody took are taken back,
and the escrow is topped up to cover the reopened work, or the unblock is refused with `insufficient_funds`.

A block on every job of a requester (`requester_block`) is read by the eligibility rule: the worker can claim none
of that requester's jobs, and their open assignments there go back to the pool; their past work stands.

Requesters block on their own jobs; staff anywhere (the admin). Every block records its reason, who and when; a
lifted one keeps the record with who lifted it, why and when.
"""

from collections import Counter
from datetime import datetime
from functools import partial

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from marketplace.accounts.models import User
from marketplace.errors import AlreadyBlocked, Forbidden, InvalidBlock, NotBlocked, NotFound
from marketplace.models import (
    Assignment,
    AssignmentStatus,
    Block,
    BlockSource,
    Dispute,
    Job,
    MicroTask,
    Participation,
    ReviewStatus,
)
from marketplace.services.assignment_release import assignments_release_open
from marketplace.services.funding import job_escrow_cover, job_slots_add, tasks_lock
from marketplace.services.webhooks import webhook_assignment_data, webhook_emit
from marketplace.services.worker_news import news_of_block, news_of_review, news_of_unblock

MAX_REASON = 500


# --- On one job ---------------------------------------------------------------------------------------------------


def participation_block(
    *, job: Job, worker_id: int, reason: str, source: str = BlockSource.QUALITY, by: User | None = None
) -> bool:
    """Block a worker from a job (see the module's docstring for what that does); returns False if they already
    were. Used by quality control (`source` "quality", `by` None) and by `job_worker_block`.

    Locks, in the engine's order: the worker's open and pending assignments on the job, the tasks concerned
    (ascending), the participation, then (for the replacement slots) the job row and the ledger accounts.
    """
    if Participation.objects.filter(job=job, worker_id=worker_id, blocked_at__isnull=False).exists():
        return False
    with transaction.atomic():
        pending = Q(status=AssignmentStatus.SUBMITTED, review_status=ReviewStatus.PENDING)
        held = _lock_assignments(job, worker_id, Q(status=AssignmentStatus.OPEN) | pending)
        submitted = list(
            Assignment.objects.filter(job=job, worker_id=worker_id, status=AssignmentStatus.SUBMITTED).values_list(
                "task_id", flat=True
            )
        )
        tasks_lock(job_id=job.pk, task_ids={a.task_id for a in held} | set(submitted))
        participation, _ = Participation.objects.get_or_create(job=job, worker_id=worker_id)
        now = timezone.now()
        if not Participation.objects.filter(pk=participation.pk, blocked_at__isnull=True).update(
            blocked_at=now, block_reason=reason[:255]
        ):
            return False
        assignments_release_open(job=job, worker_id=worker_id)
        block = Block.objects.create(
            worker_id=worker_id, requester_id=job.requester_id, job=job, source=source, reason=reason, created_by=by
        )
        news_of_block(block)
        _reject(block, job, [a for a in held if a.status == AssignmentStatus.SUBMITTED], now)
        job_slots_add(job=job, add=Counter(submitted))
    return True


def job_worker_block(*, job: Job, worker_id: int, reason: str, by: User) -> Block:
    """The job's requester (or staff) blocks a worker from the job, with a reason. `AlreadyBlocked` if they are."""
    text = _reason_clean(reason)
    _check_may_block(by, job.requester_id)
    _worker(worker_id)
    source = BlockSource.REQUESTER if by.pk == job.requester_id else BlockSource.STAFF
    if not participation_block(job=job, worker_id=worker_id, reason=text, source=source, by=by):
        raise AlreadyBlocked(block=_standing(job=job, worker_id=worker_id, requester_id=job.requester_id).pk)
    return _standing(job=job, worker_id=worker_id, requester_id=job.requester_id)


def job_worker_unblock(*, job: Job, worker_id: int, reason: str, by: User) -> Block:
    """Lift the worker's standing block on the job, with a reason (the requester or staff).

    The block's rejections that nobody appealed are pending review again (with a fresh auto-approval delay); each
    task the worker submitted gives back one replacement slot if nobody took it (a waiting one first); and the
    escrow is topped up to cover what the job now owes, all or `InsufficientFunds` with the shortfall (nothing
    changes then). Locks: the block, the reopened assignments, the tasks (ascending), the participation, the job,
    the ledger accounts: the engine's order. Idempotency: a lifted block is `NotBlocked`.
    """
    text = _reason_clean(reason)
    _check_may_block(by, job.requester_id)
    with transaction.atomic(durable=True):
        block = Block.objects.select_for_update().filter(job=job, worker_id=worker_id, lifted_at__isnull=True).first()
        if block is None:
            raise NotBlocked()
        reopen = _lock_assignments(job, worker_id, Q(pk__in=_reopenable(block)))
        submitted = Assignment.objects.filter(job=job, worker_id=worker_id, status=AssignmentStatus.SUBMITTED)
        mine = set(submitted.values_list("task_id", flat=True))
        tasks = [task for task in tasks_lock(job_id=job.pk, task_ids=mine) if task.pk in mine]
        Participation.objects.filter(job=job, worker_id=worker_id).update(blocked_at=None, block_reason="")
        now = timezone.now()
        Assignment.objects.filter(pk__in=[a.pk for a in reopen]).update(
            review_status=ReviewStatus.PENDING,
            reviewed_at=None,
            reviewed_by=None,
            reject_reason="",
            auto_approve_at=now + job.auto_approve_delay,
        )
        for task in tasks:
            _take_back_slot(task)
        job_escrow_cover(job=job)
        block.lifted_at, block.lifted_by, block.lift_reason = now, by, text
        block.save(update_fields=["lifted_at", "lifted_by", "lift_reason"])
        news_of_unblock(block)
    return block


def _lock_assignments(job: Job, worker_id: int, which: Q) -> list[Assignment]:
    return list(
        Assignment.objects.select_for_update(of=("self",)).filter(which, job=job, worker_id=worker_id).order_by("pk")
    )


def _reject(block: Block, job: Job, pending: list[Assignment], now: datetime) -> None:
    """Reject the blocked worker's work awaiting review with the block's reason; tell the requester's webhooks."""
    if not pending:
        return
    Assignment.objects.filter(pk__in=[a.pk for a in pending]).update(
        review_status=ReviewStatus.REJECTED, reviewed_at=now, reject_reason=block.reason
    )
    block.rejected.add(*pending)
    for assignment in pending:
        assignment.review_status, assignment.reject_reason = ReviewStatus.REJECTED, block.reason
        assignment.job = job  # the news names the job: read once, not once per assignment
        webhook_emit(job=job.pk, event="assignment.rejected", data=partial(_rejected_data, assignment, block))
        news_of_review(assignment)


def _rejected_data(assignment: Assignment, block: Block) -> dict[str, object]:
    return {
        **webhook_assignment_data(assignment),
        "review_status": "rejected",
        "reject_reason": block.reason,
        "rejected_by": "quality_control" if block.source == BlockSource.QUALITY else block.source,
        "block": block.pk,
    }


def _reopenable(block: Block) -> list[int]:
    """The block's rejections still standing and never appealed (an appeal decides its own rejection)."""
    appealed = Dispute.objects.filter(assignment=OuterRef("pk"))
    return list(
        block.rejected.filter(review_status=ReviewStatus.REJECTED)
        .exclude(Exists(appealed))
        .values_list("pk", flat=True)
    )


def _take_back_slot(task: MicroTask) -> None:
    """One replacement slot of a locked task back: a waiting one, else a free one; a slot someone holds stays."""
    if task.unfunded_slots:
        MicroTask.objects.filter(pk=task.pk).update(unfunded_slots=task.unfunded_slots - 1)
    elif task.assigned_count < task.overlap_target:
        MicroTask.objects.filter(pk=task.pk).update(overlap_target=task.overlap_target - 1)


# --- On every job of a requester -------------------------------------------------------------------------------------


def requester_block(*, requester: User, worker_id: int, reason: str, by: User) -> Block:
    """Keep a worker off every job of `requester`, now and later, with a reason (the requester, or staff); their
    open assignments on those jobs go back to the pool. `AlreadyBlocked` if a block stands."""
    text = _reason_clean(reason)
    _check_may_block(by, requester.pk)
    worker = _worker(worker_id)
    source = BlockSource.REQUESTER if by.pk == requester.pk else BlockSource.STAFF
    with transaction.atomic(durable=True):
        try:
            with transaction.atomic():
                block = Block.objects.create(
                    worker=worker, requester=requester, job=None, source=source, reason=text, created_by=by
                )
        except IntegrityError:
            raise AlreadyBlocked(block=_standing(job=None, worker_id=worker_id, requester_id=requester.pk).pk) from None
        news_of_block(block)
        jobs = Job.objects.filter(
            Exists(Assignment.objects.filter(job=OuterRef("pk"), worker=worker, status=AssignmentStatus.OPEN)),
            requester=requester,
        )
        for job in jobs.order_by("pk"):
            assignments_release_open(job=job, worker_id=worker_id)
    return block


def requester_unblock(*, requester: User, worker_id: int, reason: str, by: User) -> Block:
    """Lift the worker's standing block on every job of `requester`, with a reason; the record stays."""
    text = _reason_clean(reason)
    _check_may_block(by, requester.pk)
    with transaction.atomic(durable=True):
        block = (
            Block.objects.select_for_update()
            .filter(requester=requester, worker_id=worker_id, job__isnull=True, lifted_at__isnull=True)
            .first()
        )
        if block is None:
            raise NotBlocked()
        block.lifted_at, block.lifted_by, block.lift_reason = timezone.now(), by, text
        block.save(update_fields=["lifted_at", "lifted_by", "lift_reason"])
        news_of_unblock(block)
    return block


# --- Shared checks ---------------------------------------------------------------------------------------------------


def _reason_clean(reason: str) -> str:
    text = (reason or "").strip()
    if not text:
        raise InvalidBlock("A block or unblock needs a reason.", field="reason")
    if len(text) > MAX_REASON:
        raise InvalidBlock(f"The reason is longer than {MAX_REASON} characters.", field="reason")
    return text


def _check_may_block(by: User, requester_id: int) -> None:
    if not (by.pk == requester_id or getattr(by, "is_staff", False)):
        raise Forbidden("Only the requester or staff may block or unblock workers here.")


def _worker(worker_id: int) -> User:
    worker = User.objects.filter(pk=worker_id, is_worker=True).first()
    if worker is None:
        raise NotFound("No such worker.", field="worker")
    return worker


def _standing(*, job: Job | None, worker_id: int, requester_id: int) -> Block:
    blocks = Block.objects.filter(worker_id=worker_id, requester_id=requester_id, job=job, lifted_at__isnull=True)
    return blocks.get()

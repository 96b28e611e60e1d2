"""Money in the marketplace: what a job costs, its escrow at launch, approving (paying) or rejecting submitted work,
bonuses, and settling a finished job's escrow.

Pricing rule: each assignment pays the job's `reward_cents`; the platform's fee, `fee_rate` x reward (rounded half
to even, `payments.money.fee_split`), is charged on top to the requester. Launching moves the full cost, tasks x
`overlap_max` x (reward + fee), into the job's escrow; approval moves reward to the worker and fee to the platform;
what is left when the job is over goes back to the requester. A bonus carries the same fee rate, on top.
"""

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from decimal import Decimal
from functools import partial
from typing import Any

from django.db import transaction
from django.utils import timezone

from marketplace.accounts.models import User
from marketplace.errors import AlreadyReviewed, InvalidReview, MarketplaceError, NotFound
from marketplace.models import (
    FINISHED_STATUSES,
    Assignment,
    AssignmentStatus,
    Job,
    MicroTask,
    ReviewStatus,
)
from marketplace.selectors import assignment_price, job_fee_rate, job_slots_owed
from marketplace.services.reputation import reputation_recompute
from marketplace.services.webhooks import webhook_assignment_data, webhook_emit
from marketplace.services.worker_news import news_of_review
from payments.errors import PaymentsError
from payments.models import Transaction
from payments.money import fee_split
from payments.selectors import account_escrow_get, balance_list
from payments.services.escrow import bonus_pay, escrow_fund, escrow_pay_reward, escrow_refund


@dataclass(frozen=True)
class JobCost:
    """The most a job can spend, which launching moves into its escrow: every task at `overlap_max`, each
    assignment paid its reward plus the platform's fee (the fee rate is fixed at launch)."""

    currency: str
    tasks: int
    assignments: int
    reward_cents: int
    fee_cents: int
    fee_rate: Decimal
    total_cents: int
    bonus_fee_rate: Decimal  # bonuses carry the platform fee too, on top, at this rate


def job_cost_estimate(job: Job) -> JobCost:
    reward, fee = assignment_price(job)
    tasks = MicroTask.objects.filter(job=job).count()
    assignments = tasks * job.overlap_max
    return JobCost(
        currency=job.currency,
        tasks=tasks,
        assignments=assignments,
        reward_cents=reward,
        fee_cents=fee,
        fee_rate=job_fee_rate(job),
        total_cents=assignments * (reward + fee),
        bonus_fee_rate=job_fee_rate(job),
    )


def job_cost(job: Job) -> int:
    """The most the job can spend (`job_cost_estimate`), in minor units."""
    return job_cost_estimate(job).total_cents


@dataclass(frozen=True)
class CostQuote(JobCost):
    """The cost, with the requester's available balance and what they must deposit before launching (None once
    the job is launched: its cost is in escrow)."""

    available_cents: int
    shortfall_cents: int | None


def job_cost_quote(job: Job) -> CostQuote:
    cost = job_cost_estimate(job)
    available = next((b.available for b in balance_list(user=job.requester) if b.currency == job.currency), 0)
    shortfall = None if job.launched_at else max(0, cost.total_cents - available)
    return CostQuote(**asdict(cost), available_cents=available, shortfall_cents=shortfall)


def job_fund_escrow(*, job: Job) -> Transaction:
    """At launch, under the caller's job lock: fix the fee rate and move the full cost into the job's escrow.
    Idempotent (one key per job); `InsufficientFunds` (with the shortfall) refuses the launch."""
    job.fee_rate = job_fee_rate(job)
    return escrow_fund(
        job_id=job.pk,
        requester=job.requester,
        amount=job_cost(job),
        currency=job.currency,
        idempotency_key=f"job:{job.pk}:escrow",
    )


# --- Reviews ------------------------------------------------------------------------------------------------------


def assignment_approve(*, assignment_id: int, by: User | None = None) -> Assignment:
    """Approve a submitted assignment and pay it from the job's escrow, exactly once.

    Locks the assignment, then (in `payments`) the escrow, worker and fee accounts. Idempotent: approving an
    approved assignment returns it; the payment's key (`assignment:<id>:pay`) makes a retried payment post once.
    A rejected assignment is approved only through a dispute (`assignment_overturn`).
    """
    with transaction.atomic(durable=True):
        assignment = _lock_submitted(assignment_id)
        if assignment.review_status == ReviewStatus.APPROVED:
            return assignment
        if assignment.review_status == ReviewStatus.REJECTED:
            raise AlreadyReviewed("This assignment was rejected; the worker may appeal.", status="rejected")
        _pay(assignment, by)
        assignment_review_emit(assignment=assignment)
    job_settle(job_id=assignment.job_id)
    reputation_recompute(worker_ids=[assignment.worker_id])
    return assignment


def assignment_overturn(*, assignment: Assignment, by: User | None) -> None:
    """A dispute overturned the rejection: approve and pay. The caller holds the assignment's lock.

    The job's escrow may no longer hold this reward: quality control gave the task a replacement slot, paid from
    the same reservation, when it rejected this work. Then the requester, whose rejection was overturned, tops the
    escrow up from their available balance (once: its own idempotency key); without the funds, `InsufficientFunds`
    leaves the dispute open.
    """
    reward, fee = assignment_price(assignment.job)
    escrow = account_escrow_get(job_id=assignment.job_id, currency=assignment.job.currency)
    shortfall = reward + fee - (escrow.balance if escrow else 0)
    if shortfall > 0:
        escrow_fund(
            job_id=assignment.job_id,
            requester=assignment.job.requester,
            amount=shortfall,
            currency=assignment.job.currency,
            idempotency_key=f"assignment:{assignment.pk}:overturn-topup",
        )
    _pay(assignment, by)


def _pay(assignment: Assignment, by: User | None) -> None:
    reward, fee = assignment_price(assignment.job)
    escrow_pay_reward(
        job_id=assignment.job_id,
        worker=assignment.worker,
        reward=reward,
        fee=fee,
        currency=assignment.job.currency,
        idempotency_key=f"assignment:{assignment.pk}:pay",
        reference_type="assignment",
        reference_id=assignment.pk,
    )
    assignment.review_status, assignment.reviewed_at, assignment.reviewed_by = ReviewStatus.APPROVED, timezone.now(), by
    assignment.save(update_fields=["review_status", "reviewed_at", "reviewed_by"])


def assignment_reject(*, assignment_id: int, by: User | None, reason: str) -> Assignment:
    """Reject a submitted assignment with a written reason (kept on record; the worker may appeal). Nothing is
    paid. Idempotent for the same outcome; an approved assignment cannot be rejected (it was paid)."""
    if not reason or not reason.strip():
        raise InvalidReview("A rejection needs a reason.", field="reason")
    with transaction.atomic(durable=True):
        assignment = _lock_submitted(assignment_id)
        if assignment.review_status == ReviewStatus.REJECTED:
            return assignment
        if assignment.review_status == ReviewStatus.APPROVED:
            raise AlreadyReviewed("This assignment was approved and paid.", status="approved")
        assignment.review_status, assignment.reviewed_at = ReviewStatus.REJECTED, timezone.now()
        assignment.reviewed_by, assignment.reject_reason = by, reason.strip()
        assignment.save(update_fields=["review_status", "reviewed_at", "reviewed_by", "reject_reason"])
        assignment_review_emit(assignment=assignment)
    job_settle(job_id=assignment.job_id)
    reputation_recompute(worker_ids=[assignment.worker_id])
    return assignment


def assignment_review_emit(*, assignment: Assignment, **extra: Any) -> None:
    """Announce a review to the requester's webhooks (`assignment.approved` / `assignment.rejected`), inside the
    transaction that made it: the assignment with its answers, the outcome, when, whether it was automatic (auto-
    approval, or an appeal the other workers' answers backed), a rejection's reason, and `extra` (e.g. the dispute
    that overturned it)."""

    def data() -> dict[str, Any]:
        review = {
            "review_status": assignment.review_status,
            "reviewed_at": assignment.reviewed_at.isoformat() if assignment.reviewed_at else None,
            "automatic": assignment.reviewed_by_id is None,
        }
        if assignment.review_status == ReviewStatus.REJECTED:
            review["reason"] = assignment.reject_reason
        return {**webhook_assignment_data(assignment), **review, **extra}

    webhook_emit(job=assignment.job_id, event=f"assignment.{assignment.review_status}", data=data)
    news_of_review(assignment)


def _lock_submitted(assignment_id: int) -> Assignment:
    assignment = (
        Assignment.objects.select_for_update(of=("self",), no_key=True)
        .select_related("job", "worker")
        .filter(pk=assignment_id, status=AssignmentStatus.SUBMITTED)
        .first()
    )
    if assignment is None:
        raise NotFound("No such submitted assignment.")
    return assignment


def assignments_review(
    *, job: Job, approve: Iterable[int], reject: Iterable[tuple[int, str]], by: User
) -> dict[str, list]:
    """Approve and reject many of the job's submitted assignments, each in its own transaction, so that one that
    is refused (not this job's, already reviewed the other way, escrow short) does not undo the others."""
    mine = set(Assignment.objects.filter(job=job).values_list("id", flat=True))
    done: dict[str, list] = {"approved": [], "rejected": [], "refused": []}
    actions = [("approved", i, partial(assignment_approve, assignment_id=i, by=by)) for i in approve]
    actions += [("rejected", i, partial(assignment_reject, assignment_id=i, by=by, reason=r)) for i, r in reject]
    for outcome, assignment_id, action in actions:
        try:
            if assignment_id not in mine:
                raise NotFound("No such submitted assignment.")
            action()
            done[outcome].append(assignment_id)
        except (MarketplaceError, PaymentsError) as refused:
            done["refused"].append({"id": assignment_id, "code": refused.code, "message": refused.message})
    return done


def assignment_auto_approve_due(*, limit: int = 500) -> int:
    """Approve (and pay) submitted assignments whose review delay has passed (run by beat). Returns how many."""
    due = list(
        Assignment.objects.filter(
            status=AssignmentStatus.SUBMITTED, review_status=ReviewStatus.PENDING, auto_approve_at__lte=timezone.now()
        ).values_list("id", flat=True)[:limit]
    )
    for assignment_id in due:
        try:
            assignment_approve(assignment_id=assignment_id)
        except PaymentsError:
            continue  # escrow short (e.g. after replacement slots): left for the requester to settle
    return len(due)


@dataclass(frozen=True)
class Bonus:
    transaction: Transaction
    worker_id: int
    amount_cents: int
    fee_cents: int


def bonus_grant(*, job: Job, worker_id: int, amount: int, reason: str, idempotency_key: str) -> Bonus:
    """The requester pays a worker who worked on the job a bonus from their available balance, with a reason, and
    the job's platform fee on top (as on a reward: a bonus is no way around the fee). Idempotent by the client's
    key, scoped to the job."""
    if not reason or not reason.strip():
        raise InvalidReview("A bonus needs a reason.", field="reason")
    worked = Assignment.objects.filter(job=job, worker_id=worker_id, status=AssignmentStatus.SUBMITTED).first()
    if worked is None:
        raise NotFound("This worker submitted no work on the job.")
    rate = job_fee_rate(job)
    with transaction.atomic(durable=True):
        paid = bonus_pay(
            requester=job.requester,
            worker=worked.worker,
            amount=amount,
            currency=job.currency,
            fee_rate=rate,
            reason=reason.strip(),
            idempotency_key=f"job:{job.pk}:bonus:{idempotency_key}",
            reference_type="job",
            reference_id=job.pk,
        )
    fee, _ = fee_split(gross=amount, rate=rate)
    return Bonus(transaction=paid, worker_id=worker_id, amount_cents=amount, fee_cents=fee)


# --- Settlement ---------------------------------------------------------------------------------------------------


def job_settle(*, job_id: int) -> Transaction | None:
    """Refund the unspent escrow of a finished job (completed, cancelled or expired), keeping what its remaining work
    may still cost (`selectors.job_slots_owed`): open assignments (submittable until their own expiry), submitted ones
    awaiting review, and rejected ones that may still be appealed. No claim commits after the job stops being active
    (the `assignment_job_active` trigger), so the open work counted here under the job's lock is all there will be.

    Under the job row lock; each refund has its own key (`job:<id>:refund:<n>`, n counted on the job), so a
    repeated call refunds only what became free since the last one.
    """
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job_id)
        if job.status not in FINISHED_STATUSES or job.fee_rate is None:
            return None
        reward, fee = assignment_price(job)
        refund = escrow_refund(
            job_id=job.pk,
            requester=job.requester,
            currency=job.currency,
            idempotency_key=f"job:{job.pk}:refund:{job.refunds}",
            keep=job_slots_owed(job=job) * (reward + fee),
        )
        if refund is not None:
            job.refunds += 1
            job.save(update_fields=["refunds"])
    return refund


def auto_approve_time(submitted_at: datetime, job: Job) -> datetime:
    return submitted_at + job.auto_approve_delay

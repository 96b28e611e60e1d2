"""Disputes: a worker appeals a rejection, a requester complains about a worker, and the one decision that closes
each.

Appeals meet the aggregation: when the other workers' answers, weighed by the job's Dawid-Skene model, back the
rejected worker on at least `APPEAL_AUTO_AGREEMENT` of the assignment's real items (gold left out; see
`marketplace.services.appeals` for when an item counts), the appeal is upheld on its own: the rejection is
overturned and the work paid. The appellant's own answers never count for them, so an appeal on a job with one
answer per item always goes to an admin. That is checked when the appeal is filed and after every aggregation of
the job. An appeal the others do not back (or not yet), or that the escrow cannot pay, waits for an admin with the
reason on the dispute (`pending_reason`). Admins decide everything else, always with a note; a complaint decided
`act` blocks the worker from the job, the note being the block's reason.

Locks, in this order on every path: the dispute row, then its assignment, then (in `payments`) the ledger accounts.
So an admin and the automatic check racing on one appeal serialise, and the second finds it resolved. The payment
is idempotent by its key (`assignment:<id>:pay`): even a repeated overturn posts once.

The reads (`*_dispute_list`) live here rather than in the shared `selectors.py` module; they are plain scoped
querysets, as a selector's would be.
"""

from collections.abc import Callable
from fractions import Fraction

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from marketplace.accounts.models import User
from marketplace.errors import (
    AlreadyAppealed,
    AlreadyComplained,
    AlreadyResolved,
    AppealWindowClosed,
    Forbidden,
    InvalidDispute,
    MarketplaceError,
    NotAppealable,
    NotFound,
)
from marketplace.models import (
    DECISIONS_BY_KIND,
    Assignment,
    BlockSource,
    Dispute,
    DisputeAction,
    DisputeDecision,
    DisputeKind,
    DisputeStatus,
    Job,
    ReviewStatus,
)
from marketplace.services.appeals import AppealEvidence, appeal_evidence
from marketplace.services.reputation import reputation_recompute
from marketplace.services.reviews import assignment_overturn, assignment_review_emit, job_settle
from marketplace.services.worker_news import news_of_appeal
from payments.errors import PaymentsError

MAX_TEXT = 5000


# --- Filing ---------------------------------------------------------------------------------------------------------


def appeal_file(*, assignment_id: int, worker: User, message: str) -> Dispute:
    """The worker appeals the rejection of their own assignment; the appeal is then checked against the job's
    aggregated labels at once (`appeal_auto_resolve`), so it may come back already overturned.

    Rules: only the assignment's worker (`NotFound` for anyone else), only a rejection (`NotAppealable`), within
    `APPEAL_WINDOW` of it (`AppealWindowClosed`), once (`AlreadyAppealed`, also a unique constraint), with a message.
    Locks the assignment while filing, so two racing appeals serialise and the second is refused.
    """
    text = _required(message, field="message")
    with transaction.atomic(durable=True):
        assignment = _lock_assignment(assignment_id, worker=worker)
        if (first := _appeal_of(assignment.pk)) is not None:
            raise AlreadyAppealed(dispute=first.pk)
        _check_appealable(assignment)
        appeal = Dispute(
            kind=DisputeKind.APPEAL,
            job_id=assignment.job_id,
            worker=worker,
            filed_by=worker,
            assignment=assignment,
            message=text,
        )
        _insert(appeal, lambda: _appeal_of(assignment.pk), AlreadyAppealed)
    return appeal_auto_resolve(dispute_id=appeal.pk)


def _check_appealable(assignment: Assignment) -> None:
    if assignment.review_status != ReviewStatus.REJECTED or assignment.reviewed_at is None:
        raise NotAppealable(review_status=assignment.review_status)
    closes_at = assignment.reviewed_at + settings.APPEAL_WINDOW
    if timezone.now() > closes_at:
        raise AppealWindowClosed(closed_at=closes_at.isoformat())


def _appeal_of(assignment_id: int) -> Dispute | None:
    return Dispute.objects.filter(assignment_id=assignment_id).first()


def complaint_file(*, job: Job, worker_id: int, message: str, by: User) -> Dispute:
    """The job's requester complains about a worker who held an assignment on the job, for an admin to decide.

    One open complaint per worker and job (a partial unique constraint): another while it is open is
    `AlreadyComplained`, naming it; after its resolution a new one may be filed. Moves no money.
    """
    text = _required(message, field="message")
    if job.requester_id != by.pk:
        raise NotFound("No such job.")
    worked = Assignment.objects.filter(job=job, worker_id=worker_id).select_related("worker").first()
    if worked is None:
        raise NotFound("This worker has not worked on the job.", field="worker")

    def open_complaint() -> Dispute | None:
        return Dispute.objects.filter(
            job=job, worker_id=worker_id, kind=DisputeKind.COMPLAINT, status=DisputeStatus.OPEN
        ).first()

    with transaction.atomic(durable=True):
        if (first := open_complaint()) is not None:
            raise AlreadyComplained(dispute=first.pk)
        complaint = Dispute(kind=DisputeKind.COMPLAINT, job=job, worker=worked.worker, filed_by=by, message=text)
        return _insert(complaint, open_complaint, AlreadyComplained)


def _insert(dispute: Dispute, existing: Callable[[], Dispute | None], conflict: type[MarketplaceError]) -> Dispute:
    # Uniqueness is left to the database (and checked by the caller first): a racing duplicate must be a 409
    # naming the dispute that won, not full_clean's generic validation error.
    dispute.full_clean(validate_constraints=False)
    try:
        with transaction.atomic():
            dispute.save()
    except IntegrityError:
        winner = existing()
        raise conflict(dispute=winner.pk if winner else None) from None
    return dispute


def _required(text: str, *, field: str) -> str:
    cleaned = (text or "").strip()
    if not cleaned:
        raise InvalidDispute(f"A {field} is required.", field=field)
    if len(cleaned) > MAX_TEXT:
        raise InvalidDispute(f"The {field} is longer than {MAX_TEXT} characters.", field=field)
    return cleaned


# --- Automatic resolution of appeals -------------------------------------------------------------------------------


def appeal_auto_resolve(*, dispute_id: int) -> Dispute:
    """Overturn an open appeal's rejection when the other workers' answers back the worker on at least
    `APPEAL_AUTO_AGREEMENT` of the assignment's real items (`appeal_evidence`); otherwise record why it waits for an
    admin. Nothing is ever upheld automatically.

    Under the dispute's lock, then the assignment's: the approval, its payment and the resolution commit together.
    Idempotent: a resolved dispute comes back unchanged, and the payment's key posts it once. A payment the
    escrow cannot make (`InsufficientFunds`, or any `PaymentsError`) leaves the appeal open, with the reason.
    """
    with transaction.atomic(durable=True):
        dispute = _lock_dispute(dispute_id)
        if dispute.status != DisputeStatus.OPEN or dispute.kind != DisputeKind.APPEAL:
            return dispute
        assignment = _lock_assignment(dispute.assignment_id)
        evidence = appeal_evidence(assignment=assignment)
        agreement = evidence.agreement if evidence is not None else None
        dispute.agreement = None if agreement is None else round(float(agreement), 4)
        if evidence is None or agreement is None or agreement < _needed():
            return _wait(dispute, _why_waiting(evidence))
        try:
            _overturn(dispute, assignment, by=None)
        except PaymentsError as refused:
            return _wait(dispute, f"{_backing(evidence)}, but the payment failed: {refused.message}")
        note = f"Overturned automatically: {_backing(evidence)} (needed {float(_needed()):.0%})."
        _close(dispute, decision=DisputeDecision.OVERTURN, note=note, by=None)
    _after_appeal(dispute)
    return dispute


def _needed() -> Fraction:
    return Fraction(str(settings.APPEAL_AUTO_AGREEMENT))


def _backing(evidence: AppealEvidence) -> str:
    return f"other workers' answers back the worker on {evidence.backed} of {evidence.items} items"


def _why_waiting(evidence: AppealEvidence | None) -> str:
    if evidence is None:
        return "The job has not been aggregated yet: no other worker's answers have been weighed."
    rule = evidence.rule
    if not evidence.determined:
        return f"Other workers' answers determine none of the {evidence.items} items' labels ({rule})."
    return (
        f"Other workers' answers determine {evidence.determined} of {evidence.items} items' labels ({rule}): "
        f"they back the worker on {evidence.backed} and contradict them on {evidence.contradicted}; an automatic "
        f"overturn needs {float(_needed()):.0%} of the items backed."
    )


def appeals_auto_resolve(*, job_id: int) -> int:
    """After an aggregation of the job (its results committed): check each open appeal of the job against the new
    labels, each in its own transaction. Returns how many were overturned."""
    open_ids = list(
        Dispute.objects.filter(job_id=job_id, kind=DisputeKind.APPEAL, status=DisputeStatus.OPEN)
        .order_by("id")
        .values_list("id", flat=True)
    )
    return sum(appeal_auto_resolve(dispute_id=dispute_id).status == DisputeStatus.RESOLVED for dispute_id in open_ids)


def _wait(dispute: Dispute, reason: str) -> Dispute:
    dispute.pending_reason = reason[:500]
    dispute.save(update_fields=["agreement", "pending_reason", "updated_at"])
    return dispute


# --- Decisions -----------------------------------------------------------------------------------------------------


def dispute_resolve(*, dispute_id: int, decision: str, note: str, by: User) -> Dispute:
    """An admin decides a dispute, with a note on record (who, why, when).

    `overturn` approves and pays the appealed assignment (`assignment_overturn`) in the transaction that resolves
    the appeal; `uphold` keeps the rejection; a complaint is dismissed, or acted on (`act`: the worker is blocked
    from the job, the note being the block's reason, and `action` records it). Only an overturn moves money.
    Locks the dispute, then the assignment (overturn) or the worker's assignments and participation on the job
    (act). Decided once: any second decision is `AlreadyResolved`, so racing requests pay or block at most once. An
    escrow that cannot pay raises `InsufficientFunds` and nothing changes.
    """
    if not getattr(by, "is_staff", False):
        raise Forbidden("Only admins resolve disputes.")
    text = _required(note, field="note")
    with transaction.atomic(durable=True):
        dispute = _lock_dispute(dispute_id)
        if dispute.status == DisputeStatus.RESOLVED:
            raise AlreadyResolved(decision=dispute.decision)
        if decision not in DECISIONS_BY_KIND[dispute.kind]:
            allowed = ", ".join(DECISIONS_BY_KIND[dispute.kind])
            raise InvalidDispute(f"This {dispute.kind} is decided with one of: {allowed}.", field="decision")
        if decision == DisputeDecision.OVERTURN:
            _overturn(dispute, _lock_assignment(dispute.assignment_id), by=by)
        if decision == DisputeDecision.ACT:
            dispute.action = _act(dispute, reason=text, by=by)
        _close(dispute, decision=decision, note=text, by=by)
    if dispute.kind == DisputeKind.APPEAL:
        _after_appeal(dispute)
    return dispute


def _act(dispute: Dispute, *, reason: str, by: User) -> str:
    """Block the worker the complaint is about from its job, as staff (the caller holds the dispute's lock)."""
    # Imported here: blocks import the assignment engine, which imports the aggregation, which imports this module.
    from marketplace.services.blocks import participation_block  # noqa: PLC0415

    blocked = participation_block(
        job=dispute.job, worker_id=dispute.worker_id, reason=reason, source=BlockSource.STAFF, by=by
    )
    return DisputeAction.BLOCKED if blocked else DisputeAction.ALREADY_BLOCKED


def _after_appeal(dispute: Dispute) -> None:
    """After a decided appeal commits: an upheld one no longer holds its reward in the escrow (refunded if the job
    is over), and an overturned one is an approval on the worker's record."""
    job_settle(job_id=dispute.job_id)
    if dispute.decision == DisputeDecision.OVERTURN:
        reputation_recompute(worker_ids=[dispute.worker_id])


def _overturn(dispute: Dispute, assignment: Assignment, *, by: User | None) -> None:
    """Approve and pay the rejected assignment (the caller holds its lock) and tell the requester's webhooks."""
    if assignment.review_status == ReviewStatus.APPROVED:
        return
    with transaction.atomic():  # a savepoint: a refused payment leaves nothing behind
        assignment_overturn(assignment=assignment, by=by)
    assignment_review_emit(assignment=assignment, dispute=dispute.pk)


def _close(dispute: Dispute, *, decision: str, note: str, by: User | None) -> None:
    dispute.status, dispute.decision, dispute.resolution_note = DisputeStatus.RESOLVED, decision, note
    dispute.resolved_by, dispute.resolved_at, dispute.pending_reason = by, timezone.now(), ""
    dispute.full_clean()
    dispute.save()
    news_of_appeal(dispute)


def _lock_dispute(dispute_id: int) -> Dispute:
    dispute = Dispute.objects.select_for_update().filter(pk=dispute_id).first()
    if dispute is None:
        raise NotFound("No such dispute.")
    return dispute


def _lock_assignment(assignment_id: int | None, *, worker: User | None = None) -> Assignment:
    locking = (
        Assignment.objects.select_for_update(of=("self",), no_key=True)
        .select_related("job", "worker")
        .filter(pk=assignment_id)
    )
    assignment = (locking.filter(worker=worker) if worker is not None else locking).first()
    if assignment is None:
        raise NotFound("No such assignment.")
    return assignment


# --- Reads ---------------------------------------------------------------------------------------------------------


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

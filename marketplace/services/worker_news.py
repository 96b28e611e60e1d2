"""What the marketplace tells a worker (workers.notifications.notify): reviews, appeal decisions, blocks. Called
inside the transaction that made the news; each is idempotent by its event key."""

from marketplace.models import Assignment, Block, Dispute, DisputeDecision, DisputeKind, ReviewStatus
from workers.models import NotificationKind
from workers.notifications import notify


def news_of_review(assignment: Assignment) -> None:
    title = assignment.job.title
    if assignment.review_status == ReviewStatus.APPROVED:
        notify(
            worker_id=assignment.worker_id,
            kind=NotificationKind.APPROVED,
            key=f"assignment:{assignment.pk}:approved",
            title=f"Approved: your work on “{title}”",
            body=f"Assignment #{assignment.pk} was approved and paid into your balance.",
        )
    elif assignment.review_status == ReviewStatus.REJECTED:
        notify(
            worker_id=assignment.worker_id,
            kind=NotificationKind.REJECTED,
            key=f"assignment:{assignment.pk}:rejected",
            title=f"Rejected: your work on “{title}”",
            body=f"Assignment #{assignment.pk} was rejected: {assignment.reject_reason}\n"
            "You may appeal it once, from your rejected work.",
        )


def news_of_appeal(dispute: Dispute) -> None:
    if dispute.kind != DisputeKind.APPEAL:
        return
    outcome = "overturned: the work is approved and paid" if dispute.decision == DisputeDecision.OVERTURN else "upheld"
    notify(
        worker_id=dispute.worker_id,
        kind=NotificationKind.APPEAL_DECIDED,
        key=f"dispute:{dispute.pk}:decided",
        title=f"Your appeal was {outcome.split(':')[0]}",
        body=f"Your appeal of assignment #{dispute.assignment_id} was {outcome}.\n{dispute.resolution_note}",
    )


def _where(block: Block) -> str:
    return f"the job “{block.job.title}”" if block.job is not None else "every job of this requester"


def news_of_block(block: Block) -> None:
    where = _where(block)
    notify(
        worker_id=block.worker_id,
        kind=NotificationKind.BLOCKED,
        key=f"block:{block.pk}",
        title=f"You were blocked from {where}",
        body=f"Reason: {block.reason}\nYou may appeal the rejections it made; see your blocks for details.",
    )


def news_of_unblock(block: Block) -> None:
    where = _where(block)
    notify(
        worker_id=block.worker_id,
        kind=NotificationKind.UNBLOCKED,
        key=f"block:{block.pk}:lifted",
        title=f"Your block from {where} was lifted",
        body=f"Reason: {block.lift_reason}",
    )

"""Grants: who holds a qualification, from a passed test or by hand, and revocations. History is never rewritten.

Invariant (also the partial unique index `grant_one_live`): a worker has at most one unrevoked grant per
qualification. A new grant therefore first closes the current one with `revoke_reason = "superseded"` (who
superseded it in `revoked_by`: the granting owner, or nobody for a test), then inserts a new row. Revoking sets
`revoked_at`, `revoked_by` and `revoke_reason` and keeps the row.

Lock: the worker's unrevoked grant row (FOR UPDATE). When there is none, two first grants racing both insert; the
index lets one in, and the other retries once against the winner's row.
"""

from collections.abc import Callable
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from qualification.errors import GrantConflict, NotAWorker, NotEligible
from qualification.models import Attempt, Grant, Qualification
from qualification.services.qualifications import ensure_can_manage
from workers.models import NotificationKind
from workers.notifications import notify

SUPERSEDED = "superseded"
TEST_REASON = "passed the test"


def grant_for_attempt(*, attempt: Attempt) -> Grant | None:
    """Grant the qualification for a passed, graded attempt (called inside its grading transaction).

    The new grant replaces the worker's unrevoked one when that one has expired or has a lower score; a live grant
    with an equal or higher score stays, and the attempt earns nothing more (it is still recorded as passed).
    """
    now = timezone.now()
    qualification = attempt.qualification
    grant = Grant(
        qualification=qualification,
        worker_id=attempt.worker_id,
        score=attempt.score,
        source=Grant.Source.TEST,
        attempt=attempt,
        reason=TEST_REASON,
        expires_at=now + qualification.valid_for if qualification.valid_for else None,
    )
    return _install(grant, replaces=lambda current: not _is_live(current, now) or current.score < grant.score, by=None)


@transaction.atomic(durable=True)
def grant_manual(
    *,
    qualification: Qualification,
    worker: AbstractBaseUser,
    score: float,
    reason: str,
    by: AbstractBaseUser,
    expires_at: datetime | None = None,
) -> Grant:
    """The owner (or staff) grants the qualification by hand, with a reason on record.

    It replaces the worker's current grant whatever its score (the owner decides), which stays on record as
    superseded by `by`. `expires_at` defaults to now + `valid_for` (never, when the qualification has none).
    """
    ensure_can_manage(qualification=qualification, user=by)
    if not getattr(worker, "is_worker", False):
        raise NotAWorker()
    if worker.pk == qualification.owner_id:
        raise NotEligible("The owner cannot hold their own qualification.", reason="own_qualification")
    now = timezone.now()
    if expires_at is None and qualification.valid_for:
        expires_at = now + qualification.valid_for
    if expires_at is not None and expires_at <= now:
        raise ValidationError({"expires_at": "Must be in the future."})
    grant = Grant(
        qualification=qualification,
        worker=worker,
        score=score,
        source=Grant.Source.MANUAL,
        granted_by=by,
        reason=_reason(reason),
        expires_at=expires_at,
    )
    installed = _install(grant, replaces=lambda current: True, by=by)
    assert installed is not None  # a manual grant always replaces
    return installed


@transaction.atomic(durable=True)
def grant_revoke(*, grant: Grant, reason: str, by: AbstractBaseUser) -> Grant:
    """Revoke a grant (owner or staff), with a reason on record; the row stays as history.

    Idempotent: revoking a grant that is already revoked (or superseded) changes nothing and returns it, so the
    first reason stands. A worker whose grant was revoked by hand cannot win it back by retaking the test.
    """
    locked = Grant.objects.select_for_update(of=("self",)).select_related("qualification").get(pk=grant.pk)
    ensure_can_manage(qualification=locked.qualification, user=by)
    reason = _reason(reason)
    if locked.revoked_at is None:
        _close(locked, reason=reason, by=by)
        notify(
            worker_id=locked.worker_id,
            kind=NotificationKind.QUALIFICATION_REVOKED,
            key=f"grant:{locked.pk}:revoked",
            title=f"Qualification revoked: {locked.qualification.name}",
            body=f"Reason: {reason}",
        )
    return locked


def _install(grant: Grant, *, replaces: Callable[[Grant], bool], by: AbstractBaseUser | None) -> Grant | None:
    """Make `grant` the worker's one unrevoked grant if `replaces(current)` allows; else keep the current one."""
    for _ in range(2):
        current = (
            Grant.objects.select_for_update()
            .filter(qualification_id=grant.qualification_id, worker_id=grant.worker_id, revoked_at__isnull=True)
            .first()
        )
        if current is not None:
            if not replaces(current):
                return None
            _close(current, reason=SUPERSEDED, by=by)
        # `grant_one_live` is checked by the database (and retried on below), not by a racy pre-check.
        grant.full_clean(validate_constraints=False)
        try:
            with transaction.atomic():
                grant.save()
        except IntegrityError:
            continue  # a concurrent first grant won: lock it and decide again
        notify(
            worker_id=grant.worker_id,
            kind=NotificationKind.QUALIFICATION_GRANTED,
            key=f"grant:{grant.pk}",
            title=f"Qualification granted: {grant.qualification.name}",
            body=f"Score {grant.score:.0%}. The jobs that require it are now open to you.",
        )
        return grant
    raise GrantConflict()


def _close(grant: Grant, *, reason: str, by: AbstractBaseUser | None) -> None:
    grant.revoked_at, grant.revoked_by, grant.revoke_reason = timezone.now(), by, reason
    grant.save(update_fields=["revoked_at", "revoked_by", "revoke_reason"])


def _is_live(grant: Grant, now: datetime) -> bool:
    return grant.revoked_at is None and (grant.expires_at is None or grant.expires_at > now)


def _reason(reason: str) -> str:
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": "A reason is required."})
    return reason

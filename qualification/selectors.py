"""Reads of the qualification app. Every selector that serves a user scopes its queryset to what that user may see.

Who sees what:
- a qualification's owner and staff manage it and see its questions with their answer keys;
- other requesters see public qualifications (never their questions), and get 404 for private ones;
- workers see active qualifications with their own standing, and only their own attempts, never a key.
"""

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import (
    BooleanField,
    Count,
    Exists,
    Expression,
    ExpressionWrapper,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from qualification.errors import Forbidden, NotFound
from qualification.models import Attempt, Grant, Qualification, Question

# --- Grants: what the marketplace gates work on -------------------------------------------------------------------


def live_grant_q(*, now: datetime | Expression | None = None) -> Q:
    """A grant counts while it is neither revoked nor past `expires_at`."""
    now = timezone.now() if now is None else now
    return Q(revoked_at__isnull=True) & (Q(expires_at__isnull=True) | Q(expires_at__gt=now))


def live_grants(
    *, worker: AbstractBaseUser | int | Expression, now: datetime | Expression | None = None
) -> QuerySet[Grant]:
    """The worker's grants that count now (or at `now`): neither revoked nor expired (at most one per
    qualification). `worker` may be a user, an id, or an expression of a query this one is part of."""
    return Grant.objects.filter(worker=worker).filter(live_grant_q(now=now))


def qualification_usable_by(*, qualification_id: int, requester: AbstractBaseUser) -> bool:
    """May this requester require the qualification on a job: their own, a public one, or any when staff."""
    return _visible(Qualification.objects.filter(pk=qualification_id), requester).exists()


# --- Requester side -----------------------------------------------------------------------------------------------


def _visible(queryset: QuerySet[Qualification], user: AbstractBaseUser) -> QuerySet[Qualification]:
    if user.is_staff:
        return queryset
    return queryset.filter(Q(owner=user) | Q(is_public=True))


def qualification_list(*, user: AbstractBaseUser) -> QuerySet[Qualification]:
    """Qualifications the user may read: their own, public ones, and every one for staff; with `question_count`."""
    # Explicit order: Meta.ordering does not apply to a query with GROUP BY.
    return _visible(Qualification.objects.all(), user).annotate(question_count=Count("questions")).order_by("-id")


def qualification_get(*, user: AbstractBaseUser, qualification_id: int) -> Qualification:
    """A qualification the user may read; a private one of someone else is indistinguishable from a missing one."""
    qualification = qualification_list(user=user).filter(pk=qualification_id).first()
    if qualification is None:
        raise NotFound("No such qualification.")
    return qualification


def can_manage(*, qualification: Qualification, user: AbstractBaseUser) -> bool:
    """The owner and staff manage a qualification and see its answer keys; nobody else does."""
    return bool(user.is_staff) or qualification.owner_id == user.pk


def qualification_get_managed(*, user: AbstractBaseUser, qualification_id: int) -> Qualification:
    """A qualification the user may change: 404 if they cannot read it, 403 if they can read but not manage it."""
    qualification = qualification_get(user=user, qualification_id=qualification_id)
    if not can_manage(qualification=qualification, user=user):
        raise Forbidden()
    return qualification


def question_list(*, qualification: Qualification) -> QuerySet[Question]:
    return Question.objects.filter(qualification=qualification).order_by("id")


def grant_list(*, qualification: Qualification) -> QuerySet[Grant]:
    """Every grant of the qualification, revoked and superseded ones included (the history), newest first; with
    `is_live`."""
    is_live = ExpressionWrapper(live_grant_q(), output_field=BooleanField())
    return Grant.objects.filter(qualification=qualification).annotate(is_live=is_live).order_by("-id")


def grant_get(*, qualification: Qualification, grant_id: int) -> Grant:
    grant = grant_list(qualification=qualification).filter(pk=grant_id).first()
    if grant is None:
        raise NotFound("No such grant.")
    return grant


# --- Worker side --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Standing:
    """Where a worker stands on one qualification, and whether (else why not) they may start an attempt now."""

    holds: bool
    grant_score: float | None
    grant_expires_at: datetime | None
    attempts_used: int
    attempts_left: int | None
    retake_allowed_at: datetime | None
    open_attempt_id: int | None
    blocked_by: str | None

    @property
    def can_start(self) -> bool:
        return self.blocked_by is None


def _with_standing(queryset: QuerySet[Qualification], worker: AbstractBaseUser) -> QuerySet[Qualification]:
    """Annotate the worker's standing: one query, whatever the number of qualifications."""
    now = timezone.now()
    attempts = Attempt.objects.filter(qualification=OuterRef("pk"), worker=worker)
    grants = Grant.objects.filter(qualification=OuterRef("pk"), worker=worker)
    live = grants.filter(live_grant_q(now=now)).order_by("-id")
    return queryset.annotate(
        attempts_used=Coalesce(Subquery(attempts.order_by().values("worker").annotate(n=Count("pk")).values("n")), 0),
        last_started_at=Subquery(attempts.order_by("-started_at").values("started_at")[:1]),
        open_attempt_id=Subquery(
            attempts.filter(status=Attempt.Status.STARTED, deadline__gt=now).order_by("-id").values("id")[:1]
        ),
        holds=Exists(live),
        grant_score=Subquery(live.values("score")[:1]),
        grant_expires_at=Subquery(live.values("expires_at")[:1]),
        # Superseding always writes a newer grant, so a revoked latest grant was revoked by hand.
        last_grant_revoked_at=Subquery(grants.order_by("-id").values("revoked_at")[:1]),
    )


def standing_of(qualification: Qualification, *, now: datetime | None = None) -> Standing:
    """The one rule for retakes, read off a row annotated by `_with_standing`. In order, a new attempt is refused
    while the worker holds a live grant, after an owner revoked their grant, once `max_attempts` are used (every
    attempt counts: graded, expired, or in progress), and until `retake_cooldown` after the last attempt's start.
    An attempt in progress is not blocked: starting again returns it."""
    now = now or timezone.now()
    used = qualification.attempts_used  # type: ignore[attr-defined]
    last_started = qualification.last_started_at  # type: ignore[attr-defined]
    retake_at = last_started + qualification.retake_cooldown if last_started else None
    retake_at = retake_at if retake_at and retake_at > now else None
    left = None if qualification.max_attempts is None else max(qualification.max_attempts - used, 0)
    open_attempt_id = qualification.open_attempt_id  # type: ignore[attr-defined]
    blocked_by = None if open_attempt_id is not None else _blocked_by(qualification, left, retake_at)
    return Standing(
        holds=qualification.holds,  # type: ignore[attr-defined]
        grant_score=qualification.grant_score,  # type: ignore[attr-defined]
        grant_expires_at=qualification.grant_expires_at,  # type: ignore[attr-defined]
        attempts_used=used,
        attempts_left=left,
        retake_allowed_at=retake_at,
        open_attempt_id=open_attempt_id,
        blocked_by=blocked_by,
    )


def _blocked_by(qualification: Qualification, attempts_left: int | None, retake_at: datetime | None) -> str | None:
    if qualification.holds:  # type: ignore[attr-defined]
        return "already_qualified"
    if qualification.last_grant_revoked_at is not None:  # type: ignore[attr-defined]
        return "qualification_revoked"
    if attempts_left == 0:
        return "attempt_limit_reached"
    if retake_at is not None:
        return "retake_cooldown"
    return None


def work_qualification_list(*, worker: AbstractBaseUser) -> QuerySet[Qualification]:
    """Active qualifications a worker may take: every active one (private ones gate their owner's jobs, so their
    workers must be able to take them) except the worker's own; each annotated with the worker's standing."""
    if not getattr(worker, "is_worker", False):
        return Qualification.objects.none()
    active = Qualification.objects.filter(is_active=True).exclude(owner=worker).order_by("-id")
    return _with_standing(active, worker)


def work_qualification_standing(*, qualification: Qualification, worker: AbstractBaseUser) -> Standing:
    """The worker's standing on one qualification, fresh from the database."""
    row = _with_standing(Qualification.objects.filter(pk=qualification.pk), worker).get()
    return standing_of(row)


def worker_attempt_get(*, worker: AbstractBaseUser, attempt_id: int) -> Attempt:
    """The worker's own attempt; anyone else's is indistinguishable from a missing one."""
    attempt = Attempt.objects.filter(pk=attempt_id, worker=worker).select_related("qualification").first()
    if attempt is None:
        raise NotFound("No such attempt.")
    return attempt


def attempt_questions(*, attempt: Attempt) -> list[Question]:
    """The attempt's questions in the order shown (position = index)."""
    by_id = Question.objects.in_bulk(attempt.question_ids)
    return [by_id[question_id] for question_id in attempt.question_ids]


def attempt_grant(*, attempt: Attempt) -> Grant | None:
    """The grant this attempt earned, if any (none when it failed, or did not beat a better live grant)."""
    return Grant.objects.filter(attempt=attempt).order_by("-id").first()

"""Writes of the workers app: the platform-wide gold record and bans."""

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from workers.errors import AlreadyBanned, NotBanned, ReasonRequired
from workers.models import Ban, WorkerProfile
from workers.reputation import reputation_score


def worker_record_gold(*, worker_id: int, answered: int, correct: int) -> None:
    """Add graded gold answers to the worker's platform-wide record: one UPDATE, after the row's first creation
    (`get_or_create` runs in a savepoint, so a concurrent first creation is harmless)."""
    if not answered:
        return
    if not _add_gold(worker_id, answered, correct):
        WorkerProfile.objects.get_or_create(user_id=worker_id)
        _add_gold(worker_id, answered, correct)


def _add_gold(worker_id: int, answered: int, correct: int) -> int:
    """The UPDATE as SQL: it runs in every graded submit, where building and compiling `QuerySet.update` cost more
    than running it. Returns the number of rows changed (0 before the profile exists)."""
    table = connection.ops.quote_name(WorkerProfile._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET gold_answered = gold_answered + %s, gold_correct = gold_correct + %s "
            "WHERE user_id = %s",
            [answered, correct, worker_id],
        )
        return cursor.rowcount


@transaction.atomic
def worker_ban(*, worker: AbstractBaseUser, reason: str, by: AbstractBaseUser) -> Ban:
    """Ban a worker platform-wide, with a reason on record. One standing ban per worker (a database constraint)."""
    if not reason.strip():
        raise ReasonRequired()
    try:
        with transaction.atomic():
            return Ban.objects.create(worker=worker, reason=reason.strip(), created_by=by)
    except IntegrityError:
        raise AlreadyBanned() from None


@transaction.atomic
def worker_unban(*, worker: AbstractBaseUser, reason: str, by: AbstractBaseUser) -> Ban:
    """Lift the worker's standing ban; the ban stays on record with who lifted it and why."""
    if not reason.strip():
        raise ReasonRequired()
    ban = Ban.objects.select_for_update().filter(worker=worker, lifted_at__isnull=True).first()
    if ban is None:
        raise NotBanned()
    ban.lifted_at, ban.lifted_by, ban.lift_reason = timezone.now(), by, reason.strip()
    ban.save(update_fields=["lifted_at", "lifted_by", "lift_reason"])
    return ban


def worker_reputation_update(
    *,
    worker_id: int,
    gold_right: int,
    gold_answered: int,
    ds_accuracy: float | None,
    ds_answers: int,
    approved: int,
    reviewed: int,
) -> float:
    """Compute the worker's reputation from the evidence the marketplace gathered (`workers.reputation`), store it
    on the profile (created if missing) and return it. Raises ValueError on impossible inputs, before any write.

    One UPDATE once the profile exists; its first creation runs `get_or_create` in a savepoint, so a concurrent
    first creation is harmless. No lock: the score is a function of the inputs alone, so repeating a call is
    harmless and, of two concurrent recomputes, the later write wins. Opens no transaction of its own: the
    marketplace's recompute owns it."""
    score = reputation_score(
        gold_right=gold_right,
        gold_answered=gold_answered,
        ds_accuracy=ds_accuracy,
        ds_answers=ds_answers,
        approved=approved,
        reviewed=reviewed,
    )
    profile = WorkerProfile.objects.filter(user_id=worker_id)
    change = {"reputation": score, "updated_at": timezone.now()}  # update() skips auto_now
    if not profile.update(**change):
        WorkerProfile.objects.get_or_create(user_id=worker_id)
        profile.update(**change)
    return score

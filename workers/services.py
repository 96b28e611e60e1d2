"""Writes of the workers app: the platform-wide gold record and bans."""

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from workers.errors import AlreadyBanned, NotBanned, ReasonRequired
from workers.models import Ban, WorkerProfile


def worker_record_gold(*, worker_id: int, answered: int, correct: int) -> None:
    """Add graded gold answers to the worker's platform-wide record: one UPDATE, after the row's first creation
    (`get_or_create` runs in a savepoint, so a concurrent first creation is harmless)."""
    if not answered:
        return
    profile = WorkerProfile.objects.filter(user_id=worker_id)
    change = {"gold_answered": F("gold_answered") + answered, "gold_correct": F("gold_correct") + correct}
    if not profile.update(**change):
        WorkerProfile.objects.get_or_create(user_id=worker_id)
        profile.update(**change)


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

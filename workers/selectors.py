"""Reads of the workers app."""

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Expression, FloatField, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from workers.models import Ban, WorkerProfile


def standing_bans() -> QuerySet[Ban]:
    return Ban.objects.filter(lifted_at__isnull=True)


def worker_is_banned(*, worker: AbstractBaseUser) -> bool:
    return standing_bans().filter(worker=worker).exists()


def worker_profile_get(*, worker: AbstractBaseUser) -> WorkerProfile | None:
    return WorkerProfile.objects.filter(user=worker).first()


def worker_reputation(*, worker: AbstractBaseUser) -> float:
    """The worker's reputation for job gates; 0.0 until it is first computed."""
    profile = worker_profile_get(worker=worker)
    return profile.reputation if profile is not None and profile.reputation is not None else 0.0


def worker_reputation_expression(*, worker: AbstractBaseUser | int | Expression) -> Coalesce:
    """`worker_reputation` as an SQL expression, to compare inside another query (`worker`: a user, an id, or an
    expression of that query)."""
    reputation = WorkerProfile.objects.filter(user=worker).values("reputation")[:1]
    return Coalesce(Subquery(reputation, output_field=FloatField()), Value(0.0))

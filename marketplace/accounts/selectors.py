from datetime import datetime

from django.db.models import QuerySet
from django.utils import timezone

from marketplace.accounts.models import ApiKey, Membership, User


def api_key_list(*, user: User) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(user=user).order_by("-created")


def api_key_from_secret(secret: str, *, now: datetime | None = None) -> ApiKey | None:
    """The live key (not revoked, not expired, of an active user) that `secret` is, or None."""
    prefix, _, rest = secret.partition(".")
    if not prefix or not rest or len(secret) > 200:
        return None
    api_key = ApiKey.objects.select_related("user").filter(prefix=prefix, revoked=False).first()
    if api_key is None or not api_key.user.is_active or not api_key.is_valid(secret):
        return None
    if api_key.expiry_date is not None and api_key.expiry_date <= (now or timezone.now()):
        return None
    return api_key


def membership_list(*, user: User) -> QuerySet[Membership]:
    """The organisations `user` belongs to, with their role in each."""
    return Membership.objects.filter(user=user).select_related("organisation__account")


def membership_get(*, user: User, organisation_id: int) -> Membership | None:
    """`user`'s membership of the organisation, or None (not a member, or no such organisation)."""
    if not 0 < organisation_id < 2**63:  # no such row, and a database integer cannot even hold it
        return None
    return membership_list(user=user).filter(organisation_id=organisation_id).first()


def member_list(*, organisation_id: int) -> QuerySet[Membership]:
    return Membership.objects.filter(organisation_id=organisation_id).select_related("user").order_by("id")

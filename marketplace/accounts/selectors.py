from datetime import datetime

from django.db.models import QuerySet
from django.utils import timezone

from marketplace.accounts.models import ApiKey, User


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

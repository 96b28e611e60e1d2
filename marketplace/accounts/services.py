from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from marketplace.accounts.models import ApiKey, ApiKeyScope, User
from marketplace.errors import NotFound


def user_set_roles(*, user: User, is_requester: bool | None = None, is_worker: bool | None = None) -> User:
    """Take up or give up the requester and worker roles. Staff status is granted by an admin only."""
    if is_requester is not None:
        user.is_requester = is_requester
    if is_worker is not None:
        user.is_worker = is_worker
    user.full_clean(exclude=["password"])
    user.save(update_fields=["is_requester", "is_worker"])
    return user


def api_key_create(
    *, user: User, name: str, scopes: list[str], expires_at: datetime | None = None
) -> tuple[ApiKey, str]:
    """A new key for `user` and its secret, which is shown this once (only its hash is kept)."""
    if not user.is_requester:
        raise ValidationError({"user": "Only requesters create API keys."})
    unknown = sorted(set(scopes) - set(ApiKeyScope.values))
    if unknown:
        raise ValidationError({"scopes": f"Unknown scopes {unknown}; known: {ApiKeyScope.values} ([] is read-only)."})
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError({"expires_at": "Must be in the future."})
    api_key = ApiKey(user=user, name=name, scopes=sorted(set(scopes)), expiry_date=expires_at)
    secret = ApiKey.objects.assign_key(api_key)
    api_key.full_clean()
    api_key.save(force_insert=True)
    return api_key, secret


def api_key_revoke(*, user: User, prefix: str) -> ApiKey:
    """Revoke one of `user`'s keys for good; revoking it again changes nothing."""
    with transaction.atomic():
        api_key = ApiKey.objects.select_for_update().filter(user=user, prefix=prefix).first()
        if api_key is None:
            raise NotFound("No such API key.")
        if not api_key.revoked:
            api_key.revoked, api_key.revoked_at = True, timezone.now()
            api_key.save(update_fields=["revoked", "revoked_at"])
    return api_key


LAST_USE_RESOLUTION = timedelta(minutes=1)


def api_key_touch(*, api_key: ApiKey) -> None:
    """Note that the key was used: at most one write a minute per key."""
    now = timezone.now()
    if api_key.last_used_at is None or now - api_key.last_used_at >= LAST_USE_RESOLUTION:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now

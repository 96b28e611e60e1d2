from marketplace.accounts.models import User


def user_set_roles(*, user: User, is_requester: bool | None = None, is_worker: bool | None = None) -> User:
    """Take up or give up the requester and worker roles. Staff status is granted by an admin only."""
    if is_requester is not None:
        user.is_requester = is_requester
    if is_worker is not None:
        user.is_worker = is_worker
    user.full_clean(exclude=["password"])
    user.save(update_fields=["is_requester", "is_worker"])
    return user

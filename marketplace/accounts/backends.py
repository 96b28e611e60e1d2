"""Authentication backends: Django's and allauth's, loading the session's user with a prepared query.

Every API request loads its user (`get_user`); through the ORM, building and compiling that one `SELECT` cost more
than a claim's own queries (bench/claims's profile). Logging in (`authenticate`) is unchanged.
"""

from allauth.account import auth_backends as allauth_backends
from django.contrib.auth import backends as django_backends
from django.db.models import IntegerField

from marketplace.accounts.models import User
from marketplace.accounts.sessions import take_preloaded_user
from marketplace.prepared import Param, PreparedQuery, attnames

_USER = PreparedQuery(
    lambda: User._default_manager.filter(pk=Param("user", IntegerField())).order_by().values_list(*attnames(User))
)


class ModelBackend(django_backends.ModelBackend):
    """Django's `ModelBackend`."""

    def get_user(self, user_id: int) -> User | None:
        user = take_preloaded_user(user_id)  # read with the session token's session: no second query
        if user is None:
            found = _USER.instances(User, user=user_id)
            user = found[0] if found else None
        return user if user is not None and self.user_can_authenticate(user) else None


class AuthenticationBackend(ModelBackend, allauth_backends.AuthenticationBackend):
    """allauth's backend (login by email), with the user lookup above."""

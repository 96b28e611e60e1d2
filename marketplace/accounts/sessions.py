"""Sessions in the database, each with its user's id as a column, so that an API request's session token and its
user load in one query.

Every API request authenticates by its `X-Session-Token`: it loads the session, then the user the session names.
Kept in Redis (`cached_db`), that was a Redis read and a PostgreSQL query; here it is one PostgreSQL query that
joins the user to the session (bench/claims). Django still does every check on the user it would do (active,
the session's auth hash against the password's): the joined row only saves it the second read.

    with users_preloaded():  # around authentication; outside it, the user is read on its own as usual
        ... SessionStore(key).load() ... backend.get_user(user_id) ...
"""

import contextlib
import contextvars
from collections.abc import Iterator
from typing import Any

from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends import db
from django.db.models import CharField, DateTimeField
from django.utils import timezone

from marketplace.accounts.models import Session, User
from marketplace.prepared import Param, PreparedQuery, attnames

_SESSION_WITH_USER = PreparedQuery(
    lambda: Session.objects.filter(
        session_key=Param("key", CharField()), expire_date__gt=Param("now", DateTimeField())
    ).values_list(*attnames(Session, related=("user",)))
)

# While authenticating: the users read with their sessions, by id, for `take_preloaded_user`.
_preloaded: contextvars.ContextVar[dict[Any, User] | None] = contextvars.ContextVar("preloaded_users", default=None)


@contextlib.contextmanager
def users_preloaded() -> Iterator[None]:
    reset = _preloaded.set({})
    try:
        yield
    finally:
        _preloaded.reset(reset)


def take_preloaded_user(user_id: Any) -> User | None:
    """The user with this id if a session load inside `users_preloaded` read it (once: it is handed out once)."""
    preloaded = _preloaded.get()
    return preloaded.pop(str(user_id), None) if preloaded else None


class SessionStore(db.SessionStore):
    @classmethod
    def get_model_class(cls) -> type[Session]:
        return Session

    def _get_session_from_db(self) -> Session | None:
        found = _SESSION_WITH_USER.instances(Session, related=("user",), key=self.session_key, now=timezone.now())
        if not found:
            self._session_key = None
            return None
        session = found[0]
        preloaded = _preloaded.get()
        if preloaded is not None and session.user_id is not None:
            preloaded[str(session.user_id)] = session.user
        return session

    def create_model_instance(self, data: dict[str, Any]) -> Session:
        return _with_user(super().create_model_instance(data), data)

    async def acreate_model_instance(self, data: dict[str, Any]) -> Session:
        return _with_user(await super().acreate_model_instance(data), data)


def _with_user(session: Session, data: dict[str, Any]) -> Session:
    user_id = data.get(SESSION_KEY)
    session.user_id = None if user_id is None else User._meta.pk.to_python(user_id)
    return session

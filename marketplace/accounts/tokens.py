"""allauth's session tokens (the `X-Session-Token` header), looked up with one session load.

allauth's `SessionTokenStrategy.lookup_session` asks the session store whether the session exists and then loads it:
two reads of the store on every API request. allauth's own `sessionkit.lookup_session` loads it once, and a missing or
expired session comes back as None all the same.
"""

from allauth.headless.internal import sessionkit
from allauth.headless.tokens.strategies import sessions
from django.contrib.sessions.backends.base import SessionBase


class SessionTokenStrategy(sessions.SessionTokenStrategy):
    def lookup_session(self, session_token: str) -> SessionBase | None:
        return sessionkit.lookup_session(session_token)

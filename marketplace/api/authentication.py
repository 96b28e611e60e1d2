"""API authentication: the session token that django-allauth's headless API hands out at sign-up and login.

A script signs up or logs in at `/_allauth/app/v1/auth/...`, reads `meta.session_token` from the answer and sends
it as the `X-Session-Token` header on every API call.
"""

from typing import Any

from allauth.headless.contrib.rest_framework.authentication import XSessionTokenAuthentication
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.request import Request

from marketplace.accounts.sessions import users_preloaded


class SessionTokenAuthentication(XSessionTokenAuthentication):
    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        with users_preloaded():  # the session's user is read with the session, in one query
            return super().authenticate(request)

    def authenticate_header(self, request: Request) -> str:
        # Naming the scheme makes DRF answer 401 (not 403) to a request without valid credentials.
        return "X-Session-Token"


class SessionTokenScheme(OpenApiAuthenticationExtension):
    target_class = SessionTokenAuthentication
    name = "sessionToken"

    def get_security_definition(self, auto_schema):  # type: ignore[no-untyped-def]
        return {"type": "apiKey", "in": "header", "name": "X-Session-Token"}

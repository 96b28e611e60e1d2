"""API authentication: the session token that django-allauth's headless API hands out at sign-up and login.

A script signs up or logs in at `/_allauth/app/v1/auth/...`, reads `meta.session_token` from the answer and sends
it as the `X-Session-Token` header on every API call. Scripts can use a requester's API key instead (`Api-Key`).
"""

from typing import Any

from allauth.headless.contrib.rest_framework.authentication import XSessionTokenAuthentication
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request

from marketplace.accounts.api_keys import api_key_refusal
from marketplace.accounts.selectors import api_key_from_secret
from marketplace.accounts.services import api_key_touch
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


class ApiKeyAuthentication(BaseAuthentication):
    """`Authorization: Api-Key <prefix>.<secret>`: a requester's named key (marketplace/accounts/api_keys.py).

    The key acts as its user, and what it may do is checked here, before any view runs: a request outside the key's
    scopes is a 403 `api_key_scope`; an unknown, revoked or expired key a 401.
    """

    keyword = "Api-Key"

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].decode("latin-1") != self.keyword:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("Send the key as 'Authorization: Api-Key <key>'.")
        api_key = api_key_from_secret(parts[1].decode("latin-1"))
        if api_key is None:
            raise exceptions.AuthenticationFailed("Unknown, revoked or expired API key.")
        match = request._request.resolver_match
        refusal = api_key_refusal(api_key=api_key, url_name=match.url_name if match else None, method=request.method)
        if refusal:
            raise exceptions.PermissionDenied(refusal, code="api_key_scope")
        api_key_touch(api_key=api_key)
        return api_key.user, api_key

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = ApiKeyAuthentication
    name = "apiKey"

    def get_security_definition(self, auto_schema):  # type: ignore[no-untyped-def]
        return {"type": "apiKey", "in": "header", "name": "Authorization", "description": "Api-Key <key>"}

"""API authentication: the session token that django-allauth's headless API hands out at sign-up and login.

A script signs up or logs in at `/_allauth/app/v1/auth/...`, reads `meta.session_token` from the answer and sends
it as the `X-Session-Token` header on every API call. Scripts can use a requester's API key instead (`Api-Key`).

A member of an organisation acts for it by adding `X-Organisation: <id>`: the request is then made as the
organisation's account, within the member's role (`marketplace/accounts/organisations.py`), checked here before any
view runs. An organisation's own API keys act for it without the header.
"""

from dataclasses import dataclass
from typing import Any

from allauth.headless.contrib.rest_framework.authentication import XSessionTokenAuthentication
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, SessionAuthentication, get_authorization_header
from rest_framework.request import Request

from marketplace.accounts.api_keys import api_key_refusal
from marketplace.accounts.models import User
from marketplace.accounts.organisations import member_refusal
from marketplace.accounts.selectors import api_key_from_secret, membership_get
from marketplace.accounts.services import api_key_touch
from marketplace.accounts.sessions import users_preloaded

ORGANISATION_HEADER = "X-Organisation"


@dataclass(frozen=True)
class Acting:
    """`request.auth` of a request a member makes for an organisation: who they are, their role, their credentials."""

    member: User
    role: str
    credentials: Any


def acting_for(request: Request, user: User, credentials: Any) -> tuple[Any, Any]:
    """`(user, credentials)`, or the organisation's account when the request names one the user may act for."""
    raw = request.headers.get(ORGANISATION_HEADER)
    if raw is None:
        return user, credentials
    if not raw.isdigit() or len(raw) > 18:
        raise exceptions.ValidationError({ORGANISATION_HEADER: "An organisation's id (GET /api/v1/organisations/)."})
    membership = membership_get(user=user, organisation_id=int(raw))
    if membership is None:
        raise exceptions.PermissionDenied("You are not a member of this organisation.", code="organisation_membership")
    match = request._request.resolver_match
    refusal = member_refusal(role=membership.role, url_name=match.url_name if match else None, method=request.method)
    if refusal:
        raise exceptions.PermissionDenied(refusal, code="organisation_role")
    return membership.organisation.account, Acting(member=user, role=membership.role, credentials=credentials)


class SessionTokenAuthentication(XSessionTokenAuthentication):
    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        with users_preloaded():  # the session's user is read with the session, in one query
            found = super().authenticate(request)
        return acting_for(request, *found) if found else None

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
        named = request.headers.get(ORGANISATION_HEADER)
        if named is not None and named != str(getattr(getattr(api_key.user, "organisation", None), "pk", "")):
            raise exceptions.PermissionDenied(
                "An API key acts for the account that owns it: send it without X-Organisation.",
                code="organisation_membership",
            )
        api_key_touch(api_key=api_key)
        return api_key.user, api_key

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = ApiKeyAuthentication
    name = "apiKey"

    def get_security_definition(self, auto_schema):  # type: ignore[no-untyped-def]
        return {"type": "apiKey", "in": "header", "name": "Authorization", "description": "Api-Key <key>"}


class BrowserSessionAuthentication(SessionAuthentication):
    """Django's session (the web pages' own calls), with CSRF, and the same `X-Organisation` switch."""

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        found = super().authenticate(request)
        return acting_for(request, *found) if found else None


class BrowserSessionScheme(OpenApiAuthenticationExtension):
    target_class = BrowserSessionAuthentication
    name = "cookieAuth"

    def get_security_definition(self, auto_schema):  # type: ignore[no-untyped-def]
        return {"type": "apiKey", "in": "cookie", "name": "sessionid"}

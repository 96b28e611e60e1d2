"""Sign-up, login and the session token a script uses (django-allauth headless, `X-Session-Token`)."""

from datetime import timedelta
from importlib import import_module

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from marketplace.accounts.models import Session, User
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

SIGNUP = "/_allauth/app/v1/auth/signup"
LOGIN = "/_allauth/app/v1/auth/login"


def _signup(client: APIClient, **extra) -> dict:
    response = client.post(SIGNUP, {"email": "ada@example.com", "password": PASSWORD, **extra}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def test_sign_up_creates_a_user_with_the_roles_asked_for_and_returns_a_token():
    body = _signup(APIClient(), is_requester=True, is_worker=True)

    user = User.objects.get(email="ada@example.com")
    assert (user.is_requester, user.is_worker, user.is_staff) == (True, True, False)
    assert body["meta"]["session_token"]


def test_the_session_token_authenticates_api_calls_from_a_script():
    token = _signup(APIClient(), is_worker=True)["meta"]["session_token"]

    response = APIClient().get("/api/v1/me/", HTTP_X_SESSION_TOKEN=token)

    assert response.status_code == 200
    assert response.json()["email"] == "ada@example.com"
    assert response.json()["roles"] == ["worker"]


def test_login_with_email_and_password_returns_a_working_token():
    UserFactory(email="bob@example.com", is_requester=True)

    response = APIClient().post(LOGIN, {"email": "bob@example.com", "password": PASSWORD}, format="json")

    assert response.status_code == 200
    token = response.json()["meta"]["session_token"]
    assert APIClient().get("/api/v1/jobs/", HTTP_X_SESSION_TOKEN=token).status_code == 200


def test_login_with_a_wrong_password_is_refused():
    UserFactory(email="bob@example.com")

    response = APIClient().post(LOGIN, {"email": "bob@example.com", "password": "wrong-one"}, format="json")

    assert response.status_code == 400


def test_an_invalid_token_or_no_token_gets_401_with_the_error_shape():
    for headers in ({}, {"HTTP_X_SESSION_TOKEN": "not-a-token"}):
        response = APIClient().get("/api/v1/me/", **headers)
        assert response.status_code == 401
        assert response.json()["code"] == "not_authenticated"


def test_a_token_stops_working_after_logout():
    token = _signup(APIClient(), is_worker=True)["meta"]["session_token"]

    logout = APIClient().delete("/_allauth/app/v1/auth/session", HTTP_X_SESSION_TOKEN=token)

    assert logout.status_code == 401  # allauth answers a logout with "not authenticated"
    assert APIClient().get("/api/v1/me/", HTTP_X_SESSION_TOKEN=token).status_code == 401


def test_a_token_whose_session_expired_from_the_store_gets_401():
    token = _signup(APIClient(), is_worker=True)["meta"]["session_token"]

    import_module(settings.SESSION_ENGINE).SessionStore(token).delete()

    assert APIClient().get("/api/v1/me/", HTTP_X_SESSION_TOKEN=token).status_code == 401


def _queries_of(path: str, token: str) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        assert APIClient().get(path, HTTP_X_SESSION_TOKEN=token).status_code == 200
    return [query["sql"] for query in queries]


def test_a_token_and_its_user_load_in_one_query():
    token = _signup(APIClient(), is_worker=True)["meta"]["session_token"]

    sql = _queries_of("/api/v1/work/assignments/", token)

    assert "accounts_session" in sql[0] and "accounts_user" in sql[0]
    assert not any("accounts_user" in query or "accounts_session" in query for query in sql[1:])
    assert Session.objects.get(session_key=token).user == User.objects.get(email="ada@example.com")


def test_a_token_stops_working_once_the_user_is_deactivated_or_changes_password():
    token = _signup(APIClient(), is_worker=True)["meta"]["session_token"]
    user = User.objects.get(email="ada@example.com")

    user.is_active = False
    user.save()
    assert APIClient().get("/api/v1/me/", HTTP_X_SESSION_TOKEN=token).status_code == 401

    user.is_active = True
    user.save()
    assert APIClient().get("/api/v1/me/", HTTP_X_SESSION_TOKEN=token).status_code == 200
    user.set_password("another-long-password-42")
    user.save()
    assert APIClient().get("/api/v1/me/", HTTP_X_SESSION_TOKEN=token).status_code == 401


def test_a_token_past_its_expiry_date_gets_401():
    token = _signup(APIClient(), is_worker=True)["meta"]["session_token"]

    Session.objects.filter(session_key=token).update(expire_date=timezone.now() - timedelta(seconds=1))

    assert APIClient().get("/api/v1/me/", HTTP_X_SESSION_TOKEN=token).status_code == 401


def test_a_deleted_user_s_sessions_go_with_them():
    token = _signup(APIClient(), is_worker=True)["meta"]["session_token"]

    User.objects.get(email="ada@example.com").delete()

    assert not Session.objects.filter(session_key=token).exists()


def test_a_user_takes_up_and_gives_up_roles(api, plain_user):
    client = api.as_user(plain_user)

    response = client.patch("/api/v1/me/", {"is_requester": True}, format="json")

    assert response.status_code == 200
    assert response.json()["roles"] == ["requester"]
    plain_user.refresh_from_db()
    assert plain_user.is_requester is True
    assert client.patch("/api/v1/me/", {"is_requester": False}).json()["roles"] == []


def test_a_user_cannot_make_themselves_staff(api, plain_user):
    api.as_user(plain_user).patch("/api/v1/me/", {"is_staff": True}, format="json")

    plain_user.refresh_from_db()
    assert plain_user.is_staff is False

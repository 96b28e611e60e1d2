from pathlib import Path

import pytest
from django.core.cache import cache
from django.db import OperationalError, connection
from rest_framework.test import APIClient

from marketplace.accounts.models import User
from marketplace.db.postgresql.base import DatabaseUnreachable
from tests.factories import RequesterFactory, UserFactory, WorkerFactory


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item):
    """When PostgreSQL is not running, the test database cannot be made: say it once, plainly, and stop (rather
    than the same error at every test)."""
    try:
        return (yield)
    except OperationalError as error:
        if isinstance(error.__cause__, DatabaseUnreachable):
            pytest.exit(str(error), returncode=3)
        raise


def pytest_addoption(parser):
    parser.addoption(
        "--database-tests-only",
        action="store_true",
        help="run only the tests that use the test database (`make test-sqlite`: the others ran on PostgreSQL)",
    )


DATABASE_FIXTURES = {"db", "transactional_db", "live_server", "django_db_setup"}


def _uses_database(item: pytest.Item) -> bool:
    return item.get_closest_marker("django_db") is not None or bool(DATABASE_FIXTURES & set(item.fixturenames))


BROWSER_TESTS = Path(__file__).resolve().parent / "browser"


@pytest.hookimpl(tryfirst=True)
def pytest_itemcollected(item):
    """Every test under tests/browser is marked `browser` (a `pytestmark` in a conftest marks nothing), before `-m`
    selects: the SQLite run of `make test` leaves the browser out (the pages' own tests, tests/web, run on both)."""
    if BROWSER_TESTS in Path(str(item.path)).parents:
        item.add_marker(pytest.mark.browser)


def pytest_collection_modifyitems(config, items):
    """`make test` runs the suite on PostgreSQL and on SQLite (the embedded default of `make run` and `make demo`).
    A test marked `postgresql_only("why")` needs PostgreSQL by nature (row-lock races, triggers, COPY, SKIP LOCKED):
    on SQLite it is skipped with its reason, never silently. With `--database-tests-only` (the second run of
    `make test`) the tests that never touch the test database (the pure engine, scripts on a SQLite file of their
    own, static checks) are deselected: they gave their answer in the first run, and would give the same one."""
    if config.getoption("--database-tests-only"):
        uses_database = [
            i for i in items if i.get_closest_marker("django_db") or DATABASE_FIXTURES & set(i.fixturenames)
        ]
        config.hook.pytest_deselected(items=[i for i in items if i not in uses_database])
        items[:] = uses_database
    if connection.vendor == "postgresql":
        return
    for item in items:
        marker = item.get_closest_marker("postgresql_only")
        if marker is not None:
            reason = marker.args[0] if marker.args else marker.kwargs["reason"]
            item.add_marker(pytest.mark.skip(reason=f"PostgreSQL only: {reason}"))


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    media = {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": tmp_path / "items"}}
    settings.STORAGES = {**settings.STORAGES, "media": media}


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # tests only: speed, not safety


@pytest.fixture(autouse=True)
def _empty_cache():
    """Each test starts with an empty cache (Redis database 15 under `make test`): counters keyed by job id
    must not leak from an earlier run whose ids repeat."""
    cache.clear()


@pytest.fixture
def api():
    """An anonymous API client; `api.as_user(user)` returns a client signed in as `user`."""

    def as_user(user: User) -> APIClient:
        client = APIClient()
        client.force_authenticate(user)
        return client

    client = APIClient()
    client.as_user = as_user  # type: ignore[attr-defined]
    return client


@pytest.fixture
def requester(db) -> User:
    return RequesterFactory()


@pytest.fixture
def outsider(db) -> User:
    """Another requester, who must never see or change the first one's objects."""
    return RequesterFactory()


@pytest.fixture
def worker(db) -> User:
    return WorkerFactory()


@pytest.fixture
def plain_user(db) -> User:
    return UserFactory()


@pytest.fixture
def requester_api(api, requester) -> APIClient:
    return api.as_user(requester)


@pytest.fixture
def outsider_api(api, outsider) -> APIClient:
    return api.as_user(outsider)


@pytest.fixture(autouse=True)
def _static_files_by_plain_name(settings):
    """Pages render without a `collectstatic` run: its manifest of hashed names is production's (tested in
    tests/production/test_static_files.py)."""
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {"BACKEND": STATIC_FILES_UNHASHED}}


STATIC_FILES_UNHASHED = "django.contrib.staticfiles.storage.StaticFilesStorage"

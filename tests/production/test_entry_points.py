"""What a newcomer meets first: `make run` on the port they choose, a landing page and an API root instead of 404s,
a plain word when PostgreSQL is not running, and the licence the package declares."""

import subprocess
import tomllib

import pytest
from django.urls import Resolver404, resolve

from tests.factories import UserFactory
from tests.production.live import ROOT, VENV_BIN, clean_env, free_port


def _make_run_commands(*args: str) -> str:
    return subprocess.run(["make", "-n", "run", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout


def test_make_run_serves_on_port_8000_unless_told_another():
    assert "runserver 127.0.0.1:8000" in _make_run_commands()
    assert "runserver 127.0.0.1:8001" in _make_run_commands("PORT=8001")


@pytest.mark.django_db
def test_the_landing_page_links_the_docs_the_admin_and_the_api(client):
    response = client.get("/")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert "marketplace/landing.html" in [t.name for t in response.templates]
    page = response.content.decode()
    for link in ('href="/api/docs/"', 'href="/admin/"', 'href="/api/v1/"', 'href="/api/schema/"'):
        assert link in page
    assert "//cdn" not in page and "https://" not in page  # everything served from here


@pytest.mark.django_db
def test_the_landing_page_escapes_what_a_user_typed(client):
    user = UserFactory(email='<script>alert("x")</script>@example.com')
    client.force_login(user)

    page = client.get("/").content.decode()

    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;@example.com" in page
    assert "<script>alert" not in page


@pytest.mark.django_db
def test_the_api_root_lists_each_section_with_a_link_that_resolves(api):
    response = api.get("/api/v1/")

    assert response.status_code == 200
    sections = response.json()
    assert {"docs", "schema", "auth", "me", "jobs", "work", "qualifications", "payments", "webhooks"} <= set(sections)
    links = list(_links(sections))
    assert len(links) >= 15
    for link in links:
        assert link.startswith("http://testserver/")
        path = link.removeprefix("http://testserver")
        try:
            resolve(path)
        except Resolver404:
            pytest.fail(f"{link} resolves to no view")


def _links(node):
    if isinstance(node, dict):
        for value in node.values():
            yield from _links(value)
    elif isinstance(node, str) and node.startswith("http"):
        yield node


UNREACHABLE = {"DATABASE_URL": "postgres://root@127.0.0.1:{port}/crowdmarket_nowhere", "SECRET_KEY": "test-only"}


def _unreachable_env():
    port = free_port()  # nothing listens there
    return clean_env(**{k: v.format(port=port) for k, v in UNREACHABLE.items()}), port


def test_migrate_says_plainly_that_postgresql_is_not_running_and_what_to_start():
    env, port = _unreachable_env()

    done = subprocess.run(
        [VENV_BIN / "python", "manage.py", "migrate"], cwd=ROOT, env=env, capture_output=True, text=True
    )

    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert f"PostgreSQL is not running at 127.0.0.1:{port}" in done.stderr
    assert "service postgresql start" in done.stderr  # what to start
    assert "DATABASE_URL" in done.stderr


def test_the_test_run_says_plainly_that_postgresql_is_not_running_instead_of_a_runtime_warning():
    env, port = _unreachable_env()
    env.update(CELERY_TASK_ALWAYS_EAGER="1")
    test = "tests/marketplace/test_jobs.py::test_a_requester_creates_a_draft_job"

    done = subprocess.run(
        [VENV_BIN / "pytest", test, "-q", "-p", "no:cacheprovider"], cwd=ROOT, env=env, capture_output=True, text=True
    )

    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert "RuntimeWarning" not in output
    assert f"PostgreSQL is not running at 127.0.0.1:{port}" in output
    assert "service postgresql start" in output
    assert output.count("PostgreSQL is not running") <= 2  # said once, not once per test


def test_the_licence_is_the_mit_licence_the_package_declares():
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["license"]["text"]
    licence = (ROOT / "LICENSE").read_text()

    assert declared == "MIT"
    assert licence.startswith("MIT License")
    assert "Permission is hereby granted, free of charge" in licence

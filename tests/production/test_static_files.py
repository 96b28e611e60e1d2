"""Production serves its own static files: the README's recipe (collectstatic, gunicorn, DEBUG off) shows a styled
admin and a working Swagger UI, with no web server in front."""

import gzip
import re
import subprocess

import pytest

from tests.production.live import VENV_BIN, clean_env, fetch, free_port, live_server


@pytest.fixture(scope="module")
def production(tmp_path_factory):
    """collectstatic into a fresh STATIC_ROOT, then gunicorn with DEBUG off, as the README says."""
    tmp = tmp_path_factory.mktemp("production")
    port = free_port()
    env = clean_env(
        SECRET_KEY="test-only-secret",
        ALLOWED_HOSTS="127.0.0.1",
        DATABASE_URL=f"sqlite:///{tmp / 'db.sqlite3'}",
        STATIC_ROOT=str(tmp / "static"),
    )
    subprocess.run(
        [VENV_BIN / "python", "manage.py", "collectstatic", "--noinput", "--verbosity", "0"], env=env, check=True
    )
    command = [VENV_BIN / "gunicorn", "marketplace.wsgi", "-w", "1", "-b", f"127.0.0.1:{port}"]
    with live_server(command, env, port, tmp / "gunicorn.log") as server:
        yield server


def _linked(page: bytes, ending: str) -> str:
    """The path of the first stylesheet or script the page links whose name ends with `ending` (hashed or not)."""
    paths = re.findall(rb'(?:href|src)="(/static/[^"]+)"', page)
    found = [p.decode() for p in paths if re.search(ending, p.decode())]
    assert found, f"no {ending} in {paths}"
    return found[0]


def test_swagger_ui_loads_its_stylesheet_and_script_with_debug_off(production):
    page = fetch(f"{production.url}/api/docs/")
    assert page.status == 200

    css = fetch(production.url + _linked(page.body, r"swagger-ui(\.[0-9a-f]{12})?\.css$"))
    script = fetch(production.url + _linked(page.body, r"swagger-ui-bundle(\.[0-9a-f]{12})?\.js$"))

    assert (css.status, css.headers["Content-Type"].split(";")[0]) == (200, "text/css")
    assert b".swagger-ui" in css.body
    assert script.status == 200


def test_the_admin_is_styled_with_debug_off(production):
    page = fetch(f"{production.url}/admin/login/")
    assert page.status == 200

    css = fetch(production.url + _linked(page.body, r"admin/css/base(\.[0-9a-f]{12})?\.css$"))

    assert (css.status, css.headers["Content-Type"].split(";")[0]) == (200, "text/css")
    assert b"body" in css.body


def test_hashed_files_are_cached_for_good_and_sent_compressed(production):
    page = fetch(f"{production.url}/admin/login/")
    path = _linked(page.body, r"admin/css/base\.[0-9a-f]{12}\.css$")

    css = fetch(production.url + path, headers={"Accept-Encoding": "gzip"})

    assert css.status == 200
    assert "immutable" in css.headers["Cache-Control"]
    assert css.headers["Content-Encoding"] == "gzip"
    assert b"body" in gzip.decompress(css.body)


def test_the_plain_name_of_a_static_file_is_served_too(production):
    css = fetch(f"{production.url}/static/admin/css/base.css")

    assert css.status == 200
    assert b"body" in css.body

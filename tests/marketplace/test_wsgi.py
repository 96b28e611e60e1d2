"""The WSGI entry point a server loads (`gunicorn marketplace.wsgi`)."""

import os
import subprocess
import sys

PROBE = """
import gc, sys
import marketplace.wsgi
print(gc.get_freeze_count(), "marketplace.api.work" in sys.modules)
"""


def test_loading_the_app_imports_every_view_and_freezes_what_start_up_allocated():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "marketplace.settings"}

    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, check=True).stdout

    frozen, views_loaded = out.split()
    assert int(frozen) > 10_000  # the frameworks' and the project's modules, out of the collector's sight
    assert views_loaded == "True"

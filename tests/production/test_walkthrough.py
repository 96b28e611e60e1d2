"""The README's walkthrough, run as a newcomer would: the block copied out of README.md and pasted into bash,
against `make run`'s kind of server (runserver, DEBUG on, SQLite, tasks in-process) on a free port. Any answer that
is not 2xx, and any command that fails, fails the test."""

import re
import subprocess

from tests.production.live import ROOT, VENV_BIN, clean_env, free_port, live_server

BLOCK = re.compile(r"<!-- walkthrough:start -->\n```sh\n(.*?)```\n<!-- walkthrough:end -->", re.DOTALL)
# Run as pasted, but strict: stop at the first failing command, and make curl fail on any status >= 400 (2xx is
# all the walkthrough expects; it follows no redirects).
STRICT = """set -euo pipefail
curl() { command curl --fail-with-body --show-error "$@"; }
"""


def walkthrough() -> str:
    found = BLOCK.findall((ROOT / "README.md").read_text())
    assert len(found) == 1, "README.md has one walkthrough block between its markers"
    return found[0]


def test_the_readme_walkthrough_runs_against_a_live_server_from_sign_up_to_payout(tmp_path):
    port = free_port()
    env = clean_env(DEBUG="1", DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}")
    subprocess.run([VENV_BIN / "python", "manage.py", "migrate", "--verbosity", "0"], cwd=ROOT, env=env, check=True)
    command = [VENV_BIN / "python", "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"]

    with live_server(command, env, port, tmp_path / "server.log") as server:
        done = subprocess.run(
            ["bash", "-c", STRICT + walkthrough()],
            cwd=tmp_path,
            env={**env, "BASE": server.url},
            capture_output=True,
            text=True,
            timeout=300,
        )

    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}\n--- server ---\n{server.output()[-3000:]}"
    payouts = done.stdout.strip().splitlines()[-1]
    assert '"status":"sent"' in payouts and '"amount":100' in payouts  # the worker was paid for both tasks
    assert '1,clip-1,"{""sound"": ""meow""}",cat,' in done.stdout  # the export, labelled

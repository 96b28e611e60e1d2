"""The process files shipped for production (docs/deploy/systemd) and for honcho (Procfile) agree with the settings:
every Celery queue has a worker, there is one beat, and systemd restarts whatever exits."""

import configparser
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
UNITS = sorted((ROOT / "docs" / "deploy" / "systemd").glob("*.service"))
QUEUES = {queue.name for queue in settings.CELERY_TASK_QUEUES}


def procfile() -> dict[str, list[str]]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    entries = (line.split(":", 1) for line in lines if line.strip() and not line.startswith("#"))
    return {name.strip(): shlex.split(command) for name, command in entries}


def unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(path)
    return parser


def consumed(commands: list[list[str]]) -> list[str]:
    """The queues the Celery workers among `commands` consume (-Q a,b)."""
    return [queue for args in commands if "worker" in args for queue in args[args.index("-Q") + 1].split(",")]


def test_the_procfile_runs_a_worker_for_each_queue_and_one_beat():
    commands = list(procfile().values())

    assert sorted(consumed(commands)) == sorted(QUEUES)
    assert sum("beat" in args for args in commands) == 1
    assert any(args[0] == "gunicorn" for args in commands)


def test_honcho_accepts_the_procfile():
    honcho = Path(sys.executable).with_name("honcho")
    result = subprocess.run([honcho, "check"], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def test_systemd_restarts_every_process_and_runs_a_worker_for_each_queue_and_one_beat():
    services = {path.name: unit(path) for path in UNITS}
    commands = [shlex.split(service["Service"]["ExecStart"]) for service in services.values()]

    assert all(service["Service"]["Restart"] == "always" for service in services.values())
    assert sorted(consumed(commands)) == sorted(QUEUES)
    assert sum("beat" in args for args in commands) == 1
    target = unit(ROOT / "docs" / "deploy" / "systemd" / "crowdmarket.target")
    assert sorted(target["Unit"]["Wants"].split()) == sorted(services)


@pytest.mark.parametrize("path", UNITS, ids=lambda path: path.name)
def test_each_unit_reads_the_environment_file_and_runs_from_the_virtualenv(path):
    service = unit(path)["Service"]

    assert service["EnvironmentFile"] == "/etc/crowdmarket/env"
    assert service["ExecStart"].startswith("/srv/crowdmarket/.venv/bin/")

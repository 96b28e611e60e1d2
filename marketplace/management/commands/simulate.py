"""Run a whole simulated marketplace through the HTTP API and print what came of it.

Every simulated user calls through the project's Python client (`marketplace.client.Client`). By default its
requests go to the project's own WSGI app in this process (httpx's `WSGITransport`: no server needed); `--base-url`
sends the same requests to a running server. See `marketplace/demo/README.md`.
"""

import json
import logging
import random
import sys
from argparse import ArgumentTypeError
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, connection
from django.db.backends.signals import connection_created
from django.test.utils import override_settings
from django.utils import timezone
from tqdm import tqdm

from marketplace.accounts.models import User
from marketplace.demo.crowd import load_bluebirds
from marketplace.demo.network import Network
from marketplace.demo.report import Report, render_quality_by_seed
from marketplace.demo.scenario import Bar, Options, Simulation
from marketplace.models import Assignment, AssignmentStatus
from marketplace.services import assignment_claims
from payments.selectors import ledger_totals
from qualification.services import attempts

IN_PROCESS_URL = "http://testserver"  # the host name the in-process app is told to answer


class DatabaseHooks:
    """The three things the simulation does beside the API, each on this process's database (with `--base-url`,
    the server's database must be the same one: same DATABASE_URL)."""

    def make_staff(self, *, email: str, password: str) -> None:
        # Staff is granted in the admin only; no API makes an admin (as `createsuperuser` would).
        User.objects.create_user(email=email, password=password, is_staff=True)

    def move_deadline_past(self, *, assignment_id: int) -> None:
        # The clock cannot be moved over HTTP, and the shortest assignment the API allows is 60 s: move this one
        # open assignment's deadline into the past instead. The API then expires it when its worker submits late.
        past = timezone.now() - timedelta(seconds=1)
        Assignment.objects.filter(pk=assignment_id, status=AssignmentStatus.OPEN).update(expires_at=past)

    def ledger_totals(self) -> dict[str, int]:
        return ledger_totals()


class Command(BaseCommand):
    help = "Simulate a requester and a crowd of workers (good, noisy, biased, spammers, a slow one) over the HTTP API."

    def add_arguments(self, parser: CommandParser) -> None:
        defaults = Options()
        parser.add_argument("--seed", type=int, default=defaults.seed, help="Same seed, same crowd and choices.")
        parser.add_argument(
            "--seeds", type=_seeds, help="Several runs, e.g. 1-5 or 1,4: each report, then the quality target per seed."
        )
        parser.add_argument("--items", type=int, default=None, help="Real items to post (default: all 70).")
        parser.add_argument("--workers", type=int, default=defaults.workers, help="Dataset workers (at most 39).")
        parser.add_argument("--spammers", type=int, default=defaults.spammers)
        parser.add_argument("--swappers", type=int, default=defaults.swappers)
        parser.add_argument("--overlap", type=int, default=defaults.overlap, help="Answers per item.")
        parser.add_argument("--items-per-task", type=int, default=defaults.items_per_task)
        parser.add_argument("--gold-ratio", default=defaults.gold_ratio, help="Share of hidden gold in an assignment.")
        parser.add_argument("--min-gold", type=int, default=defaults.min_gold, help="Gold answers before a block.")
        parser.add_argument("--gold", type=int, default=defaults.gold, help="Images held out as hidden gold.")
        parser.add_argument(
            "--threshold", type=float, default=defaults.threshold, help="The job's gold_block_threshold."
        )
        parser.add_argument("--base-url", help="Drive a running server (e.g. http://127.0.0.1:8000) instead.")
        parser.add_argument(
            "--wait-for-expiry",
            action="store_true",
            help="Let the slow worker's assignment expire for real (60 s) instead of moving its deadline. "
            "The default with --base-url.",
        )
        parser.add_argument("--no-progress", action="store_true", help="No progress bars.")
        parser.add_argument("--json", type=Path, help="Also write the report's figures to this file as JSON.")

    def handle(self, *args: Any, **opts: Any) -> None:
        reports = [self._run(seed, opts) for seed in opts["seeds"] or [opts["seed"]]]
        if len(reports) > 1:
            self.stdout.write("\n" + render_quality_by_seed(reports))
        if opts["json"]:
            figures = [report.summary() for report in reports]
            opts["json"].write_text(json.dumps(figures if len(figures) > 1 else figures[0], indent=2))

    def _run(self, seed: int, opts: dict[str, Any]) -> Report:
        options = Options(
            seed=seed,
            items=opts["items"],
            workers=opts["workers"],
            spammers=opts["spammers"],
            swappers=opts["swappers"],
            overlap=opts["overlap"],
            items_per_task=opts["items_per_task"],
            gold_ratio=opts["gold_ratio"],
            min_gold=opts["min_gold"],
            gold=opts["gold"],
            threshold=opts["threshold"],
            wait_for_expiry=opts["wait_for_expiry"] or bool(opts["base_url"]),
        )
        if opts["base_url"]:
            network = Network(opts["base_url"])
        else:
            from marketplace.wsgi import application  # noqa: PLC0415 -- in process only: loads every view

            network = Network(IN_PROCESS_URL, wsgi_app=application)

        def progress(description: str, total: int) -> Bar:
            return tqdm(desc=description, total=total, disable=opts["no_progress"], file=sys.stderr, leave=False)

        simulation = Simulation(network, load_bluebirds(), options, DatabaseHooks(), progress)
        with _quiet_logs(), _in_process_server(enabled=not opts["base_url"], seed=options.seed):
            report = simulation.run()
        self.stdout.write(report.render() + "\n")
        return report


def _seeds(text: str) -> list[int]:
    """`1-5` or `1,3,4`."""
    try:
        if "-" in text:
            first, last = (int(part) for part in text.split("-", 1))
            return list(range(first, last + 1))
        return [int(part) for part in text.split(",")]
    except ValueError:
        raise ArgumentTypeError(f"{text!r}: give seeds as 1-5 or 1,3,4") from None


@contextmanager
def _in_process_server(*, enabled: bool, seed: int) -> Iterator[None]:
    """The in-process app answers the clients' host name, keeps sign-up confirmation emails in memory rather
    than printing one per simulated user, keeps one database connection, and draws its random choices from the
    seed."""
    if not enabled:
        yield
        return
    settings_for_the_run = override_settings(
        ALLOWED_HOSTS=[*settings.ALLOWED_HOSTS, "testserver"],
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
    )
    with settings_for_the_run, _one_connection(), _seeded_server(seed):
        yield


@contextmanager
def _one_connection() -> Iterator[None]:
    """Keep the database connection open from one in-process request to the next, as Django's test client (the
    demo's transport before the Python client) does. The WSGI handler otherwise closes it after every request
    (SQLite's connections are not kept: CONN_MAX_AGE 0) and the next opens the file again: in a profiled run of 30
    items, 416 opens and closes took 2.1 s of 20. Everything else (routing, middleware, authentication,
    throttles) runs as under a server."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@contextmanager
def _seeded_server(seed: int) -> Iterator[None]:
    """Make the in-process server's own random draws follow the seed, so that a run repeats exactly: which hidden
    gold items a claim mixes in and where (`assignment_claims._random`; the database's RANDOM(), `order_by("?")`, when a
    claim shuffles all the gold a worker has left), and the order of a test's questions (`attempts._random`). These
    are the server's internals, seeded for the demo only; a real server (`--base-url`) draws as it always does, and
    its runs differ a little from one another."""
    sql = random.Random(seed + 2)  # noqa: S311 -- a simulation, not security
    pg_seed = sql.uniform(-1, 1)  # fixed: seeding twice (a new connection, then here) must not shift the sequence
    seed_sql = partial(_seed_sql_random, draw=sql.random, pg_seed=pg_seed)

    saved = assignment_claims._random, attempts._random
    # A seeded generator in place of the modules' SystemRandom, for this run only.
    assignment_claims._random = random.Random(seed)  # type: ignore[assignment]  # noqa: S311
    attempts._random = random.Random(seed + 1)  # type: ignore[assignment]  # noqa: S311
    connection_created.connect(seed_sql)
    connection.ensure_connection()
    seed_sql(connection=connection)
    try:
        yield
    finally:
        connection_created.disconnect(seed_sql)
        assignment_claims._random, attempts._random = saved
        if connection.connection is not None:  # closed meanwhile: a new one draws as usual
            _seed_sql_random(connection=connection, draw=random.random, pg_seed=random.SystemRandom().uniform(-1, 1))


def _seed_sql_random(*, connection: Any, draw: Callable[[], float], pg_seed: float, **signal: Any) -> None:
    """Point the connection's SQL random() at `draw` (SQLite: Django's own RAND() is `random.random`), or seed it
    (PostgreSQL's `setseed`, per session)."""
    if connection.vendor == "sqlite":
        connection.connection.create_function("RAND", 0, draw)
    elif connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT setseed(%s)", [pg_seed])


@contextmanager
def _quiet_logs() -> Iterator[None]:
    """4xx answers are part of the story (409 no_work_available, a refused late submit), in-process tasks log each
    run, and httpx logs every request: keep them all off the report."""
    loggers = [logging.getLogger(name) for name in ("django.request", "celery", "kombu", "httpx")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)

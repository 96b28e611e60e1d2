"""The bench's world: its own database (created anew), Django on it, workers with session tokens, launched jobs."""

import os
from decimal import Decimal
from typing import Any

from bench.claims.common import BENCH_THROTTLE, LABELS, PASSWORD, REDIS


def use_bench_database(redis_db: int, purpose: str = "claims") -> str:
    """Create the bench database (`<name>_bench_<purpose>`) anew and point this process (and the server it starts)
    at it; returns a DSN."""
    import environ
    import psycopg
    import redis

    url = os.environ.get("DATABASE_URL", "postgres://root@127.0.0.1:5432/crowdmarket")
    config = environ.Env.db_url_config(url)
    name = f"{config['NAME']}_bench_{purpose}"
    server = {"host": config["HOST"], "port": config["PORT"] or 5432, "user": config["USER"]}
    if config.get("PASSWORD"):
        server["password"] = config["PASSWORD"]
    with psycopg.connect(**server, dbname="postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # FORCE: a killed run's connections
        conn.execute(f'CREATE DATABASE "{name}"')
    redis_url = REDIS.format(db=redis_db)
    redis.Redis.from_url(redis_url).flushdb()
    os.environ.update(
        DATABASE_URL=url.rsplit("/", 1)[0] + "/" + name,
        REDIS_URL=redis_url,
        SECRET_KEY=os.environ.get("SECRET_KEY") or "bench-only-secret",  # the server must share it: session hashes
        ALLOWED_HOSTS="127.0.0.1",
    )
    # Each request still passes the per-worker throttle check (its cost is part of the path measured), at a rate no
    # simulated worker reaches: at W=10 one makes 30 claims a second, over a person's 600 a minute (README).
    for throttle in ("THROTTLE_CLAIM", "THROTTLE_SUBMIT"):
        os.environ.setdefault(throttle, BENCH_THROTTLE)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")
    os.environ.pop("DEBUG", None)
    return psycopg.conninfo.make_conninfo(**server, dbname=name)


def setup_django() -> Any:
    """Django on the bench database, migrated; returns the requester who owns the jobs."""
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.urls import resolve

    from marketplace.accounts.models import User

    call_command("migrate", verbosity=0)
    resolve("/api/v1/me/")  # load the views now: the probe then runs the code the server loads next
    settings.INGEST_SYNC_MAX_BYTES = 1 << 40  # ingest in this process, as the Celery task would
    return User.objects.create_user("requester@bench.local", None, is_requester=True)


def create_workers(n: int, prefix: str = "") -> tuple[list[Any], list[str]]:
    """`n` workers with session tokens made as a login makes them (user id, backend and auth hash in a session);
    `prefix` keeps the e-mail addresses of another batch apart.

    Worker 0 has a real password and gets its token from the login endpoint later (`check_login`).
    """
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY

    from marketplace.accounts.models import User

    store = import_module(settings.SESSION_ENGINE).SessionStore
    users, tokens = [], []
    for i in range(n):
        user = User.objects.create_user(f"{prefix}worker{i}@bench.local", PASSWORD if i == 0 else None, is_worker=True)
        session = store()
        session.update({SESSION_KEY: str(user.pk), BACKEND_SESSION_KEY: settings.AUTHENTICATION_BACKENDS[0]})
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        users.append(user)
        tokens.append(session.session_key)
    return users, tokens


def create_job(requester: Any, *, title: str, items: int, gold: int, items_per_task: int) -> Any:
    """A launched job: `items` items and `gold` gold items through the real ingest, overlap 3, gold ratio 0.1."""
    from django.core.files.base import ContentFile

    from marketplace.services.jobs import job_create, job_transition
    from marketplace.services.uploads import upload_receive

    job = job_create(
        requester=requester,
        title=title,
        label_schema={"type": "single_choice", "classes": LABELS},
        item_schema={"fields": [{"name": "text", "type": "string"}]},
        overlap_min=3,
        overlap_max=3,
        items_per_task=items_per_task,
        reward_cents=5,
        gold_ratio=Decimal("0.1"),
        max_open_assignments=1,
    )
    rows = b"".join(b"r%d,Is review %d helpful? It says the product broke on day two.\n" % (i, i) for i in range(items))
    upload_receive(job=job, user=requester, file=ContentFile(b"external_id,text\n" + rows, "items.csv"), kind="items")
    # Every gold key is the answer the simulated workers give: they pass the job's gold checks and are never blocked.
    golds = b"".join(b"Gold question %d,%s\n" % (i, LABELS[0].encode()) for i in range(gold))
    upload_receive(job=job, user=requester, file=ContentFile(b"text,gold_label\n" + golds, "gold.csv"), kind="gold")
    # Launching moves the job's full cost into escrow: deposit it first (the sandbox provider settles at once).
    from marketplace.services.reviews import job_cost
    from payments.services.deposits import deposit_create

    deposit_create(user=requester, amount=job_cost(job), currency=job.currency, idempotency_key=f"bench-{job.pk}")
    return job_transition(job=job, action="launch")


def analyze(command: str = "ANALYZE") -> None:
    """Fresh planner statistics before each timed phase, as autovacuum keeps them on a live database.

    Without them, right after the bulk loads of the set-up, PostgreSQL plans the "task this worker never had" test
    as a join filter against all of the worker's assignments instead of a probe of the (task, worker) index: the
    claim then slows down with the worker's history (measured: 45 ms instead of 1.4 ms for a worker with 1,100).
    """
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(command)

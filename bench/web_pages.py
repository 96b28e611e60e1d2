"""Benchmark: the worker's task page and submit-and-next, side by side with the API-only flow, at 20 concurrent
sessions. Target (issue #21): p95 under 50 ms server time per task page.

Run by hand (never by `make test`), about a minute:

    DATABASE_URL=postgres://root@127.0.0.1:5432/crowdmarket .venv/bin/python bench/web_pages.py \
        [--sessions 20] [--cycles 25] [--items-per-task 4]

Own database (`<name>_bench_web`, dropped and created anew) and Redis database 13 (`--redis-db`, flushed).
Each of `--sessions` threads (then, for the cost without contention, a single one) is a logged-in worker
(Django's test client, a session each) that works `--cycles` tasks:
the pages flow GETs the task page then POSTs the answers form (the server submits and claims the next task, and
redirects to it); the API flow GETs the assignment's JSON then POSTs submit-and-claim. The time is taken around each
request inside this process: the whole Django stack (middleware, session, view, templates, queries) without HTTP
or a WSGI server, with the 20 threads sharing one interpreter (so the GIL's queueing is in the figures, as in one
gunicorn process with 20 threads).
"""

import argparse
import os
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
TARGET_P95_MS = 50


def prepare(redis_db: int) -> None:
    import environ
    import psycopg
    import redis

    url = os.environ.get("DATABASE_URL", "postgres://root@127.0.0.1:5432/crowdmarket")
    config = environ.Env.db_url_config(url)
    name = f"{config['NAME']}_bench_web"
    with psycopg.connect(
        host=config["HOST"], port=config["PORT"] or 5432, user=config["USER"], dbname="postgres", autocommit=True
    ) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    redis_url = f"redis://127.0.0.1:6379/{redis_db}"
    redis.Redis.from_url(redis_url).flushdb()
    os.environ.update(
        DATABASE_URL=url.rsplit("/", 1)[0] + "/" + name,
        REDIS_URL=redis_url,
        SECRET_KEY=os.environ.get("SECRET_KEY") or "bench-only-secret",
        ALLOWED_HOSTS="testserver",
        CELERY_TASK_ALWAYS_EAGER="0",  # the submits' tasks queue in Redis (flushed), as in production: no worker here
        THROTTLE_CLAIM="100000/min",
        THROTTLE_SUBMIT="100000/min",
    )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")
    os.environ.pop("DEBUG", None)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def run_flow(flow: str, workers: list, job, cycles: int) -> dict[str, list[float]]:
    from django.test import Client
    from django.urls import reverse

    from marketplace.services.assignments import assignment_claim

    timings: dict[str, list[float]] = {"page": [], "submit": []}
    lock = threading.Lock()
    start = threading.Barrier(len(workers))

    def session(worker) -> None:
        client = Client()
        client.force_login(worker)
        assignment = assignment_claim(job_id=job.pk, worker=worker)
        start.wait()
        mine: dict[str, list[float]] = {"page": [], "submit": []}
        for _ in range(cycles):
            n = len(assignment.item_ids) if hasattr(assignment, "item_ids") else assignment
            page_url, submit_url, data, kwargs = _urls(flow, assignment, n, reverse)
            began = time.perf_counter()
            response = client.get(page_url)
            mine["page"].append(time.perf_counter() - began)
            assert response.status_code == 200, response.status_code
            began = time.perf_counter()
            response = client.post(submit_url, data, **kwargs)
            mine["submit"].append(time.perf_counter() - began)
            assignment = _next(flow, response, worker)
            if assignment is None:
                break
        with lock:
            for key, values in mine.items():
                timings[key] += values

    threads = [threading.Thread(target=session, args=(worker,)) for worker in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return timings


def _urls(flow: str, assignment, n: int, reverse) -> tuple[str, str, object, dict]:
    if flow == "pages":
        data = {f"answer_{p}": "cat" for p in range(n)}
        return (
            reverse("web:worker:assignment", args=[assignment.pk]),
            reverse("web:worker:submit", args=[assignment.pk]),
            data,
            {},
        )
    data = {"answers": [{"position": p, "answer": "cat"} for p in range(n)]}
    return (
        reverse("work-assignment", args=[assignment.pk]),
        reverse("work-submit-and-claim", args=[assignment.pk]),
        data,
        {"content_type": "application/json"},
    )


def _next(flow: str, response, worker):
    from marketplace.models import Assignment

    if flow == "pages":
        location = response.get("Location", "")
        if "/tasks/" not in location:
            return None
        return Assignment.objects.only("id", "item_ids").get(pk=int(location.rstrip("/").rsplit("/", 1)[1]))
    following = response.json().get("next")
    return Assignment.objects.only("id", "item_ids").get(pk=following["id"]) if following else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--cycles", type=int, default=25)
    parser.add_argument("--items-per-task", type=int, default=4)
    parser.add_argument("--redis-db", type=int, default=13)
    args = parser.parse_args()
    prepare(args.redis_db)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from django.conf import settings

    settings.INGEST_SYNC_MAX_BYTES = 1 << 40
    # Without a `collectstatic` run (production serves hashed names from its manifest: a dictionary lookup).
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    from tests.factories import RequesterFactory, WorkerFactory
    from tests.marketplace.helpers import launched_job

    requester = RequesterFactory()
    n_items = (args.cycles + 1) * args.sessions * args.items_per_task
    print(
        f"{args.sessions} sessions x {args.cycles} tasks of {args.items_per_task} items, per flow; "
        f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}"
    )
    runs = [(flow, args.sessions) for flow in ("api", "pages", "api", "pages")] + [("api", 1), ("pages", 1)]
    for flow, sessions in runs:  # interleaved: the machine is shared and drifts
        job = launched_job(
            requester,
            n_items=n_items,
            items_per_task=args.items_per_task,
            overlap_min=1,
            overlap_max=1,
            max_open_assignments=1,
        )
        workers = [WorkerFactory() for _ in range(sessions)]
        timings = run_flow(flow, workers, job, args.cycles)
        for kind, values in timings.items():
            ms = [v * 1000 for v in values]
            print(
                f"{flow:5} x{sessions:<3} {kind:6} n={len(ms):4} median {statistics.median(ms):6.1f} ms  "
                f"p95 {percentile(ms, 0.95):6.1f} ms  p99 {percentile(ms, 0.99):6.1f} ms"
            )
    print(f"target: task page p95 < {TARGET_P95_MS} ms")


if __name__ == "__main__":
    main()

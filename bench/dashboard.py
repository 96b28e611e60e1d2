"""Benchmark: a requester's job dashboard (and results page) on a job of 1,000,000 answers, in server time.

Run by hand (never by `make test`); building the job takes a minute or two, then each page is timed:

    DATABASE_URL=postgres://root@127.0.0.1:5432/crowdmarket_bench_dashboard .venv/bin/python bench/dashboard.py \
        [--tasks 33334] [--workers 1000] [--repeat 7]

The database must be migrated and may be reused: the job is built once (items, tasks, assignments, answers, results
and participations written with INSERT ... SELECT generate_series, not through the services, which have their own
benches) and found again by its title on the next run. Each page is requested through Django's test client as the
job's requester (no HTTP, no gunicorn), and its median wall time and query count are printed beside the target
(issue #22: under 1 s server time).
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")
os.environ.setdefault("SECRET_KEY", "bench-only")
os.environ.setdefault("ALLOWED_HOSTS", "testserver")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.urls import reverse  # noqa: E402

from marketplace.accounts.models import User  # noqa: E402
from marketplace.models import Job, JobStatus, Upload  # noqa: E402

STATIC_FILES_UNHASHED = "django.contrib.staticfiles.storage.StaticFilesStorage"
TITLE = "bench: dashboard of a 1M-answer job"
TARGET_SECONDS = 1.0
OVERLAP = 3
ITEMS_PER_TASK = 10

BUILD = [
    # (what, sql): %(job)s, %(upload)s, %(tasks)s, %(wmin)s, %(workers)s
    (
        "tasks",
        """INSERT INTO marketplace_microtask (number, n_items, overlap_target, assigned_count, submitted_count, job_id,
           upload_id, unfunded_slots)
           SELECT n, %(per_task)s, %(overlap)s, %(overlap)s, %(overlap)s, %(job)s, %(upload)s, 0
           FROM generate_series(1, %(tasks)s) n""",
    ),
    (
        "items",
        """INSERT INTO marketplace_item (position, row_number, external_id, payload, is_gold, job_id, task_id,
           upload_id)
           SELECT p, (t.number - 1) * %(per_task)s + p + 1, '',
                  jsonb_build_object('text', 'item ' || t.number || '.' || p), false, %(job)s, t.id, %(upload)s
           FROM marketplace_microtask t CROSS JOIN generate_series(0, %(per_task)s - 1) p WHERE t.job_id = %(job)s""",
    ),
    (
        "assignments",
        """INSERT INTO marketplace_assignment (status, item_ids, created_at, expires_at, submitted_at,
           submission_digest, gold_total, gold_correct, job_id, task_id, worker_id, is_fast, auto_approve_at,
           reject_reason, review_status)
           SELECT 'submitted', '[]'::jsonb, now() - interval '2 hours', now() + interval '1 hour',
                  now() - interval '1 hour', '', 0, 0, %(job)s, t.id,
                  %(wmin)s + (t.number + k * 333) %% %(workers)s, false,
                  now() + interval '3 days', '', CASE WHEN t.number %% 2 = 0 THEN 'approved' ELSE 'pending' END
           FROM marketplace_microtask t CROSS JOIN generate_series(0, %(overlap)s - 1) k WHERE t.job_id = %(job)s""",
    ),
    (
        "answers",
        """INSERT INTO marketplace_answer (value, is_gold, is_correct, created_at, item_id, job_id, worker_id,
           assignment_id)
           SELECT to_jsonb(CASE WHEN random() < 0.8 THEN 'cat' ELSE 'dog' END), false, NULL,
                  now() - random() * interval '24 hours', i.id, %(job)s, a.worker_id, a.id
           FROM marketplace_assignment a JOIN marketplace_item i ON i.task_id = a.task_id WHERE a.job_id = %(job)s""",
    ),
    (
        "results",
        """INSERT INTO marketplace_itemresult (item_id, label, confidence, posterior, answer_count, updated_at, job_id)
           SELECT i.id, to_jsonb(CASE WHEN random() < 0.8 THEN 'cat' ELSE 'dog' END), 0.5 + random() / 2,
                  '[0.5, 0.5]'::jsonb, %(overlap)s, now(), %(job)s
           FROM marketplace_item i WHERE i.job_id = %(job)s""",
    ),
    (
        "participations",
        """INSERT INTO marketplace_participation (open_assignments, submitted_assignments, gold_answered, gold_correct,
           block_reason, created_at, job_id, worker_id, estimated_accuracy)
           SELECT 0, count(*), 0, 0, '', now(), %(job)s, worker_id, random()
           FROM marketplace_assignment WHERE job_id = %(job)s GROUP BY worker_id""",
    ),
]


def build(tasks: int, workers: int) -> Job:
    requester = User.objects.create_user(email=f"bench-requester-{time.time_ns()}@example.com", is_requester=True)
    first = User.objects.bulk_create(
        User(email=f"bench-worker-{time.time_ns()}-{i}@example.com", is_worker=True) for i in range(workers)
    )
    job = Job.objects.create(
        requester=requester,
        title=TITLE,
        label_schema={"type": "single_choice", "classes": ["cat", "dog"]},
        item_schema={"fields": [{"name": "text", "type": "string"}]},
        overlap_min=OVERLAP,
        overlap_max=OVERLAP,
        items_per_task=ITEMS_PER_TASK,
        reward_cents=30,
        gold_ratio=0,
        status=JobStatus.ACTIVE,
    )
    upload = Upload.objects.create(job=job, created_by=requester, format="csv", status="succeeded")
    wmin = min(u.pk for u in first)
    params = {"job": job.pk, "upload": upload.pk, "tasks": tasks, "wmin": wmin, "workers": workers}
    params |= {"per_task": ITEMS_PER_TASK, "overlap": OVERLAP}
    with connection.cursor() as cursor:
        for what, sql in BUILD:
            started = time.perf_counter()
            cursor.execute(sql, params)
            print(f"  {what}: {cursor.rowcount:,} rows in {time.perf_counter() - started:.1f} s", flush=True)
        cursor.execute("ANALYZE")
    return job


def timed(client: Client, url: str, repeat: int) -> tuple[float, int, int]:
    client.get(url)  # warm: templates compiled, connection open
    times = []
    for _ in range(repeat):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            response = client.get(url)
            times.append(time.perf_counter() - started)
        assert response.status_code == 200, response.status_code
    return statistics.median(times), len(queries), len(response.content)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=33_334)
    parser.add_argument("--workers", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    # As the tests do: static URLs unhashed, so that no `collectstatic` manifest is needed to render a page.
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {"BACKEND": STATIC_FILES_UNHASHED}}
    job = Job.objects.filter(title=TITLE).order_by("-id").first()
    if job is None:
        print(f"Building the job: {args.tasks:,} tasks x {ITEMS_PER_TASK} items x {OVERLAP} answers", flush=True)
        job = build(args.tasks, args.workers)
    answers = job.answers.count()
    client = Client()
    client.force_login(job.requester)
    print(f"job #{job.pk}: {answers:,} answers; median of {args.repeat}, server time through the test client")
    for name in ("dashboard", "results", "review"):
        seconds, n_queries, size = timed(client, reverse(f"web:requester:{name}", args=[job.pk]), args.repeat)
        verdict = "ok" if seconds < TARGET_SECONDS else "OVER"
        print(
            f"  {name:<10} {seconds * 1000:7.1f} ms  {n_queries:3d} queries  {size / 1024:6.0f} KiB  "
            f"(target < {TARGET_SECONDS * 1000:.0f} ms: {verdict})"
        )


if __name__ == "__main__":
    main()

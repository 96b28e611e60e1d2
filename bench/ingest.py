"""Benchmark: import a generated 1,000,000-row CSV into PostgreSQL through the upload service.

Run by hand or by `make bench` (never by `make test`):

    DATABASE_URL=postgres://root@127.0.0.1:5432/crowdmarket SECRET_KEY=x .venv/bin/python bench/ingest.py [--rows N]

It uses its own database (`<name>_bench`, dropped and created anew each run), generates the file on disk, imports it
with `upload_receive` (the code path of the API), and prints rows/s and the peak resident memory of the process
next to the issue's targets (>= 50,000 rows/s, < 300 MB).
"""

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
TARGET_ROWS_PER_S = 50_000
TARGET_PEAK_MB = 300


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # ru_maxrss is in KiB on Linux


def use_bench_database() -> None:
    import environ
    import psycopg

    url = os.environ.get("DATABASE_URL", "postgres://root@127.0.0.1:5432/crowdmarket")
    config = environ.Env.db_url_config(url)
    name = f"{config['NAME']}_bench"
    with psycopg.connect(
        host=config["HOST"], port=config["PORT"] or 5432, user=config["USER"], dbname="postgres", autocommit=True
    ) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')  # a fresh database each run: nothing left to clean
        conn.execute(f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = url.rsplit("/", 1)[0] + "/" + name
    os.environ.setdefault("SECRET_KEY", "bench-only-secret")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")


def generate(path: Path, rows: int) -> int:
    with path.open("wb") as out:
        out.write(b"external_id,text,stars\n")
        for start in range(0, rows, 100_000):
            out.write(
                b"".join(
                    b"row-%d,This is review number %d; was it helpful?,%d\n" % (i, i, i % 5 + 1)
                    for i in range(start, min(rows, start + 100_000))
                )
            )
    return path.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--items-per-task", type=int, default=10)
    args = parser.parse_args()

    use_bench_database()
    import django

    django.setup()
    from django.conf import settings
    from django.core.files import File
    from django.core.management import call_command

    from marketplace.accounts.models import User
    from marketplace.models import Item
    from marketplace.services.jobs import job_create
    from marketplace.services.uploads import upload_receive

    call_command("migrate", verbosity=0)
    settings.INGEST_SYNC_MAX_BYTES = 1 << 40  # ingest in this process, as the Celery task would
    user = User.objects.filter(email="bench@example.com").first() or User.objects.create_user(
        "bench@example.com", is_requester=True
    )
    job = job_create(
        requester=user,
        title="ingest benchmark",
        label_schema={"type": "single_choice", "classes": ["helpful", "not helpful"]},
        item_schema={"fields": [{"name": "text", "type": "string"}, {"name": "stars", "type": "integer"}]},
        items_per_task=args.items_per_task,
        reward_cents=10,
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "items.csv"
        size = generate(path, args.rows)
        before = peak_mb()
        with path.open("rb") as fh:
            started = time.perf_counter()
            upload = upload_receive(job=job, user=user, file=File(fh, name="items.csv"), kind="items")
            elapsed = time.perf_counter() - started
    peak = peak_mb()
    stored = Item.objects.filter(job=job).count()
    rate = upload.items_created / elapsed
    print(f"file: {args.rows:,} rows, {size / 1e6:.1f} MB CSV; items: {stored:,}; tasks: {upload.tasks_created:,}")
    print(f"{'figure':<28}{'measured':>14}{'target':>14}  met")
    print(f"{'rows/s':<28}{rate:>14,.0f}{TARGET_ROWS_PER_S:>14,}  {_met(rate >= TARGET_ROWS_PER_S)}")
    print(f"{'seconds':<28}{elapsed:>14.1f}")
    print(f"{'peak RSS of process (MB)':<28}{peak:>14.0f}{TARGET_PEAK_MB:>14}  {_met(peak < TARGET_PEAK_MB)}")
    print(f"{'RSS before import (MB)':<28}{before:>14.0f}")


def _met(ok: bool) -> str:
    return "yes" if ok else "NO"


if __name__ == "__main__":
    main()

"""The ceiling: the same claim as raw SQL (psycopg 3, no Django), one transaction per claim, one thread per worker."""

import os
import threading
import time
from typing import Any

from bench.claims.common import Run
from bench.claims.cpu import measure_cpu

RAW_THREADS = 64  # the default of --raw-threads: one connection each
RAW_SELECT = """
SELECT t.id FROM marketplace_microtask t
WHERE t.job_id = %(job)s AND t.assigned_count < t.overlap_target
  AND NOT EXISTS (SELECT 1 FROM marketplace_assignment a WHERE a.task_id = t.id AND a.worker_id = %(worker)s)
ORDER BY t.number LIMIT 1 FOR UPDATE SKIP LOCKED"""

RAW_INSERT = """
INSERT INTO marketplace_assignment (job_id, task_id, worker_id, status, item_ids, created_at, expires_at{more_names})
SELECT %(job)s, %(task)s, %(worker)s, 'open', COALESCE(jsonb_agg(i.id ORDER BY i.position), '[]'), now(),
       now() + interval '30 minutes'{more_values}
FROM marketplace_item i WHERE i.task_id = %(task)s"""

ZERO_VALUES = {"boolean": "false", "text": "''", "character varying": "''", "jsonb": "'{}'"}  # others: 0

RAW_COUNT = "UPDATE marketplace_microtask SET assigned_count = assigned_count + 1 WHERE id = %(task)s"

RAW_NOTE = (
    "ceiling on the real tables of the bench database (its own fresh job, {tasks:,} tasks, overlap 3): one "
    "transaction per claim = SELECT the lowest-numbered task with a free slot this worker never had FOR UPDATE "
    "SKIP LOCKED LIMIT 1, INSERT the assignment (item_ids from the task's items), UPDATE assigned_count + 1; "
    "no participation, gold, expiry or eligibility work; psycopg 3, autocommit, one connection per thread"
)


def raw_ceiling(dsn: str, *, job_id: int, worker_ids: list[int], seconds: float) -> Run:
    """Claims as one raw transaction each (select FOR UPDATE SKIP LOCKED, insert, increment), one thread each."""
    import psycopg

    run, go, lock = Run(f"raw SQL, {len(worker_ids)} threads"), threading.Event(), threading.Lock()
    conns = [psycopg.connect(dsn, autocommit=True) for _ in worker_ids]
    insert = raw_insert(conns[0])

    def claim_loop(conn: psycopg.Connection, worker_id: int) -> None:
        args, latencies, row = {"job": job_id, "worker": worker_id}, [], ()
        go.wait()
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            started = time.perf_counter()
            with conn.transaction():
                row = conn.execute(RAW_SELECT, args).fetchone()
                if row is None:
                    break
                conn.execute(insert, {**args, "task": row[0]})
                conn.execute(RAW_COUNT, {"task": row[0]})
            latencies.append(time.perf_counter() - started)
        with lock:
            run.claim += latencies
            run.ran_out += row is None

    threads = [threading.Thread(target=claim_loop, args=pair) for pair in zip(conns, worker_ids, strict=True)]
    for thread in threads:
        thread.start()
    with measure_cpu(run, {"bench process": lambda: [os.getpid()]}):
        go.set()
        for thread in threads:
            thread.join()
    for conn in conns:
        conn.close()
    return run


def reset_raw_job(dsn: str, job_id: int) -> None:
    """Give the ceiling's job back all its slots, so that every measurement of the ceiling starts from the same
    state (without it, a fast run used up the job's slots and measured 0 claims/s after a W)."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DELETE FROM marketplace_assignment WHERE job_id = %s", [job_id])
        conn.execute("UPDATE marketplace_microtask SET assigned_count = 0 WHERE job_id = %s", [job_id])
        conn.execute("VACUUM ANALYZE marketplace_assignment, marketplace_microtask")


def raw_insert(conn: Any) -> str:
    """RAW_INSERT, completed with the Django default (or else the zero value) of every other NOT NULL column
    without a database default (counters, flags, digests, review status), so that new columns do not break it."""
    named = ("id", "job_id", "task_id", "worker_id", "status", "item_ids", "created_at", "expires_at")
    rest = conn.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'marketplace_assignment' "
        "AND is_nullable = 'NO' AND column_default IS NULL AND NOT column_name = ANY(%s) ORDER BY ordinal_position",
        [list(named)],
    ).fetchall()
    from psycopg import sql

    from marketplace.models import Assignment

    # The value Django would write: the model field's default where it has one (e.g. review_status 'pending').
    defaults = {f.column: f.get_default() for f in Assignment._meta.concrete_fields if f.has_default()}
    values = [
        sql.Literal(defaults[name]).as_string(conn) if name in defaults else ZERO_VALUES.get(kind, "0")
        for name, kind in rest
    ]
    return RAW_INSERT.format(
        more_names="".join(f", {name}" for name, _ in rest), more_values="".join(f", {v}" for v in values)
    )

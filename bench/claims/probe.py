"""After each phase: the invariant check and the job's counts; and the in-process probe (Django's test client, no
HTTP), counting each request's queries and its time in PostgreSQL."""

import time
from collections.abc import Callable
from typing import Any

from bench.claims.common import LABELS, Run


def check(run: Run, job: Any) -> None:
    from django.db.models import Count

    from marketplace.models import Answer, Assignment
    from tests.marketplace.invariants import assignment_invariant_violations

    started = time.monotonic()
    problems = assignment_invariant_violations()
    run.violations = len(problems)
    by_status = dict(Assignment.objects.filter(job=job).values_list("status").annotate(n=Count("id")))
    answers = Answer.objects.filter(job=job).count()
    run.notes.append(
        f"invariant check over the whole database: {len(problems)} violations ({time.monotonic() - started:.1f} s)"
        + "".join(f"\n    {p}" for p in problems[:10])
    )
    run.notes.append(f"this job: assignments {by_status or {}}; answers {answers:,}")


def probe(job: Any, worker: Any, token: str, cycles: int) -> dict[str, list[tuple[int, float, float]]]:
    """Claim and submit `cycles` times through Django's test client (no HTTP, no gunicorn, no contention), counting
    each request's queries, its time and the part of it spent in PostgreSQL round trips."""
    from django.db import connection
    from django.test import Client

    client, seen = Client(headers={"X-Session-Token": token, "Host": "127.0.0.1"}), {"claim": [], "submit": []}
    for _ in range(cycles):
        claimed = measured_request(client, connection, f"/api/v1/work/jobs/{job.pk}/claim/", None, seen["claim"])
        items = claimed.json()["items"]
        answers = {"answers": [{"position": item["position"], "answer": LABELS[0]} for item in items]}
        submit_path = f"/api/v1/work/assignments/{claimed.json()['id']}/submit/"
        measured_request(client, connection, submit_path, answers, seen["submit"])
    return seen


def measured_request(client: Any, connection: Any, path: str, body: Any, into: list) -> Any:
    db = {"n": 0, "s": 0.0}

    def timer(execute: Callable, sql: str, params: Any, many: bool, context: Any) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            db["n"] += 1
            db["s"] += time.perf_counter() - started

    started = time.perf_counter()
    with connection.execute_wrapper(timer):
        response = client.post(path, body, content_type="application/json")
    elapsed = time.perf_counter() - started
    if response.status_code not in (200, 201):
        raise SystemExit(f"probe: {path} answered {response.status_code} {response.content[:200]!r}")
    into.append((db["n"], elapsed, db["s"]))
    return response

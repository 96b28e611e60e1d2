"""Benchmark: W simulated workers claim and submit micro-tasks over HTTP, next to a raw-SQL claim ceiling.

Run by hand from the checkout (never by `make test`); the whole run takes ten to fifteen minutes:

    DATABASE_URL=postgres://root@127.0.0.1:5432/crowdmarket .venv/bin/python -m bench.claims \
        [--workers 10,50,200] [--flows claim-submit,submit-and-claim] [--paced-rate 200] [--seconds 20] \
        [--raw-seconds 10] [--raw-threads 64] [--no-raw] [--gunicorn-workers 4] [--gunicorn-threads 1]

One W and one flow, without the raw ceiling, for quick alternating comparisons of two checkouts:

    ... -m bench.claims --workers 50 --flows claim-submit --paced-rate 0 --no-raw [--items 20000]

It uses its own database (`<name>_bench_claims`, dropped and created anew each run) and Redis database 14
(`--redis-db`; flushed at the start: cache, throttle counters, and the Celery queue the submits feed,
which no worker drains here). Steps:
1. the ceiling: the same claim as raw SQL (psycopg 3, no Django) from 64 threads (`--raw-threads`), on a fresh job;
   measured again right before and right after each phase, whose share of the ceiling is taken against the mean of
   those two (the machine's speed drifts within a run); `--no-raw` skips it, and the shares with it;
2. the service under gunicorn on 127.0.0.1; for each W and flow a fresh job and fresh workers, then W concurrent
   HTTP clients (several client processes, a thread per simulated worker, a connection per request) work for
   `--seconds`: flow `claim-submit` claims then submits, flow `submit-and-claim` sends one submit-and-claim request
   per task; then W=50 once more per flow, paced to `--paced-rate` cycles/s in all (think time; by default the
   target rate, 200); the invariant checker of the test suite runs over the whole database after each phase;
3. one probe worker claims and submits in this process through Django's test client, counting the queries and the
   time spent waiting on PostgreSQL per request (the server-side cost without HTTP, gunicorn or contention).
Bench workers get session tokens the way a login makes them, minus the 0.2 s password hash; one worker logs in
through /_allauth/app/v1/auth/login to check that path. Only loopback traffic; the server is stopped on exit.

Modules: `world` (the bench database, workers, jobs), `ceiling` (the raw SQL), `server` (gunicorn), `clients` (the
simulated workers), `cpu` (where the CPU went), `probe` (invariants, the in-process probe), `report` (what is printed).
"""

import argparse
import os
import subprocess
from typing import Any

from bench.claims.ceiling import RAW_NOTE, RAW_THREADS, raw_ceiling, reset_raw_job
from bench.claims.clients import run_workers
from bench.claims.common import FLOWS, ROOT, TARGET_CYCLES_AT_50, WARM_UP_WORKERS, Run
from bench.claims.probe import check, probe
from bench.claims.report import print_probe, print_run, print_summary
from bench.claims.server import check_login, gunicorn
from bench.claims.world import analyze, create_job, create_workers, setup_django, use_bench_database


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.claims", description=__doc__.splitlines()[0])
    parser.add_argument("--workers", default="10,50,200", help="simulated worker counts, one fresh job each")
    parser.add_argument(
        "--flows",
        default=",".join(FLOWS),
        help="claim-submit: a claim request then a submit request per task; submit-and-claim: one request per task",
    )
    parser.add_argument(
        "--paced-rate",
        type=float,
        default=TARGET_CYCLES_AT_50,
        help="then W=50 once more per flow, paced to this many cycles/s in all (default: the target rate): a task "
        "every 50/rate s (0: skip)",
    )
    parser.add_argument("--seconds", type=float, default=20, help="timed phase per worker count")
    parser.add_argument("--raw-seconds", type=float, default=10, help="timed phase of the raw-SQL ceiling")
    parser.add_argument(
        "--ceiling-seconds", type=float, default=5, help="the ceiling again, right before and after each W"
    )
    parser.add_argument(
        "--raw-threads", type=int, default=RAW_THREADS, help="threads (one PostgreSQL connection each) of the ceiling"
    )
    parser.add_argument(
        "--no-raw", action="store_true", help="skip the raw-SQL ceiling (and each phase's share of it): quick runs"
    )
    parser.add_argument("--items", type=int, default=200_000, help="items per job")
    parser.add_argument("--items-per-task", type=int, default=5)
    parser.add_argument("--gold", type=int, default=1_000, help="gold items per job")
    parser.add_argument("--gunicorn-workers", type=int, default=4)
    parser.add_argument("--gunicorn-threads", type=int, default=1, help="> 1 uses the gthread worker class")
    parser.add_argument("--client-processes", type=int, default=4, help="processes the simulated workers share")
    parser.add_argument("--probe-cycles", type=int, default=30)
    parser.add_argument("--redis-db", type=int, default=14, help="Redis database of the server: flushed at the start")
    args = parser.parse_args()
    args.workers = [int(w) for w in args.workers.split(",")]
    args.flows = args.flows.split(",")
    if set(args.flows) - set(FLOWS):
        parser.error(f"--flows: each of {', '.join(FLOWS)}")
    return args


def main() -> None:
    args = parse_args()
    dsn = use_bench_database(args.redis_db)
    requester = setup_django()
    print(describe(args))
    phases = [(w, flow, 0.0) for w in args.workers for flow in args.flows]
    phases += [(50, flow, args.paced_rate) for flow in args.flows if args.paced_rate]
    # Workers of their own for the warm-up and each phase (the per-worker throttles count per minute, and phases
    # follow each other within one), then the raw-SQL workers and the probe worker.
    api = WARM_UP_WORKERS + sum(w for w, _, _ in phases)
    raw_threads = 0 if args.no_raw else args.raw_threads
    users, tokens = create_workers(api + raw_threads + 1)

    def job(title: str, items: int = args.items) -> Any:
        return create_job(requester, title=title, items=items, gold=args.gold, items_per_task=args.items_per_task)

    raw_job = None if args.no_raw else job("raw ceiling")
    jobs = {
        (w, flow, rate): job(f"W={w}, {flow}" + (f", paced at {rate:g}/s" if rate else "")) for w, flow, rate in phases
    }
    warm = job("warm-up and probe", items=20 * args.items_per_task * args.probe_cycles)
    analyze("VACUUM ANALYZE")  # settle the bulk loads now, not in autovacuum during a timed phase
    raw_workers = [u.pk for u in users[api:-1]]
    raw = None if raw_job is None else run_raw(dsn, raw_job, raw_workers, args.raw_seconds)

    def ceiling() -> float:  # the same raw claims again, on the same job reset, for the share of each W
        assert raw_job is not None
        reset_raw_job(dsn, raw_job.pk)
        again = raw_ceiling(dsn, job_id=raw_job.pk, worker_ids=raw_workers, seconds=args.ceiling_seconds)
        return again.rate(again.claim)

    runs = {}
    with gunicorn(args.gunicorn_workers, args.gunicorn_threads) as (port, server):
        tokens[0] = check_login(port, users[0].email)
        for flow in args.flows:
            run_workers(port, warm.pk, tokens[:WARM_UP_WORKERS], flow, 2, args.client_processes, server)
        first = WARM_UP_WORKERS
        for phase in phases:
            w, flow, rate = phase
            analyze()
            before = ceiling() if raw is not None else 0.0
            run = runs[phase] = run_workers(
                port, jobs[phase].pk, tokens[first : first + w], flow, args.seconds, args.client_processes, server, rate
            )
            first += w
            if raw is not None:
                run.ceiling = [before, ceiling()]
                run.notes.append(
                    f"raw SQL claims/s ({raw_threads} threads) right before / after this phase: "
                    + " / ".join(f"{c:,.0f}" for c in run.ceiling)
                )
            check(run, jobs[phase])
            print_run(run)
    print_probe(probe(warm, users[-1], tokens[-1], args.probe_cycles))
    print_summary(raw, runs, raw_threads)


def run_raw(dsn: str, job: Any, worker_ids: list[int], seconds: float) -> Run:
    raw = raw_ceiling(dsn, job_id=job.pk, worker_ids=worker_ids, seconds=seconds)
    raw.cpu["bench process (client threads)"] = raw.cpu.pop("bench process", 0.0)
    check(raw, job)
    raw.notes.insert(0, RAW_NOTE.format(tasks=job.tasks.count()))
    print_run(raw)
    return raw


def describe(args: argparse.Namespace) -> str:
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True
    )
    server = f"gunicorn -w {args.gunicorn_workers} " + (
        f"--worker-class gthread --threads {args.gunicorn_threads}" if args.gunicorn_threads > 1 else "(sync)"
    )
    from django.conf import settings

    rates = settings.REST_FRAMEWORK.get("DEFAULT_THROTTLE_RATES") or {}
    throttles = ", ".join(f"{scope} {rate}" for scope, rate in rates.items() if scope in ("claim", "submit"))
    return (
        f"code {commit.stdout.strip()}{' + uncommitted changes' if dirty.stdout.strip() else ''}; {os.cpu_count()} "
        f"cores; server {server}; clients: {args.client_processes} processes, a thread per worker, "
        f"a connection per request\n"
        f"jobs: {args.items:,} items in tasks of {args.items_per_task}, {args.gold:,} gold, overlap 3, gold ratio "
        f"0.1, max 1 open assignment; {args.seconds:g} s per W; "
        + (
            "no raw ceiling (--no-raw)"
            if args.no_raw
            else f"raw ceiling {args.raw_seconds:g} s, then {args.ceiling_seconds:g} s right before and after each W"
        )
        + f"; Redis db {args.redis_db}"
        + (f"\nper-worker throttles (checked on every request; THROTTLE_CLAIM / THROTTLE_SUBMIT): {throttles}")
    )


if __name__ == "__main__":
    main()

"""Benchmark: W simulated workers claim and submit micro-tasks over HTTP, next to a raw-SQL claim ceiling.

Run by hand (never by `make test`); the whole run takes ten to fifteen minutes:

    DATABASE_URL=postgres://root@127.0.0.1:5432/crowdmarket .venv/bin/python bench/claims.py \
        [--workers 10,50,200] [--flows claim-submit,submit-and-claim] [--paced-rate 200] [--seconds 20] \
        [--raw-seconds 10] [--gunicorn-workers 4] [--gunicorn-threads 1]

It uses its own database (`<name>_bench_claims`, dropped and created anew each run) and Redis database 14
(`--redis-db`; flushed at the start: cache, throttle counters, and the Celery queue the submits feed,
which no worker drains here). Steps:
1. the ceiling: the same claim as raw SQL (psycopg 3, no Django) from 64 threads, on a fresh job; measured again
   right before and right after each phase, whose share of the ceiling is taken against the mean of those two (the
   machine's speed drifts within a run);
2. the service under gunicorn on 127.0.0.1; for each W and flow a fresh job and fresh workers, then W concurrent
   HTTP clients (several client processes, a thread per simulated worker, a connection per request) work for
   `--seconds`: flow `claim-submit` claims then submits, flow `submit-and-claim` sends one submit-and-claim request
   per task; then W=50 once more per flow, paced to `--paced-rate` cycles/s in all (think time; by default the
   target rate, 200); the invariant checker of the test suite runs over the whole database after each phase;
3. one probe worker claims and submits in this process through Django's test client, counting the queries and the
   time spent waiting on PostgreSQL per request (the server-side cost without HTTP, gunicorn or contention).
Bench workers get session tokens the way a login makes them, minus the 0.2 s password hash; one worker logs in
through /_allauth/app/v1/auth/login to check that path. Only loopback traffic; the server is stopped on exit.
"""

import argparse
import http.client
import json
import math
import multiprocessing as mp
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
REDIS = "redis://127.0.0.1:6379/{db}"
TARGET_CYCLES_AT_50 = 200
TARGET_SHARE_OF_RAW = 0.10
TARGET_P99_CLAIM_MS = 100
RAW_ANCHOR_PER_S = 2_000  # a colleague's figure: 64 threads, this machine
RAW_THREADS = 64
CORES = os.cpu_count() or 1
LABELS = ["cat", "dog", "bird"]
FLOWS = ("claim-submit", "submit-and-claim")
WARM_UP_WORKERS = 8
PASSWORD = "bench-password-1234"
BENCH_THROTTLE = "100000/min"

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


@dataclass
class Run:
    """What one timed phase measured: successful requests' latencies (seconds), failures, and CPU seconds."""

    label: str
    flow: str = ""  # claim-submit or submit-and-claim; none for the raw ceiling
    offered: float = 0.0  # cycles/s the workers were paced to; 0 in a closed loop
    seconds: float = 0.0
    claim: list[float] = field(default_factory=list)
    submit: list[float] = field(default_factory=list)  # a submit-and-claim request counts here, as a submit
    next_claims: int = 0  # claims that came with a submit-and-claim
    errors: Counter = field(default_factory=Counter)
    ran_out: int = 0
    cpu: dict[str, float] = field(default_factory=dict)
    machine_cpu: float = 0.0
    violations: int | None = None
    notes: list[str] = field(default_factory=list)
    ceiling: list[float] = field(default_factory=list)  # raw-SQL claims/s right before and right after this phase

    def rate(self, latencies: list[float]) -> float:
        return len(latencies) / self.seconds if self.seconds else 0.0

    @property
    def combined(self) -> bool:
        """The submit-and-claim flow: the worker waits for the next task on that one request."""
        return self.flow == "submit-and-claim"

    def claim_rate(self) -> float:
        return (len(self.claim) + self.next_claims) / self.seconds if self.seconds else 0.0

    def capacity(self, done: int) -> float:
        """Rate the CPU cost of this benchmark's own processes allows on an otherwise idle machine (an estimate)."""
        own = sum(self.cpu.values())
        return done / own * CORES if own else 0.0


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile, in milliseconds."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered), max(1, math.ceil(p / 100 * len(ordered)))) - 1] * 1000


# --- Set-up: database, users, jobs ---------------------------------------------------------------------------------


def use_bench_database(redis_db: int) -> str:
    """Create the bench database anew and point this process (and the server it starts) at it; returns a DSN."""
    import environ
    import psycopg
    import redis

    url = os.environ.get("DATABASE_URL", "postgres://root@127.0.0.1:5432/crowdmarket")
    config = environ.Env.db_url_config(url)
    name = f"{config['NAME']}_bench_claims"
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


def create_workers(n: int) -> tuple[list[Any], list[str]]:
    """`n` workers with session tokens made as a login makes them (user id, backend and auth hash in a session).

    Worker 0 has a real password and gets its token from the login endpoint later (`check_login`).
    """
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY

    from marketplace.accounts.models import User

    store = import_module(settings.SESSION_ENGINE).SessionStore
    users, tokens = [], []
    for i in range(n):
        user = User.objects.create_user(f"worker{i}@bench.local", PASSWORD if i == 0 else None, is_worker=True)
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


# --- The ceiling: raw SQL claims ---------------------------------------------------------------------------------


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


# --- The service under gunicorn ------------------------------------------------------------------------------------


@contextmanager
def gunicorn(workers: int, threads: int) -> Iterator[tuple[int, subprocess.Popen]]:
    """Serve the app on a free loopback port; the server's process group is stopped on the way out, always."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", int(os.environ.get("BENCH_PORT", "0"))))  # BENCH_PORT: a port of your own
        port = probe.getsockname()[1]
    kind = ["--worker-class", "gthread", "--threads", str(threads)] if threads > 1 else ["--worker-class", "sync"]
    command = [str(Path(sys.executable).parent / "gunicorn"), "marketplace.wsgi", "-b", f"127.0.0.1:{port}"]
    log = tempfile.NamedTemporaryFile("w+", prefix="bench-claims-", suffix=".log", delete=False)  # noqa: SIM115
    server = subprocess.Popen(
        [*command, "-w", str(workers), *kind, "--log-level", "warning"],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_until_up(port, server, log.name)
        yield port, server
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()
        print(f"\n(server stopped; its log, with any server errors: {log.name})")


def wait_until_up(port: int, server: subprocess.Popen, log: str) -> None:
    for _ in range(300):
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited with {server.returncode}; see {log}")
        try:
            status, _ = request(
                http.client.HTTPConnection("127.0.0.1", port, timeout=5), "GET", "/api/v1/me/", None, {}
            )
        except OSError:
            time.sleep(0.1)
            continue
        if status >= 500:
            raise SystemExit(f"the server answers {status}; see {log}")
        return
    raise SystemExit(f"gunicorn did not answer within 30 s; see {log}")


def request(conn: http.client.HTTPConnection, method: str, path: str, body: Any, headers: dict) -> tuple[int, Any]:
    conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
    response = conn.getresponse()
    data = response.read()
    is_json = response.getheader("Content-Type", "").startswith("application/json")
    return response.status, json.loads(data) if is_json else {"body": data[:200]}


def check_login(port: int, email: str) -> str:
    """Log in through allauth's headless API, as an app would, and check the token opens the API."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    body, headers = {"email": email, "password": PASSWORD}, {"Content-Type": "application/json"}
    status, data = request(conn, "POST", "/_allauth/app/v1/auth/login", body, headers)
    if status != 200:
        raise SystemExit(f"login through /_allauth/app/v1/auth/login failed: {status} {data}")
    token = data["meta"]["session_token"]
    status, _ = request(conn, "GET", "/api/v1/me/", None, {"X-Session-Token": token})
    if status != 200:
        raise SystemExit(f"the login's session token does not open /api/v1/me/: {status}")
    return token


# --- Load generator: client processes, one thread per simulated worker ----------------------------------------------


def simulate(port: int, job_id: int, token: str, flow: str, pace: float, go: Any, seconds: float, out: dict) -> None:
    """One worker: claim -> submit every item -> repeat until the time is up or the job has no work left.

    Flow `claim-submit`: a claim request, then a submit request. Flow `submit-and-claim`: a claim request to start,
    then one submit-and-claim request per task, whose answer carries the next assignment. `pace` 0: the next task
    at once (a closed loop); else a task every `pace` seconds, on a fixed schedule, the wait standing for the time
    a person takes to label (when the server falls behind, the worker goes on at once)."""
    conn = WorkerClient(port, token)
    claim_path = f"/api/v1/work/jobs/{job_id}/claim/"
    submit = "submit-and-claim" if flow == "submit-and-claim" else "submit"
    go.wait()
    deadline, data = time.monotonic() + seconds, None
    next_start = time.monotonic() + random.uniform(0, pace)  # the workers' schedules spread over one period
    while time.monotonic() < deadline:
        if pace:
            time.sleep(max(0.0, next_start - time.monotonic()))
            next_start += pace
        if data is None:
            status, data = timed(out["claim"], out["errors"], conn, claim_path, None, 201)
            if status == 409 and data.get("code") == "no_work_available":
                out["ran_out"] += 1
                return
            if status != 201:
                throttled(status, data, deadline)
                data = None
                continue
        answers = [{"position": item["position"], "answer": LABELS[0]} for item in data["items"]]
        submit_path = f"/api/v1/work/assignments/{data['id']}/{submit}/"
        data = None
        for _ in range(3):  # submit is idempotent: retried after a dropped connection or a 429
            status, body = timed(out["submit"], out["errors"], conn, submit_path, {"answers": answers}, 200)
            if status == 200:
                break
            throttled(status, body, deadline)
            if time.monotonic() >= deadline:
                return
        if status == 200 and submit == "submit-and-claim":
            data = body["next"]
            out["next_claims"] += data is not None
            if body["next_error"] and body["next_error"]["code"] == "no_work_available":
                out["ran_out"] += 1
                return


class WorkerClient:
    """A simulated worker's HTTP client: a POST per connection, read to the end, as gunicorn's sync workers close
    every connection after its response (and the request says `Connection: close`).

    The load generator shares the two cores with the server, so its CPU comes off the server's. `http.client`
    (headers parsed by the email package, a buffered reader, a reconnect per request) took about 155 us of CPU per
    request here against a trivial server; this takes about 80: about 0.15 ms per cycle that the server gets back.
    """

    def __init__(self, port: int, token: str) -> None:
        self.address = ("127.0.0.1", port)
        self.headers = f"Host: 127.0.0.1\r\nX-Session-Token: {token}\r\nContent-Type: application/json\r\n"

    def post(self, path: str, body: Any) -> tuple[int, Any]:
        data = b"" if body is None else json.dumps(body).encode()
        head = f"POST {path} HTTP/1.1\r\n{self.headers}Content-Length: {len(data)}\r\nConnection: close\r\n\r\n"
        chunks = []
        with socket.create_connection(self.address, timeout=60) as sock:
            sock.sendall(head.encode() + data)
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        head_bytes, _, payload = b"".join(chunks).partition(b"\r\n\r\n")
        lines = head_bytes.lower().split(b"\r\n")
        if not lines[0].startswith(b"http/1.") or b"transfer-encoding: chunked" in lines:
            raise ValueError(f"unexpected response head {head_bytes[:100]!r}")
        status = int(lines[0][9:12])
        is_json = any(line.startswith(b"content-type: application/json") for line in lines)
        return status, json.loads(payload) if is_json else {"body": payload[:200]}


def throttled(status: int, body: Any, deadline: float) -> None:
    """After a 429, wait as long as the answer says (a well-behaved client), up to the end of the phase."""
    if status == 429:
        time.sleep(min(float((body or {}).get("extra", {}).get("wait") or 1), max(0.0, deadline - time.monotonic())))


def timed(into: list, errors: Counter, conn: "WorkerClient", path: str, body: Any, ok: int) -> tuple[int, Any]:
    started = time.perf_counter()
    try:
        status, data = conn.post(path, body)
    except (OSError, ValueError) as exc:
        errors[f"{path.split('/')[-2]} {type(exc).__name__}"] += 1
        return 0, None
    if status == ok:
        into.append(time.perf_counter() - started)
    else:
        errors[f"{path.split('/')[-2]} {status} {(data or {}).get('code')}"] += 1
    return status, data


def client_process(
    port: int, job_id: int, tokens: list[str], flow: str, pace: float, seconds: float, ready: Any, go: Any, results: Any
) -> None:
    """Runs in a spawned process: a thread per token; sends back plain data (latencies, errors, CPU seconds)."""
    out: dict[str, Any] = {"claim": [], "submit": [], "errors": Counter(), "ran_out": 0, "next_claims": 0}
    threads = [threading.Thread(target=simulate, args=(port, job_id, t, flow, pace, go, seconds, out)) for t in tokens]
    for thread in threads:
        thread.start()
    started = sum(os.times()[:2])  # the client's CPU from here on: not the interpreter's start-up
    ready.put(1)
    for thread in threads:
        thread.join()
    out["cpu"] = sum(os.times()[:2]) - started
    results.put(out)


def run_workers(
    port: int,
    job_id: int,
    tokens: list[str],
    flow: str,
    seconds: float,
    procs: int,
    server: subprocess.Popen,
    rate: float = 0.0,
) -> Run:
    """W = len(tokens) simulated workers spread over `procs` client processes, all released at the same moment;
    `rate` > 0 paces them to that many cycles per second in all (0: a closed loop)."""
    pace = len(tokens) / rate if rate else 0.0
    ctx = mp.get_context("spawn")  # a clean interpreter: no Django, no inherited database connections
    ready, go, results = ctx.Queue(), ctx.Event(), ctx.Queue()
    procs = max(1, min(procs, len(tokens)))
    clients = [
        ctx.Process(
            target=client_process, args=(port, job_id, tokens[i::procs], flow, pace, seconds, ready, go, results)
        )
        for i in range(procs)
    ]
    for client in clients:
        client.start()
    paced = f", paced at {rate:g} cycles/s" if rate else ""
    run = Run(f"W = {len(tokens)}, {flow}{paced}", flow=flow, offered=rate)
    try:
        for _ in clients:
            ready.get(timeout=60)
        with measure_cpu(run, {"gunicorn": server_pids(server)}):
            go.set()
            outs = [results.get(timeout=seconds + 120) for _ in clients]
    finally:
        for client in clients:
            client.join(timeout=10)
            if client.is_alive():
                client.terminate()
    for out in outs:
        run.claim += out["claim"]
        run.submit += out["submit"]
        run.errors.update(out["errors"])
        run.ran_out += out["ran_out"]
        run.next_claims += out["next_claims"]
    run.cpu["clients"] = sum(out["cpu"] for out in outs)  # their own rusage: they have exited by now
    return run


@contextmanager
def measure_cpu(run: Run, own: dict[str, Callable[[], list[int]]]) -> Iterator[None]:
    """Wall time of the block into `run.seconds`, and the CPU seconds spent in it into `run.cpu`: by `own` group (the
    server, or this process), PostgreSQL's backends on the bench database, PostgreSQL's other processes (WAL writer,
    checkpointer, other databases' backends), Redis, and the whole machine."""
    import psutil

    def snapshot() -> dict[str, dict[int, float]]:
        groups = {name: pids() for name, pids in own.items()} | service_pids()
        return {name: cpu_of(pids) for name, pids in groups.items()}

    # Sampled every half second, not only at both ends: a process that exits during the phase (a database
    # connection recycled after CONN_MAX_AGE, say) keeps the CPU it had used by its last sample.
    seen: dict[str, dict[int, float]] = {}
    stop = threading.Event()

    def sample() -> None:
        for name, cpus in snapshot().items():
            seen.setdefault(name, {}).update(cpus)

    def sampler() -> None:
        while not stop.wait(0.5):
            sample()

    before, machine, started = snapshot(), psutil.cpu_times(), time.monotonic()
    thread = threading.Thread(target=sampler, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
    run.seconds = time.monotonic() - started
    sample()
    machine_after = psutil.cpu_times()
    for name, cpus in seen.items():
        run.cpu[name] = sum(cpu - before[name].get(pid, 0.0) for pid, cpu in cpus.items())
    busy = ("user", "nice", "system", "irq", "softirq", "steal")
    run.machine_cpu = sum(getattr(machine_after, f) - getattr(machine, f) for f in busy)


def cpu_of(pids: list[int]) -> dict[int, float]:
    import psutil

    found = {}
    for pid in pids:
        try:
            times = psutil.Process(pid).cpu_times()
            found[pid] = times.user + times.system
        except psutil.Error:
            pass
    return found


def service_pids() -> dict[str, list[int]]:
    import psutil
    from django.conf import settings

    name = settings.DATABASES["default"]["NAME"]
    backends, autovacuum, other = "postgres (bench db backends)", "postgres autovacuum", "postgres (other processes)"
    groups: dict[str, list[int]] = {backends: [], autovacuum: [], other: [], "redis": []}
    for process in psutil.process_iter(["name", "cmdline"]):
        command = " ".join(process.info["cmdline"] or [])
        if process.info["name"] == "postgres" or command.startswith("postgres"):
            group = autovacuum if "autovacuum worker" in command else backends if f" {name} " in command else other
            groups[group].append(process.pid)
        elif (process.info["name"] or "").startswith("redis-server"):
            groups["redis"].append(process.pid)
    return groups


def server_pids(server: subprocess.Popen) -> Callable[[], list[int]]:
    import psutil

    return lambda: [server.pid, *(c.pid for c in psutil.Process(server.pid).children(recursive=True))]


# --- After each run: invariants and counts; the in-process probe ----------------------------------------------------


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


# --- Report ------------------------------------------------------------------------------------------------------


def print_run(run: Run) -> None:
    unit = "cycle" if run.submit else "claim"
    done = len(run.submit) or len(run.claim)
    print(f"\n== {run.label}: {run.seconds:.1f} s")
    print(f"  claims/s {run.claim_rate():,.0f}   submits/s (= cycles/s) {run.rate(run.submit):,.0f}")
    submit = "submit-and-claim" if run.combined else "submit"
    for name, values in (("claim", run.claim), (submit, run.submit)):
        if values and (name != "claim" or not run.combined):
            p50, p95, p99, top = (pct(values, p) for p in (50, 95, 99, 100))
            print(f"  {name} latency ms: p50 {p50:6.1f}  p95 {p95:6.1f}  p99 {p99:6.1f}  max {top:6.1f}")
    rest = run.machine_cpu - sum(run.cpu.values())
    spent = ", ".join(f"{name} {cpu * 1e3 / max(done, 1):.1f}" for name, cpu in [*run.cpu.items(), ("rest", rest)])
    print(
        f"  CPU ms per {unit}: {spent}; machine {run.machine_cpu * 1e3 / max(done, 1):.1f} of the "
        f"{1e3 * CORES * run.seconds / max(done, 1):.1f} that {CORES} cores offer per {unit} at this rate"
    )
    if rest > 0.1 * run.machine_cpu:
        print(
            f"  WARNING: {rest / run.machine_cpu:.0%} of the machine's CPU went to processes outside this benchmark; "
            f"with the machine to itself, this CPU cost would allow ~{run.capacity(done):,.0f} {unit}s/s"
        )
    if run.errors or run.ran_out:
        print(f"  failed requests {dict(run.errors)}; simulated workers that found no work left: {run.ran_out}")
    for note in run.notes:
        print(f"  {note}")


def print_probe(seen: dict[str, list[tuple[int, float, float]]]) -> None:
    print(
        f"\n== in-process probe: one worker, Django test client (no HTTP, gunicorn or contention), median of "
        f"{len(seen['claim']) - 1} cycles after the first"
    )
    for name, samples in seen.items():
        steady = samples[1:] or samples
        low, high = min(n for n, _, _ in steady), max(n for n, _, _ in steady)
        total, db = statistics.median(s for _, s, _ in steady), statistics.median(d for _, _, d in steady)
        print(
            f"  {name:<6}: {low if low == high else f'{low}-{high}'} queries, {total * 1e3:.1f} ms, of which "
            f"{db * 1e3:.1f} ms in PostgreSQL round trips and {(total - db) * 1e3:.1f} ms in Python "
            "(Django, DRF, the service, Redis)"
        )


Row = tuple[str, str, str, str]


def print_summary(raw: Run, runs: dict[tuple[int, str, float], Run]) -> None:
    raw_rate = raw.rate(raw.claim)
    rows = [
        (
            f"raw SQL claims/s, {RAW_THREADS} threads",
            f"{raw_rate:,.0f}",
            f"~{RAW_ANCHOR_PER_S:,} (colleague)",
            "anchor",
        ),
        ("raw SQL invariant violations", f"{raw.violations}", "0", met(raw.violations == 0)),
    ]
    for (w, _, _), run in runs.items():
        rows += run_rows(w, run, raw_rate)
    print(f"\n{'figure':<52}{'measured':>18}  {'target/anchor':<20}met")
    for figure, measured, target, ok in rows:
        print(f"{figure:<52}{measured:>18}  {target:<20}{ok}")
    for (w, flow, rate), run in runs.items():
        if rate:
            print(
                f"W={w}, {flow}, paced: each worker starts a task every {w / rate * 1e3:,.0f} ms (the rest of that "
                "time stands for labelling): "
                + ("the latencies of a service below saturation" if kept_up(run) else "the service could not keep up")
            )
            continue
        cycle_ms = 1e3 * w / max(run.rate(run.submit), 1e-9)
        requests = "submit-and-claim" if run.combined else "claim + submit"
        waits = [run.submit] if run.combined else [run.claim, run.submit]
        mean_ms = 1e3 * sum(statistics.fmean(values or [0]) for values in waits)
        print(
            f"W={w}, {flow}: W / cycles per s = {cycle_ms:,.0f} ms per cycle; measured mean {requests} = "
            f"{mean_ms:,.0f} ms (a closed loop without think time: the latency above a lone request's is time queued "
            "for the CPU)"
        )


def run_rows(w: int, run: Run, raw_rate: float) -> list[Row]:
    """The figures of one W and flow; the targets apply at W = 50. The share of the ceiling is taken against the
    ceiling measured right before and right after this phase (their mean), as the machine's speed drifts within a
    run. In the submit-and-claim flow a worker waits for the next task on the submit-and-claim request: its latency
    stands for the claim's."""
    waits = run.submit if run.combined else run.claim
    cycles, wait_ms = run.rate(run.submit), [pct(waits, p) for p in (50, 95, 99)]
    ceiling = statistics.fmean(run.ceiling) if run.ceiling else raw_rate
    share = cycles / ceiling if ceiling else 0.0
    name = f"W={w} {run.flow}" + (f" paced {run.offered:g}/s" if run.offered else "")

    def target(text: str, ok: bool) -> tuple[str, str]:
        return (text, met(ok)) if w == 50 else ("", "")

    shares = [
        (f"{name} raw SQL claims/s before / after", " / ".join(f"{c:,.0f}" for c in run.ceiling), "", ""),
        (
            f"{name} cycles/s over raw claims/s",
            f"{share:.1%}",
            *target(f">= {TARGET_SHARE_OF_RAW:.0%}", share >= TARGET_SHARE_OF_RAW),
        ),
    ]
    latencies = [
        (
            f"{name} {'request' if run.combined else 'claim'} p50/p95/p99 ms",
            triple(wait_ms),
            *target(f"p99 < {TARGET_P99_CLAIM_MS}", wait_ms[2] < TARGET_P99_CLAIM_MS),
        )
    ]
    if not run.combined:
        latencies.append((f"{name} submit p50/p95/p99 ms", triple([pct(run.submit, p) for p in (50, 95, 99)]), "", ""))
    return [
        (f"{name} claims/s", f"{run.claim_rate():,.0f}", "", ""),
        (f"{name} cycles/s", f"{cycles:,.0f}", *target(f">= {TARGET_CYCLES_AT_50}", cycles >= TARGET_CYCLES_AT_50))
        if not run.offered
        else (f"{name} cycles/s", f"{cycles:,.0f}", f"{run.offered:g} offered", met(kept_up(run))),
        *(shares if w == 50 and not run.offered else []),
        *latencies,
        (f"{name} failed requests", f"{sum(run.errors.values())}", "0", met(not run.errors)),
        (f"{name} invariant violations", f"{run.violations}", "0", met(run.violations == 0)),
    ]


def kept_up(run: Run) -> bool:
    """A paced phase: did the service answer the work offered (its first and last tasks straddle the edges)?"""
    return run.rate(run.submit) >= 0.95 * run.offered


def triple(values: list[float]) -> str:
    return " / ".join(f"{v:.0f}" for v in values)


def met(ok: bool) -> str:
    return "yes" if ok else "NO"


# --- Main ----------------------------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
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
    users, tokens = create_workers(api + RAW_THREADS + 1)

    def job(title: str, items: int = args.items) -> Any:
        return create_job(requester, title=title, items=items, gold=args.gold, items_per_task=args.items_per_task)

    raw_job = job("raw ceiling")
    jobs = {
        (w, flow, rate): job(f"W={w}, {flow}" + (f", paced at {rate:g}/s" if rate else "")) for w, flow, rate in phases
    }
    warm = job("warm-up and probe", items=20 * args.items_per_task * args.probe_cycles)
    analyze("VACUUM ANALYZE")  # settle the bulk loads now, not in autovacuum during a timed phase
    raw_workers = [u.pk for u in users[api:-1]]
    raw = run_raw(dsn, raw_job, raw_workers, args.raw_seconds)

    def ceiling() -> float:  # the same raw claims again, on the same job reset, for the share of each W
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
            before = ceiling()
            run = runs[phase] = run_workers(
                port, jobs[phase].pk, tokens[first : first + w], flow, args.seconds, args.client_processes, server, rate
            )
            first += w
            run.ceiling = [before, ceiling()]
            run.notes.append(
                "raw SQL claims/s (64 threads) right before / after this phase: "
                + " / ".join(f"{c:,.0f}" for c in run.ceiling)
            )
            check(run, jobs[phase])
            print_run(run)
    print_probe(probe(warm, users[-1], tokens[-1], args.probe_cycles))
    print_summary(raw, runs)


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


def run_raw(dsn: str, job: Any, worker_ids: list[int], seconds: float) -> Run:
    raw = raw_ceiling(dsn, job_id=job.pk, worker_ids=worker_ids, seconds=seconds)
    raw.cpu["bench process (client threads)"] = raw.cpu.pop("bench process", 0.0)
    check(raw, job)
    raw.notes.insert(0, RAW_NOTE.format(tasks=job.tasks.count()))
    print_run(raw)
    return raw


def analyze(command: str = "ANALYZE") -> None:
    """Fresh planner statistics before each timed phase, as autovacuum keeps them on a live database.

    Without them, right after the bulk loads of the set-up, PostgreSQL plans the "task this worker never had" test
    as a join filter against all of the worker's assignments instead of a probe of the (task, worker) index: the
    claim then slows down with the worker's history (measured: 45 ms instead of 1.4 ms for a worker with 1,100).
    """
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(command)


RAW_NOTE = (
    "ceiling on the real tables of the bench database (its own fresh job, {tasks:,} tasks, overlap 3): one "
    "transaction per claim = SELECT the lowest-numbered task with a free slot this worker never had FOR UPDATE "
    "SKIP LOCKED LIMIT 1, INSERT the assignment (item_ids from the task's items), UPDATE assigned_count + 1; "
    "no participation, gold, expiry or eligibility work; psycopg 3, autocommit, one connection per thread"
)


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
        f"0.1, max 1 open assignment; {args.seconds:g} s per W; raw ceiling {args.raw_seconds:g} s, then "
        f"{args.ceiling_seconds:g} s right before and after each W; Redis db {args.redis_db}"
        + (f"\nper-worker throttles (checked on every request; THROTTLE_CLAIM / THROTTLE_SUBMIT): {throttles}")
    )


if __name__ == "__main__":
    main()

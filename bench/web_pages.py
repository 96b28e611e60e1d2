"""Benchmark: the server time of the worker's task page and of submit-and-next, side by side with the API-only flow,
at 20 concurrent sessions paced as people work. Target (issue #21): p95 under 50 ms server time per task page.

Run by hand (never by `make test`), about three minutes:

    DATABASE_URL=postgres://root@127.0.0.1:5432/crowdmarket .venv/bin/python bench/web_pages.py \
        [--sessions 20] [--seconds 40] [--think 2.0] [--items-per-task 4] [--gunicorn-workers 4]

The service runs as production serves it (gunicorn, `--gunicorn-workers` sync workers as in the Procfile, static
files collected and served by WhiteNoise) on its own database (`<name>_bench_web`, created anew) and Redis database
13 (`--redis-db`, flushed; the submits' Celery tasks queue there, no worker drains them). Over plain HTTP on
loopback, so the session and CSRF cookies are not marked Secure here.

Each of `--sessions` threads is a logged-in worker (a session made as a login makes it) who works on a fresh job
for `--seconds`, as a person does: the pages flow opens the task page, takes `--think` seconds (on average; each
pause drawn uniformly from half to one and a half times it) to answer its items, then posts the answers form
(the server submits and claims the next task and redirects to its page, which the browser opens); the API flow
reads the assignment's JSON, thinks, and posts submit-and-claim. Paced, open loop: each session's next post is
due `think` after the previous one was due, whether or not the server kept up, and the latency a person sees is
counted from that due time (a slow answer delays what follows and is not hidden by it).

Server time is gunicorn's own figure per request (its access log's `%(D)s`: from the request read to the response
written, in the worker that served it), so it leaves out the client threads' time and the wait for a free worker,
which the latency a person sees includes (printed beside it). Flows alternate, api, pages, api, pages, because this
shared machine's speed drifts within a run.
"""

import argparse
import logging
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.claims.common import pct  # noqa: E402
from bench.claims.server import gunicorn  # noqa: E402
from bench.claims.world import create_job, create_workers, setup_django, use_bench_database  # noqa: E402

TARGET_P95_MS = 50
FLOWS = ("api", "pages")
ANSWER = "cat"  # create_job's first class: the gold keys' answer, so no simulated worker is ever blocked
CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
TASK_PATH = re.compile(r"^/work/tasks/(\d+)/$")
ANSWER_INPUT = re.compile(r'name="answer_(\d+)"')
# Which requests of the access log are a task page and which a submit, per flow: (method, path pattern, kind).
KINDS = (
    ("GET", re.compile(r"^/work/tasks/\d+/$"), "pages", "page"),
    ("POST", re.compile(r"^/work/tasks/\d+/submit/$"), "pages", "submit"),
    ("GET", re.compile(r"^/api/v1/work/assignments/\d+/$"), "api", "page"),
    ("POST", re.compile(r"^/api/v1/work/assignments/\d+/submit-and-claim/$"), "api", "submit"),
)


def collect_static() -> str:
    """`collectstatic` into a fresh folder, as a deployment does: the pages' static URLs come from its manifest."""
    folder = tempfile.mkdtemp(prefix="bench-web-static-")
    os.environ["STATIC_ROOT"] = folder
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"], cwd=ROOT, check=True
    )
    return folder


def session(flow: str, port: int, job_id: int, token: str, until: float, think: float, seed: int, out: dict) -> None:
    """One worker, paced: see the module's docstring. Appends the latencies a person sees (seconds) to `out`."""
    import httpx

    rng = random.Random(seed)  # noqa: S311 -- think times, not security
    base = f"http://127.0.0.1:{port}"
    seen: dict[str, list[float]] = defaultdict(list)
    if flow == "pages":
        client = httpx.Client(base_url=base, cookies={"sessionid": token}, follow_redirects=True, timeout=30)
        page = client.get(f"/work/jobs/{job_id}/")
        page = client.post(f"/work/jobs/{job_id}/claim/", data={"csrfmiddlewaretoken": _csrf(page.text)})
    else:
        client = httpx.Client(base_url=base, headers={"X-Session-Token": token}, timeout=30)
        claimed = client.post(f"/api/v1/work/jobs/{job_id}/claim/").json()
        began = time.perf_counter()
        page = client.get(f"/api/v1/work/assignments/{claimed['id']}/")
        seen["page"].append(time.perf_counter() - began)
    due = time.perf_counter()
    while True:
        due += think * rng.uniform(0.5, 1.5)
        if due > until:
            break
        time.sleep(max(0.0, due - time.perf_counter()))
        if flow == "pages":
            match = TASK_PATH.match(page.url.path)
            if page.status_code != 200 or match is None:
                break  # the job ran out of work for this worker
            positions = set(ANSWER_INPUT.findall(page.text))
            answers = {f"answer_{p}": ANSWER for p in positions} | {"csrfmiddlewaretoken": _csrf(page.text)}
            page = client.post(f"/work/tasks/{match.group(1)}/submit/", data=answers)  # and the next page
            seen["submit-and-next"].append(time.perf_counter() - due)
        else:
            assignment = page.json()
            body = {"answers": [{"position": p, "answer": ANSWER} for p in range(len(assignment["items"]))]}
            response = client.post(f"/api/v1/work/assignments/{assignment['id']}/submit-and-claim/", json=body)
            following = response.json().get("next") if response.status_code == 200 else None
            if following is None:
                break
            page = client.get(f"/api/v1/work/assignments/{following['id']}/")
            seen["submit-and-next"].append(time.perf_counter() - due)
    client.close()
    for kind, values in seen.items():
        out.setdefault(kind, []).extend(values)


def _csrf(html: str) -> str:
    match = CSRF_INPUT.search(html)
    if match is None:
        raise SystemExit("no CSRF token in the page: is the worker logged in?")
    return match.group(1)


def server_times(log: Path, start: int, flow: str) -> tuple[dict[str, list[float]], list[str]]:
    """The access log's server times (seconds) per kind of request of `flow`, from byte `start` on, and any
    request that failed."""
    times: dict[str, list[float]] = defaultdict(list)
    failed = []
    with log.open() as lines:
        lines.seek(start)
        for line in lines:
            method, path, status, micros = line.split()
            if int(status) >= 400:
                failed.append(line.strip())
            for kind_method, pattern, kind_flow, kind in KINDS:
                if kind_flow == flow and method == kind_method and pattern.match(path):
                    times[kind].append(int(micros) / 1e6)
    return times, failed


def run(flow: str, port: int, log: Path, requester, args: argparse.Namespace, n: int) -> dict[str, list[float]]:
    job = create_job(
        requester,
        title=f"bench web {flow} {n}",
        items=args.sessions * (int(args.seconds / args.think * 1.5) + 4) * args.items_per_task,
        gold=400,
        items_per_task=args.items_per_task,
    )
    _, tokens = create_workers(args.sessions, prefix=f"{flow}{n}-")
    start = log.stat().st_size
    until = time.perf_counter() + args.seconds
    seen: dict[str, list[float]] = {}
    threads = [
        threading.Thread(target=session, args=(flow, port, job.pk, t, until, args.think, i, seen))
        for i, t in enumerate(tokens)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    time.sleep(0.5)  # the last lines of the access log
    times, failed = server_times(log, start, flow)
    if failed:
        raise SystemExit(f"{len(failed)} requests failed, e.g. {failed[:3]}")
    return {f"server {kind}": values for kind, values in times.items()} | {
        f"seen {kind}": values for kind, values in seen.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=40)
    parser.add_argument("--think", type=float, default=2.0, help="mean seconds a worker takes per task")
    parser.add_argument("--items-per-task", type=int, default=4)
    parser.add_argument("--gunicorn-workers", type=int, default=4)
    parser.add_argument("--redis-db", type=int, default=13)
    args = parser.parse_args()
    use_bench_database(args.redis_db, purpose="web")
    os.environ.update(SESSION_COOKIE_SECURE="0", CSRF_COOKIE_SECURE="0")
    collect_static()
    requester = setup_django()
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request otherwise
    print(
        f"{args.sessions} sessions, {args.think} s per task of {args.items_per_task} items (offered "
        f"{args.sessions / args.think:.1f} tasks/s), {args.seconds:.0f} s per run, gunicorn {args.gunicorn_workers} "
        f"sync workers; {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}"
    )
    log = Path(tempfile.mkstemp(prefix="bench-web-access-", suffix=".log")[1])
    figures: dict[tuple[str, str], list[float]] = defaultdict(list)
    with gunicorn(args.gunicorn_workers, 1, access_log=str(log)) as (port, _):
        for n, flow in enumerate(FLOWS * 2):
            for kind, values in run(flow, port, log, requester, args, n).items():
                figures[(kind, flow)] += values
    print(f"{'p95 (median) ms':<28}" + "".join(f"{flow:>20}" for flow in FLOWS))
    for kind in ("server page", "server submit", "seen submit-and-next"):
        cells = []
        for flow in FLOWS:
            values = figures[(kind, flow)]
            cells.append(f"{pct(values, 95):8.1f} ({statistics.median(values) * 1000:5.1f}) n={len(values):<4}")
        print(f"{kind:<28}" + "".join(f"{cell:>20}" for cell in cells))
    page = pct(figures[("server page", "pages")], 95)
    verdict = "met" if page < TARGET_P95_MS else "NOT met"
    print(f"target: task page p95 < {TARGET_P95_MS} ms server time: {page:.1f} ms, {verdict}")
    print(f"(load average at the end {os.getloadavg()[0]:.1f}; access log: {log})")


if __name__ == "__main__":
    main()

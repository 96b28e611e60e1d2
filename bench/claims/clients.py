"""The load generator: client processes (spawned: no Django), one thread per simulated worker, a connection per
request."""

import json
import multiprocessing as mp
import os
import random
import socket
import subprocess
import threading
import time
from collections import Counter
from typing import Any

from bench.claims.common import LABELS, Run
from bench.claims.cpu import measure_cpu, server_pids


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

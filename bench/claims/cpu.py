"""Where the CPU went during a timed phase: the server or this process, PostgreSQL, Redis, the whole machine."""

import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from bench.claims.common import Run


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

"""One helper for the race tests: threads, each with its own database connection, started at the same instant."""

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from django.db import connections


def run_in_threads(n: int, target: Callable[[int], object], *, errors_as_results: bool = False) -> list[object]:
    """Run `target(0)` ... `target(n - 1)` in `n` threads released together; each closes its own connection when done.
    Returns the results in order. An exception is raised here, unless `errors_as_results`: then it takes its
    thread's place in the results (so one thread's error cannot hide the others' outcomes)."""
    barrier = threading.Barrier(n)

    def run(i: int) -> object:
        try:
            barrier.wait()
            return target(i)
        except Exception as exc:
            if errors_as_results:
                return exc
            raise
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(run, range(n)))

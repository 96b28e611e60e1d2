"""Work that runs after a transaction commits, and must never undo the commit's answer.

Hooks that run after a commit (quality control, the aggregation counter, webhook and Celery enqueues) may fail: the
cache or the broker is down, a lock times out. By then the change is committed, so raising would turn a request
that succeeded into a 500 the client retries. `after_commit` logs such a failure instead; each hook's work is
redone later by its sweeper (lost enqueues, unfinished aggregations) or by the next event of its kind.

Not `transaction.on_commit(..., robust=True)`: Django's error log there reads `func.__qualname__`, which a
`functools.partial` lacks, so the log line itself raises.
"""

import logging
from collections.abc import Callable

from django.db import transaction

logger = logging.getLogger(__name__)


def after_commit(func: Callable[..., object], /, *args: object, **kwargs: object) -> None:
    """Call `func(*args, **kwargs)` once the surrounding transaction commits (at once outside one); log, never
    raise, what it raises."""

    def run() -> None:
        try:
            func(*args, **kwargs)
        except Exception:
            name = getattr(func, "__qualname__", repr(func))
            logger.exception("After a commit, %s failed; its sweeper or the next event redoes it.", name)

    transaction.on_commit(run)

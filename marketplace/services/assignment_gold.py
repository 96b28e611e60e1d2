"""The gold draw of a claim: gold items a worker has never seen, drawn uniformly at random, in a few index probes."""

import functools
import random
from typing import Any

from django.db.models import Exists, IntegerField, OuterRef, QuerySet

from marketplace.accounts.models import User
from marketplace.models import GoldExposure, Item, Job
from marketplace.prepared import Param, PreparedQuery

# Gold numbers tried per gold item wanted, plus a few: for a worker who has seen half of the job's gold, about one
# draw in 4,000 falls back to the shuffle of all of it.
GOLD_NUMBERS_PER_ITEM, GOLD_NUMBERS_EXTRA = 4, 8


def draw_gold(job: Job, worker: User, count: int, rng: random.Random) -> list[tuple[int, Any]]:
    """`count` gold items (id, payload) this worker has never seen, not flagged for review, drawn at random.

    Rejection sampling: a few gold numbers drawn at random from all of the job's, of which the first `count` that
    this worker may get are taken; a few index probes, however much gold the job has and however much of it the
    worker has seen. (Shuffling all of the job's unseen gold took time in proportion to the job's gold times the
    worker's: 1.5 ms for 1,000 gold items and 65 seen.) The result is a uniform draw from the gold this worker may
    get. When the job has little gold, or the worker has seen (or review has flagged) most of it, so that too few
    of the numbers drawn qualify, all the gold left is shuffled instead: still uniform, and rare.
    """
    if count == 0:
        return []
    tries = GOLD_NUMBERS_PER_ITEM * count + GOLD_NUMBERS_EXTRA
    if job.gold_count > tries:
        numbers = rng.sample(range(1, job.gold_count + 1), tries)
        drawn_numbers: dict[str, Any] = {f"n{i}": number for i, number in enumerate(numbers)}
        found = {
            number: (item_id, payload)
            for item_id, payload, number in _gold_by_numbers(tries).rows(job=job.pk, worker=worker.pk, **drawn_numbers)
        }
        drawn = [found[number] for number in numbers if number in found]
        if len(drawn) >= count:
            return drawn[:count]
    return _unseen_gold(count).rows(job=job.pk, worker=worker.pk)


def _gold_for(job: Param, worker: Param) -> QuerySet[Item]:
    """The job's gold items that `worker` has never seen and that are not flagged for review."""
    seen = GoldExposure.objects.filter(worker_id=worker, item=OuterRef("pk"))
    return Item.objects.filter(job_id=job, is_gold=True, gold_flagged_at__isnull=True).exclude(Exists(seen))


# Prepared once per process and size (see marketplace.prepared): compiling the querysets costs more than running them.
@functools.lru_cache(maxsize=64)
def _unseen_gold(count: int) -> PreparedQuery[Item]:
    unseen = _gold_for(Param("job", IntegerField()), Param("worker", IntegerField()))
    return PreparedQuery(lambda: unseen.order_by("?").values_list("id", "payload")[:count])


@functools.lru_cache(maxsize=64)
def _gold_by_numbers(tries: int) -> PreparedQuery[Item]:
    numbers = [Param(f"n{i}", IntegerField()) for i in range(tries)]
    unseen = _gold_for(Param("job", IntegerField()), Param("worker", IntegerField()))
    return PreparedQuery(
        lambda: unseen.filter(gold_number__in=numbers).order_by().values_list("id", "payload", "gold_number")
    )

"""`job.items_settled`: the requester's signal that items are done, so a training loop can take their labels.

A micro-task is settled when it has every answer it needs (`submitted_count >= overlap_target`, no slot waiting for
funds: adaptive overlap raised it no further in the run that just ended) and the run's results saw them all (each
of its items' result counts `submitted_count` answers). After each aggregation run, the settled tasks not announced
yet are marked (`MicroTask.settled_at`) and announced, their items with label and confidence, at most
`WEBHOOK_RESULTS_MAX_ITEMS` items per event (as many events as it takes), in one transaction: announced once. A task
that quality control reopens later (a block's replacement slot) is not announced again: its item's new result comes
with `results.updated`.
"""

from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from marketplace.models import Item, ItemResult, Job, MicroTask
from marketplace.services.webhooks import webhook_emit


def items_settled_announce(*, job: Job) -> int:
    """Announce the job's newly settled tasks' items; returns how many items."""
    behind = Item.objects.filter(task=OuterRef("pk")).filter(
        Q(result__isnull=True) | Q(result__answer_count__lt=OuterRef("submitted_count"))
    )
    with transaction.atomic():
        settled = (
            MicroTask.objects.select_for_update(no_key=True, skip_locked=True)
            .filter(
                job_id=job.pk,
                settled_at__isnull=True,
                overlap_target__gt=0,
                submitted_count__gte=F("overlap_target"),
                unfunded_slots=0,
            )
            .exclude(Exists(behind))
            .order_by("number")
        )
        task_ids = list(settled.values_list("pk", flat=True))
        if not task_ids:
            return 0
        MicroTask.objects.filter(pk__in=task_ids).update(settled_at=timezone.now())
        rows = list(
            ItemResult.objects.filter(item__task_id__in=task_ids)
            .order_by("item__task__number", "item__position")
            .values_list("item_id", "item__external_id", "label", "confidence")
        )
        size = settings.WEBHOOK_RESULTS_MAX_ITEMS
        for start in range(0, len(rows), size):
            webhook_emit(job=job, event="job.items_settled", data=_data(rows[start : start + size], len(rows)))
    return len(rows)


def _data(rows: list[tuple[int, str, Any, float]], total: int) -> dict[str, Any]:
    items = [
        {"item": item, "external_id": external_id, "label": label, "confidence": confidence}
        for item, external_id, label, confidence in rows
    ]
    return {"items": items, "settled_items_total": total}

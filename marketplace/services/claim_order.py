"""The order claims serve a job's tasks in (`Job.claim_order`): each micro-task's `rank`, lowest first, then the
upload's order.

- `uploaded`: every rank 0, so the upload's order (the default, and what every job did before).
- `priority`: the items' `priority` field (a number the item schema declares): the task of the highest priority
  first (rank = minus its items' highest priority).
- `uncertain` (active learning): the least certain task first. A task's rank is its items' lowest confidence from
  the latest aggregation; before any answer, the lowest score of a model's predictions on them (a model unsure of an
  item asks for people first); 0, first of all, when neither exists. Re-ranked after each aggregation run.

A rank is written with one UPDATE over the job's tasks (a correlated subquery per task), never on the claim path:
claims read it through the partial index of free tasks (job, rank, number).
"""

from typing import Any

from django.db.models import Aggregate, FloatField, Max, Min, OuterRef, QuerySet, Subquery, Value
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Coalesce

from marketplace.models import ClaimOrder, Item, Job, MicroTask, Prediction


def claim_order_rank(*, job: Job) -> int:
    """Rank the job's micro-tasks for its claim order; returns how many rows the UPDATE touched."""
    tasks = MicroTask.objects.filter(job_id=job.pk)
    if job.claim_order == ClaimOrder.PRIORITY:
        priority = Cast(KeyTextTransform("priority", "payload"), FloatField())
        highest = _per_task(Item.objects.filter(is_gold=False).annotate(p=priority), "task", Max("p"))
        return tasks.update(rank=Coalesce(-highest, Value(0.0)))
    if job.claim_order == ClaimOrder.UNCERTAIN:
        confidence = _per_task(Item.objects.filter(is_gold=False), "task", Min("result__confidence"))
        score = _per_task(Prediction.objects.filter(job_id=job.pk, item__is_gold=False), "item__task", Min("score"))
        return tasks.update(rank=Coalesce(confidence, score, Value(0.0)))
    return tasks.exclude(rank=0.0).update(rank=0.0)


def _per_task(queryset: QuerySet[Any], task_field: str, aggregate: Aggregate) -> Subquery:
    """One value per outer task: `aggregate` over the rows of `queryset` whose `task_field` is it."""
    rows = queryset.filter(**{task_field: OuterRef("pk")}).order_by().values(task_field).annotate(value=aggregate)
    return Subquery(rows.values("value")[:1], output_field=FloatField())

"""The worker's own assignment, read under its row lock with what a submit or a release needs in the same query."""

from functools import partial

from django.db import connection
from django.db.models import Exists, Func, IntegerField, JSONField, OuterRef, QuerySet, Subquery
from django.db.models.functions import JSONArray

from marketplace.accounts.models import User
from marketplace.errors import AssignmentClosed, NotFound
from marketplace.models import Assignment, Item
from marketplace.prepared import Param, PreparedQuery, attnames
from marketplace.selectors_webhooks import webhook_endpoints_exist

GRADING_COLUMNS = ("id", "is_gold", "gold_answer", "payload")


def lock_own(assignment_id: int, worker: User, *, with_items: bool = False) -> Assignment:
    """The worker's assignment, locked, with its job, and two facts a submit needs, read in the same query:
    `has_webhooks` (does any endpoint listen to the job?) and `job_has_flagged_gold`. `with_items`: on PostgreSQL
    also the grading columns of its items (`graded_items`, see `assignment_submits._graded_answers`), a round trip
    fewer per submit."""
    with_items = with_items and connection.vendor == "postgresql"
    query = _OWN_ASSIGNMENT_WITH_ITEMS if with_items else _OWN_ASSIGNMENT
    extra = (*_OWN_ASSIGNMENT_EXTRA, "task_items", "gold_items") if with_items else _OWN_ASSIGNMENT_EXTRA
    found = query.instances(Assignment, related=("job",), extra=extra, assignment=assignment_id, worker=worker.pk)
    if not found:
        raise NotFound("No such assignment.")
    assignment = found[0]
    if with_items:  # each list is NULL when empty (no gold); extra columns, not model fields
        items = [*(assignment.task_items or ()), *(assignment.gold_items or ())]  # type: ignore[attr-defined]
        assignment.graded_items = items  # type: ignore[attr-defined]
    return assignment


def _own_assignment(*, with_items: bool) -> QuerySet[Assignment]:
    own = (
        Assignment.objects.select_for_update(of=("self",))
        .filter(pk=Param("assignment", IntegerField()), worker_id=Param("worker", IntegerField()))
        .annotate(
            has_webhooks=webhook_endpoints_exist(job_id=OuterRef("job_id"), owner_id=OuterRef("job__requester_id")),
            job_has_flagged_gold=Exists(Item.objects.filter(job_id=OuterRef("job_id"), gold_flagged_at__isnull=False)),
        )
    )
    extra = list(_OWN_ASSIGNMENT_EXTRA)
    if with_items:  # the task's items and the gold mixed in (its exposures), each on its own index, as JSON
        rows = Func(JSONArray(*GRADING_COLUMNS), function="JSONB_AGG", output_field=JSONField())
        task_items = Item.objects.filter(task_id=OuterRef("task_id")).order_by().values(rows=rows)
        gold_items = Item.objects.filter(exposures__assignment_id=OuterRef("pk")).order_by().values(rows=rows)
        own = own.annotate(task_items=Subquery(task_items), gold_items=Subquery(gold_items))
        extra += ["task_items", "gold_items"]
    return own.order_by().values_list(*attnames(Assignment, related=("job",)), *extra)


_OWN_ASSIGNMENT_EXTRA = ("has_webhooks", "job_has_flagged_gold")
_OWN_ASSIGNMENT = PreparedQuery(partial(_own_assignment, with_items=False))
_OWN_ASSIGNMENT_WITH_ITEMS = PreparedQuery(partial(_own_assignment, with_items=True))


def closed(assignment: Assignment) -> AssignmentClosed:
    return AssignmentClosed(f"This assignment is {assignment.status}.", status=assignment.status)

"""The assignment engine: workers claim micro-tasks (with hidden gold), submit answers, release or let them expire.

Invariants, each also held by the database:
- a task never has more open + submitted assignments than its overlap target (`MicroTask.assigned_count`, checked
  by `task_never_over_assigned`);
- a worker gets a task at most once (`assignment_one_per_task_and_worker`) and a gold item at most once
  (`gold_seen_once_per_worker`), and answers an item at most once (`answer_one_per_item_and_worker`);
- gold answers never count toward a task's overlap or the job's completion: only assignments count, per task;
- once the job's cancel (or completion, or pause) commits, no claim commits: a trigger checks the job's status
  under a lock as each assignment is inserted (see `JOB_ACTIVE_CONSTRAINT`).

Locks, always in this order, so no two of these transactions wait on each other in a cycle:
- claim: the worker's `Participation` row (serialises that worker's claims on the job), then one task taken with
  `FOR UPDATE SKIP LOCKED` (so concurrent claimers never wait on each other);
- submit, release, expiry: the assignment, then its task, then the participation, then (on completion) the job.
"""

import functools
import hashlib
import json
import random
from datetime import datetime
from functools import partial
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, F, Func, IntegerField, JSONField, OuterRef, QuerySet, Subquery
from django.db.models.functions import JSONArray
from django.utils import timezone

from marketplace.accounts.models import User
from marketplace.errors import (
    AlreadySubmitted,
    AssignmentClosed,
    InvalidAnswers,
    MarketplaceError,
    NotEligible,
    NotFound,
    NoWorkAvailable,
    TooManyOpenAssignments,
)
from marketplace.models import (
    Answer,
    Assignment,
    AssignmentStatus,
    GoldExposure,
    Item,
    Job,
    MicroTask,
    Participation,
)
from marketplace.prepared import Param, PreparedQuery, PreparedUpdate, attnames, insert, insert_statement
from marketplace.schemas import SchemaValueError, parse_label_schema
from marketplace.selectors import eligible_job_from_row, eligible_job_statement
from marketplace.services.aggregation import aggregation_enqueue, aggregation_note_answers
from marketplace.services.commit import after_commit
from marketplace.services.eligibility import ensure_can_work
from marketplace.services.jobs import job_complete_if_done
from marketplace.services.webhooks import webhook_assignment_data, webhook_emit, webhook_endpoints_exist
from workers.services import worker_record_gold

LAZY_EXPIRY_LIMIT = 50
_random = random.SystemRandom()


# --- Claim ------------------------------------------------------------------------------------------------------


class _NothingFree(Exception):
    """No free task for this worker: raised inside the claim transaction so that its slot is rolled back."""


class _OutOfGold(Exception):
    """The worker has seen (or review has flagged) so much of the job's gold that fewer than the job's gold per
    assignment are left for them: the claim is rolled back and refused as "no work"."""


def assignment_claim(*, job_id: int, worker: User, rng: random.Random | None = None) -> Assignment:
    """Give `worker` the next micro-task of the job with exactly `job.gold_per_assignment` gold items mixed in at
    random positions.

    Nothing the worker sees tells gold from real items, nor how many are gold: every assignment of a task has the
    same size (the task's items plus the job's fixed number of gold items), gold and real payloads carry the same
    fields (checked at upload), positions are uniform, and every claim runs the same statements. A worker for whom
    fewer gold items are left than an assignment holds is refused as when no work is left: no assignment with less
    gold is ever handed out.

    One short transaction of a few statements: the job read through the eligibility rule; a conditional UPDATE
    that takes one of the worker's open slots on the job (its row lock serialises that worker's claims); an
    UPDATE ... RETURNING that takes the lowest free task (`FOR UPDATE SKIP LOCKED`: claimers never wait on each
    other); the task's items; the gold draw; two inserts. Only when nothing is free are the job's overdue
    assignments expired and the claim tried once more, so a stopped beat never starves a job.

    Raises `NotFound`, `NotEligible`, `TooManyOpenAssignments` or `NoWorkAvailable` (also when out of gold); never
    over-assigns a task.
    The returned assignment carries `payloads`, the items' payloads in order, for the response.
    """
    rng = rng or _random
    for attempt in range(2):
        try:
            return _claim_once(job_id, worker, rng)
        except _NothingFree:
            if attempt or not assignment_expire_overdue(job_id=job_id, limit=LAZY_EXPIRY_LIMIT):
                break
        except _OutOfGold:
            break  # expiring other assignments gives no gold back
    raise NoWorkAvailable()


def _claim_once(job_id: int, worker: User, rng: random.Random) -> Assignment:
    try:
        with transaction.atomic(durable=True):
            job, taken = _job_slot_and_task(job_id, worker)
            if taken is None:
                raise _NothingFree()
            task_id, items = taken
            gold = _draw_gold(job, worker, job.gold_per_assignment, rng)
            if len(gold) < job.gold_per_assignment:
                raise _OutOfGold()
            mixed = _mix(items, gold, rng)
            item_ids = [item_id for item_id, _ in mixed]
            assignment = Assignment(job=job, task_id=task_id, worker=worker, item_ids=item_ids, expires_at=_expiry(job))
            _insert_assignment(assignment, gold_ids=[item_id for item_id, _ in gold])
    except IntegrityError as refused:
        if _constraint_of(refused) != JOB_ACTIVE_CONSTRAINT:
            raise
        # A cancel, pause or completion committed while this claim was under way: refused as it would be now.
        ensure_can_work(job_id=job_id, worker=worker)
        raise NotEligible("The job is no longer active.", reason="job_not_active") from None
    assignment.payloads = [payload for _, payload in mixed]
    return assignment


# On PostgreSQL a trigger checks, as the assignment is inserted, that the job is still active (migration
# marketplace/0014), with FOR KEY SHARE on the job row, the lock the foreign-key check takes at COMMIT anyway. So a
# cancel or completion (which holds the row FOR UPDATE) is ordered either before the claim, which is refused, or
# after it, and its refund counts the claim's open assignment. No round trip more; SQLite serialises writers instead.
JOB_ACTIVE_CONSTRAINT = "assignment_job_active"


def _constraint_of(error: IntegrityError) -> str | None:
    return getattr(getattr(error.__cause__, "diag", None), "constraint_name", None)


def _insert_assignment(assignment: Assignment, *, gold_ids: list[int]) -> None:
    """Insert the assignment and the worker's exposure to each of its gold items (`gold_seen_once_per_worker`);
    on PostgreSQL in one statement, the assignment's INSERT in a WITH."""
    if not gold_ids or connection.vendor != "postgresql":
        insert([assignment])
        insert(
            [
                GoldExposure(worker=assignment.worker, item_id=i, job=assignment.job, assignment=assignment)
                for i in gold_ids
            ]
        )
        return
    assignment_sql, assignment_args = insert_statement([assignment])
    with connection.cursor() as cursor:
        cursor.execute(
            _INSERT_WITH_EXPOSURES.format(insert_assignment=assignment_sql, **_tables()),
            [*assignment_args, assignment.worker_id, assignment.job_id, gold_ids],
        )
        assignment.pk = cursor.fetchone()[0]
    assignment._state.adding, assignment._state.db = False, connection.alias


_INSERT_WITH_EXPOSURES = """
    WITH created AS ({insert_assignment})
    INSERT INTO {exposure} (worker_id, job_id, item_id, assignment_id)
    SELECT %s, %s, gold.id, created.id FROM created, UNNEST(%s::bigint[]) AS gold(id)
    RETURNING assignment_id
"""


def _job_slot_and_task(job_id: int, worker: User) -> tuple[Job, tuple[int, list[tuple[int, Any]]] | None]:
    """The job, read through the eligibility rule (`NotEligible`, `NotFound`); one of the worker's open slots on it
    (`TooManyOpenAssignments` when none is left); then the lowest free task they never had: `(job, (task id, its
    items))`, or `(job, None)` when there is none (the caller rolls the slot back).

    On PostgreSQL the usual claim is one statement, when the worker works on the job and holds no open assignment
    on it: the eligibility rule's query, the slot's UPDATE and the task's in a WITH. The task's subquery waits on the
    slot's UPDATE (a one-time filter in the plan), so the participation row is locked before any task row, the
    engine's lock order. A second claim of the same worker at once waits on that row, then finds the slot taken
    (`open_assignments < 1` no longer holds) and goes on step by step: were it to take a slot in the same statement,
    it would pick its task from a snapshot taken before that wait, blind to the task (and gold) the first just took.
    Otherwise (a first claim on the job, a worker who holds open assignments on a job that allows several, a refusal,
    SQLite): the rule, the slot, then the task, each in statements that see what other claims committed.
    """
    if connection.vendor == "postgresql" and worker.is_worker:
        eligible_sql, eligible_args = eligible_job_statement(worker=worker, job_id=job_id)
        tables = _tables()
        pick = _PICK_TASK.format(**tables, after_slot="EXISTS (SELECT 1 FROM slot) AND", lock=_SKIP_LOCKED)
        slot = _TAKE_SLOT.format(**tables) + " AND EXISTS (SELECT 1 FROM job)"
        sql = _JOB_SLOT_AND_TASK.format(
            eligible=eligible_sql, slot=slot, take=_TAKE.format(pick=pick, **tables), **tables
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [*eligible_args, job_id, worker.pk, 1, job_id, worker.pk])
            rows = cursor.fetchall()
        if rows:
            job = eligible_job_from_row(rows[0])
            if rows[0][-4]:  # the slot was taken; then (task id, item id, payload), if a task was
                return job, _with_items([row[-3:] for row in rows if row[-3] is not None])
        else:
            job = ensure_can_work(job_id=job_id, worker=worker)  # says why; or the job, eligible since
    else:
        job = ensure_can_work(job_id=job_id, worker=worker)
    _take_open_slot(job, worker)
    return job, _take_free_task(job, worker)


def _take_open_slot(job: Job, worker: User) -> None:
    """Count one more open assignment for the worker on the job, or raise `TooManyOpenAssignments`.

    A conditional UPDATE: the cap is checked and the count raised in one statement, under the row's lock. The
    worker's first claim creates the row; of several first claims at once, the losers meet the unique constraint
    (once the winner commits) and take their slot in the winner's row, as far as the cap allows.
    """
    if _slot_taken(job, worker):
        return
    if not Participation.objects.filter(job=job, worker=worker).exists():
        try:
            with transaction.atomic():
                Participation.objects.create(job=job, worker=worker, open_assignments=1)
            return
        except IntegrityError:
            pass
    # The row exists, perhaps made by another first claim since the UPDATE above: once more.
    if not _slot_taken(job, worker):
        raise TooManyOpenAssignments(max_open_assignments=job.max_open_assignments)


def _slot_taken(job: Job, worker: User) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(_TAKE_SLOT.format(**_tables()), [job.pk, worker.pk, job.max_open_assignments])
        return bool(cursor.rowcount)


_TAKE_SLOT = """
    UPDATE {participation} SET open_assignments = open_assignments + 1
    WHERE job_id = %s AND worker_id = %s AND open_assignments < %s
"""
_PICK_TASK = """
    SELECT t.id FROM {task} t
    WHERE {after_slot} t.job_id = %s AND t.assigned_count < t.overlap_target
      AND NOT EXISTS (SELECT 1 FROM {assignment} a WHERE a.task_id = t.id AND a.worker_id = %s)
    ORDER BY t.number LIMIT 1 {lock}
"""
# SQLite, whose writers take turns, and which has no UPDATE inside WITH.
_TAKE_TASK = "UPDATE {task} SET assigned_count = assigned_count + 1 WHERE id = ({pick}) RETURNING id"
# PostgreSQL picks the task in a WITH and updates the row picked. Not `UPDATE ... WHERE id = (SELECT ... SKIP
# LOCKED)`: re-checking a row that a concurrent claim had changed and committed, PostgreSQL ran that subquery again,
# which could then pick another task, and the UPDATE changed nothing: about one claim in 700 answered "no work"
# under load (tests/marketplace/test_assignments_concurrency.py). It also reads the task's items in the same trip.
_TAKE = """
    picked AS ({pick}),
    taken AS (
        UPDATE {task} SET assigned_count = assigned_count + 1 FROM picked WHERE {task}.id = picked.id
        RETURNING {task}.id
    )
"""
_TAKE_TASK_WITH_ITEMS = """
    WITH {take}
    SELECT taken.id, i.id, i.payload FROM taken JOIN {item} i ON i.task_id = taken.id ORDER BY i.position
"""
# ... and with the job through the eligibility rule and the slot first: no row when the rule refuses; else one at
# least, the job's columns, then whether the slot was taken, then the task's items, if a task was taken.
_JOB_SLOT_AND_TASK = """
    WITH job AS ({eligible}), slot AS ({slot} RETURNING 1), {take}
    SELECT job.*, (SELECT count(*) FROM slot), taken.id, i.id, i.payload
    FROM job LEFT JOIN taken ON true LEFT JOIN {item} i ON i.task_id = taken.id
    ORDER BY i.position
"""
_SKIP_LOCKED = "FOR UPDATE SKIP LOCKED"


def _tables() -> dict[str, str]:
    """The engine's tables, quoted, for the SQL written by hand above and below."""
    quote = connection.ops.quote_name
    return {
        "task": quote(MicroTask._meta.db_table),
        "assignment": quote(Assignment._meta.db_table),
        "participation": quote(Participation._meta.db_table),
        "item": quote(Item._meta.db_table),
        "exposure": quote(GoldExposure._meta.db_table),
    }


def _take_free_task(job: Job, worker: User) -> tuple[int, list[tuple[int, Any]]] | None:
    """Take a slot on the lowest-numbered task with one free that this worker never had: `(task id, its items)`,
    the items as `(id, payload)` in task order.

    On PostgreSQL one statement: the inner SELECT skips rows other claimers hold and is served by the partial index
    `task_with_free_slot_idx` (full tasks are never scanned). SQLite serialises writers anyway.
    """
    tables = _tables()
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            pick = _PICK_TASK.format(**tables, after_slot="", lock="")
            cursor.execute(_TAKE_TASK.format(pick=pick, **tables), [job.pk, worker.pk])
            row = cursor.fetchone()
        return (row[0], _TASK_ITEMS.rows(task=row[0])) if row else None
    take = _TAKE.format(pick=_PICK_TASK.format(**tables, after_slot="", lock=_SKIP_LOCKED), **tables)
    with connection.cursor() as cursor:
        cursor.execute(_TAKE_TASK_WITH_ITEMS.format(take=take, **tables), [job.pk, worker.pk])
        return _with_items(cursor.fetchall())


def _with_items(rows: list[tuple[Any, ...]]) -> tuple[int, list[tuple[int, Any]]] | None:
    """`(task id, [(item id, payload), ...])` from rows of (task id, item id, payload as stored); `None` if empty."""
    if not rows:
        return None
    payload = Item._meta.get_field("payload")
    return rows[0][0], [(item_id, payload.from_db_value(value, None, connection)) for _, item_id, value in rows]


def _draw_gold(job: Job, worker: User, count: int, rng: random.Random) -> list[tuple[int, Any]]:
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
    tries = _GOLD_NUMBERS_PER_ITEM * count + _GOLD_NUMBERS_EXTRA
    if job.gold_count > tries:
        numbers = rng.sample(range(1, job.gold_count + 1), tries)
        found = {
            number: (item_id, payload)
            for item_id, payload, number in _gold_by_numbers(tries).rows(
                job=job.pk, worker=worker.pk, **{f"n{i}": number for i, number in enumerate(numbers)}
            )
        }
        drawn = [found[number] for number in numbers if number in found]
        if len(drawn) >= count:
            return drawn[:count]
    return _unseen_gold(count).rows(job=job.pk, worker=worker.pk)


# Gold numbers tried per gold item wanted, plus a few: for a worker who has seen half of the job's gold, about one
# draw in 4,000 falls back to the shuffle of all of it.
_GOLD_NUMBERS_PER_ITEM, _GOLD_NUMBERS_EXTRA = 4, 8


# The claim's reads, prepared once per process (see marketplace.prepared): building and compiling these querysets
# costs several times more than running them.
_TASK_ITEMS = PreparedQuery(
    lambda: Item.objects.filter(task_id=Param("task", IntegerField())).order_by("position").values_list("id", "payload")
)


def _gold_for(job: Param, worker: Param) -> QuerySet[Item]:
    """The job's gold items that `worker` has never seen and that are not flagged for review."""
    seen = GoldExposure.objects.filter(worker_id=worker, item=OuterRef("pk"))
    return Item.objects.filter(job_id=job, is_gold=True, gold_flagged_at__isnull=True).exclude(Exists(seen))


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


def _mix(items: list[tuple[int, Any]], gold: list[tuple[int, Any]], rng: random.Random) -> list[tuple[int, Any]]:
    """Insert each gold item at a random position; the task's own items keep their order."""
    mixed = list(items)
    for entry in gold:
        mixed.insert(rng.randint(0, len(mixed)), entry)
    return mixed


def _expiry(job: Job) -> datetime:
    expires = timezone.now() + job.assignment_duration
    return min(expires, job.deadline) if job.deadline else expires


# --- Submit -------------------------------------------------------------------------------------------------------


def assignment_submit(*, assignment_id: int, worker: User, answers: list[dict[str, Any]]) -> Assignment:
    """Store the worker's answers to every item of the assignment and grade the gold ones.

    Idempotent: the same answers submitted again return the stored result and write nothing; different answers
    to a submitted assignment are refused (`AlreadySubmitted`). A submit after the deadline expires the assignment
    (committed) and is refused (`AssignmentClosed`); a submit that fails validation changes nothing.
    """
    with transaction.atomic(durable=True):
        assignment = _lock_own(assignment_id, worker, with_items=True)
        overdue = assignment.status == AssignmentStatus.OPEN and assignment.expires_at <= timezone.now()
        if overdue:
            _close(assignment, AssignmentStatus.EXPIRED)  # committed below, then refused
        elif assignment.status in (AssignmentStatus.EXPIRED, AssignmentStatus.RELEASED):
            raise _closed(assignment)
        else:
            values = _clean_answers(assignment, answers)
            digest = _digest(values)
            if assignment.status == AssignmentStatus.SUBMITTED:
                if assignment.submission_digest != digest:
                    raise AlreadySubmitted()
                return assignment
            _record(assignment, values, digest)
    if overdue:
        raise _closed(assignment)
    return assignment


def assignment_submit_and_claim(
    *, assignment_id: int, worker: User, answers: list[dict[str, Any]], rng: random.Random | None = None
) -> tuple[Assignment, Assignment | None, MarketplaceError | None]:
    """Submit, then claim the next micro-task of the same job: a worker's "submit and next" in one call.

    Returns `(submitted, next, refusal)`. The submit is `assignment_submit`, and its errors are raised: nothing is
    claimed then. The claim is `assignment_claim` in its own transaction once the submit has committed, so a worker
    whom this submit's gold got blocked is refused; a refused claim (`NoWorkAvailable`, `NotEligible`, `NotFound`)
    is returned as `refusal`, as the submit stands. When the worker already holds the job's maximum of open
    assignments (a retry of this call whose answer was lost, say), `next` is the oldest of them not yet overdue: a
    retry gets work the worker holds, never a further claim.
    """
    submitted = assignment_submit(assignment_id=assignment_id, worker=worker, answers=answers)
    try:
        return submitted, assignment_claim(job_id=submitted.job_id, worker=worker, rng=rng), None
    except TooManyOpenAssignments as refusal:
        held = Assignment.objects.filter(
            job_id=submitted.job_id, worker=worker, status=AssignmentStatus.OPEN, expires_at__gt=timezone.now()
        )
        oldest = held.order_by("created_at", "pk").first()
        return submitted, oldest, None if oldest else refusal
    except (NoWorkAvailable, NotEligible, NotFound) as refusal:
        return submitted, None, refusal


def _lock_own(assignment_id: int, worker: User, *, with_items: bool = False) -> Assignment:
    """The worker's assignment, locked, with its job, and two facts a submit needs, read in the same query:
    `has_webhooks` (does any endpoint listen to the job?) and `job_has_flagged_gold`. `with_items`: on PostgreSQL
    also the grading columns of its items (`graded_items`, see `_graded_answers`), a round trip fewer per submit."""
    with_items = with_items and connection.vendor == "postgresql"
    query = _OWN_ASSIGNMENT_WITH_ITEMS if with_items else _OWN_ASSIGNMENT
    extra = (*_OWN_ASSIGNMENT_EXTRA, "task_items", "gold_items") if with_items else _OWN_ASSIGNMENT_EXTRA
    found = query.instances(Assignment, related=("job",), extra=extra, assignment=assignment_id, worker=worker.pk)
    if not found:
        raise NotFound("No such assignment.")
    assignment = found[0]
    if with_items:  # each list is NULL when empty (no gold)
        assignment.graded_items = [*(assignment.task_items or ()), *(assignment.gold_items or ())]
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
        rows = Func(JSONArray(*_GRADING_COLUMNS), function="JSONB_AGG", output_field=JSONField())
        task_items = Item.objects.filter(task_id=OuterRef("task_id")).order_by().values(rows=rows)
        gold_items = Item.objects.filter(exposures__assignment_id=OuterRef("pk")).order_by().values(rows=rows)
        own = own.annotate(task_items=Subquery(task_items), gold_items=Subquery(gold_items))
        extra += ["task_items", "gold_items"]
    return own.order_by().values_list(*attnames(Assignment, related=("job",)), *extra)


_GRADING_COLUMNS = ("id", "is_gold", "gold_answer", "payload")
_OWN_ASSIGNMENT_EXTRA = ("has_webhooks", "job_has_flagged_gold")
_OWN_ASSIGNMENT = PreparedQuery(partial(_own_assignment, with_items=False))
_OWN_ASSIGNMENT_WITH_ITEMS = PreparedQuery(partial(_own_assignment, with_items=True))


def _closed(assignment: Assignment) -> AssignmentClosed:
    return AssignmentClosed(f"This assignment is {assignment.status}.", status=assignment.status)


def _clean_answers(assignment: Assignment, answers: list[dict[str, Any]]) -> dict[int, Any]:
    """Validate one answer per position against the job's label schema; `{position: value}` or `InvalidAnswers`."""
    schema = parse_label_schema(assignment.job.label_schema)
    n_items, values, seen, errors = len(assignment.item_ids), {}, set(), []
    for answer in answers:
        position = answer["position"]
        if not 0 <= position < n_items:
            errors.append({"position": position, "field": "position", "message": f"No item at position {position}."})
        elif position in seen:
            errors.append({"position": position, "field": "position", "message": "Answered twice."})
        else:
            seen.add(position)
            try:
                values[position] = schema.clean_answer(answer.get("answer"))
            except SchemaValueError as exc:
                errors.append({"position": position, "field": "answer", "message": str(exc)})
    errors += [
        {"position": p, "field": "answer", "message": "Missing answer."} for p in range(n_items) if p not in seen
    ]
    if errors:
        raise InvalidAnswers(errors=sorted(errors, key=lambda e: e["position"]))
    return values


def _digest(values: dict[int, Any]) -> str:
    canonical = json.dumps(sorted(values.items()), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _record(assignment: Assignment, values: dict[int, Any], digest: str) -> None:
    answers = _graded_answers(assignment, values)
    gold = [a for a in answers if a.is_gold]
    assignment.gold_total, assignment.gold_correct = len(gold), sum(bool(a.is_correct) for a in gold)
    assignment.status, assignment.submitted_at = AssignmentStatus.SUBMITTED, timezone.now()
    assignment.auto_approve_at = assignment.submitted_at + assignment.job.auto_approve_delay
    assignment.submission_digest = digest
    floor = assignment.job.min_seconds_per_item * len(assignment.item_ids)
    assignment.is_fast = (assignment.submitted_at - assignment.created_at).total_seconds() < floor
    worker_record_gold(worker_id=assignment.worker_id, answered=assignment.gold_total, correct=assignment.gold_correct)
    submitted, target, answered, right = _store_submission(assignment, answers)
    if assignment.gold_total or assignment.is_fast:
        from marketplace.services.quality import quality_after_submit  # noqa: PLC0415 -- quality imports this

        # The job's gold counters are the worker's gold record unless some gold key of the job is flagged (flagged
        # keys do not count): then the quality check reads the record itself.
        record = None if assignment.job_has_flagged_gold else (right, answered)
        missed = [answer.item_id for answer in gold if not answer.is_correct]
        after_commit(quality_after_submit, assignment=assignment, missed_gold=missed, record=record)
    after_commit(aggregation_note_answers, job_id=assignment.job_id, count=len(values) - len(gold))
    if assignment.has_webhooks:
        data = partial(webhook_assignment_data, assignment)
        webhook_emit(job=assignment.job_id, event="assignment.submitted", data=data)
    if submitted >= target:
        _task_finished(assignment.job)


_SUBMISSION_FIELDS = [
    *("status", "submitted_at", "auto_approve_at", "submission_digest"),
    *("gold_total", "gold_correct", "is_fast"),
]
_SAVE_SUBMISSION = PreparedUpdate(
    lambda: (
        Assignment.objects.filter(pk=Param("assignment", IntegerField())),
        {name: Param(name, Assignment._meta.get_field(name)) for name in _SUBMISSION_FIELDS},
    )
)


def _graded_answers(assignment: Assignment, values: dict[int, Any]) -> list[Answer]:
    """One answer per item, gold graded against its key. Also hands the payloads and answers to the response
    (`assignment.payloads`, `assignment.answer_values`), so it reads nothing twice."""
    ids = assignment.item_ids
    rows = getattr(assignment, "graded_items", None)  # read with the assignment's lock (PostgreSQL)
    if rows is None:
        rows = _items_by_id(len(ids)).rows(**{f"item{k}": i for k, i in enumerate(ids)})
    items = {row[0]: row[1:] for row in rows}
    schema = parse_label_schema(assignment.job.label_schema)
    answers = []
    for position, item_id in enumerate(assignment.item_ids):
        is_gold, key, _ = items[item_id]
        value = values[position]
        answers.append(
            Answer(
                assignment=assignment,
                item_id=item_id,
                worker_id=assignment.worker_id,
                job_id=assignment.job_id,
                value=value,
                is_gold=is_gold,
                is_correct=schema.is_correct(value, key) if is_gold else None,
            )
        )
    assignment.payloads = [items[item_id][2] for item_id in assignment.item_ids]
    assignment.answer_values = dict(values)
    return answers


@functools.lru_cache(maxsize=64)
def _items_by_id(n: int) -> PreparedQuery[Item]:
    """The grading columns of `n` items, by id (parameters item0 ... item{n-1}); prepared per assignment length."""
    ids = [Param(f"item{k}", IntegerField()) for k in range(n)]
    return PreparedQuery(lambda: Item.objects.filter(pk__in=ids).order_by().values_list(*_GRADING_COLUMNS))


_COUNT_TASK = """
    UPDATE {task} SET submitted_count = submitted_count + 1 WHERE id = %s RETURNING submitted_count, overlap_target
"""
_COUNT_PARTICIPATION = """
    UPDATE {participation} SET open_assignments = open_assignments - 1,
        submitted_assignments = submitted_assignments + 1,
        gold_answered = gold_answered + %s, gold_correct = gold_correct + %s
    WHERE job_id = %s AND worker_id = %s {after_task}
    RETURNING gold_answered, gold_correct
"""
# PostgreSQL stores and counts the submission in one round trip. The participation's UPDATE first needs the task's
# result (the EXISTS), so the task row is locked before the participation row: the engine's lock order. The answers'
# INSERT and the assignment's UPDATE, which the SELECT does not read, run after it (the assignment is locked already).
_STORE_AND_COUNT = """
    WITH counted_task AS ({task}), counted_participation AS ({participation}),
        stored_answers AS ({answers}), stored_submission AS ({submission})
    SELECT t.submitted_count, t.overlap_target, p.gold_answered, p.gold_correct
    FROM counted_task t, counted_participation p
"""


def _store_submission(assignment: Assignment, answers: list[Answer]) -> tuple[int, int, int, int]:
    """Store the answers and the assignment's submission fields, and count the submit on its task and on the
    worker's participation (UPDATE ... RETURNING, under the row locks): the task's `submitted_count` and
    `overlap_target`, and the participation's `gold_answered` and `gold_correct`, as they are after it."""
    tables = _tables()
    submission_sql, submission_args = _SAVE_SUBMISSION.statement(
        **{name: getattr(assignment, name) for name in _SUBMISSION_FIELDS}, assignment=assignment.pk
    )
    task_sql, task_args = _COUNT_TASK.format(**tables), [assignment.task_id]
    args = [assignment.gold_total, assignment.gold_correct, assignment.job_id, assignment.worker_id]
    if connection.vendor == "postgresql":
        answers_sql, answers_args = insert_statement(answers)
        after_task = _COUNT_PARTICIPATION.format(**tables, after_task="AND EXISTS (SELECT 1 FROM counted_task)")
        sql = _STORE_AND_COUNT.format(
            task=task_sql, participation=after_task, answers=answers_sql, submission=submission_sql
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, task_args + args + answers_args + submission_args)
            return cursor.fetchone()
    insert(answers)
    with connection.cursor() as cursor:
        cursor.execute(submission_sql, submission_args)
        cursor.execute(task_sql, task_args)
        submitted, target = cursor.fetchone()
        cursor.execute(_COUNT_PARTICIPATION.format(**tables, after_task=""), args)
        answered, right = cursor.fetchone()
    return submitted, target, answered, right


def _task_finished(job: Job) -> None:
    """A fixed-overlap job completes when its last task does, then aggregates once more. An adaptive job asks the
    aggregation instead: it may still raise the overlap of uncertain tasks, and completes the job when none is."""
    if job.overlap_min < job.overlap_max or job_complete_if_done(job=job):
        aggregation_enqueue(job_id=job.pk)


# --- Release and expiry -------------------------------------------------------------------------------------------


def assignment_release(*, assignment_id: int, worker: User) -> Assignment:
    """The worker hands an open assignment back; its slot returns to the pool. Releasing twice is harmless; an
    overdue assignment is recorded as expired rather than released."""
    with transaction.atomic(durable=True):
        assignment = _lock_own(assignment_id, worker)
        if assignment.status == AssignmentStatus.RELEASED:
            return assignment
        if assignment.status != AssignmentStatus.OPEN:
            raise _closed(assignment)
        overdue = assignment.expires_at <= timezone.now()
        _close(assignment, AssignmentStatus.EXPIRED if overdue else AssignmentStatus.RELEASED)
    return assignment


def assignments_release_open(*, job: Job, worker_id: int) -> int:
    """Release every open assignment of a worker on a job (when they are blocked). Returns how many.

    Locks each assignment, then its task and the participation: the engine's lock order."""
    with transaction.atomic():
        open_ones = list(
            Assignment.objects.select_for_update().filter(job=job, worker_id=worker_id, status=AssignmentStatus.OPEN)
        )
        for assignment in open_ones:
            _close(assignment, AssignmentStatus.RELEASED)
    return len(open_ones)


def assignment_expire_overdue(*, job_id: int | None = None, limit: int = 1000) -> int:
    """Expire up to `limit` open assignments past their deadline and free their slots. Returns how many.

    Rows another transaction holds (a submit in progress) are skipped: that transaction decides their fate.
    """
    with transaction.atomic():
        overdue = Assignment.objects.select_for_update(skip_locked=True).filter(
            status=AssignmentStatus.OPEN, expires_at__lte=timezone.now()
        )
        if job_id is not None:
            overdue = overdue.filter(job_id=job_id)
        batch = list(overdue.order_by("expires_at")[:limit])
        for assignment in batch:
            _close(assignment, AssignmentStatus.EXPIRED)
    return len(batch)


def _close(assignment: Assignment, status: str) -> None:
    """Expire or release a locked open assignment and give its slot back."""
    assignment.status, assignment.closed_at = status, timezone.now()
    assignment.save(update_fields=["status", "closed_at"])
    MicroTask.objects.filter(pk=assignment.task_id).update(assigned_count=F("assigned_count") - 1)
    Participation.objects.filter(job_id=assignment.job_id, worker_id=assignment.worker_id).update(
        open_assignments=F("open_assignments") - 1
    )
    if status == AssignmentStatus.EXPIRED:
        webhook_emit(
            job=assignment.job_id, event="assignment.expired", data=partial(webhook_assignment_data, assignment)
        )

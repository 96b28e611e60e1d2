"""Claims: a worker takes the next micro-task of a job, with hidden gold mixed in (see `assignment_claim`).

Invariants, each also held by the database: a task never has more open + submitted assignments than its overlap
target (`task_never_over_assigned`); a worker gets a task at most once (`assignment_one_per_task_and_worker`) and a
gold item at most once (`gold_seen_once_per_worker`); once the job's cancel (or completion, or pause) commits, no
claim commits: a trigger checks the job's status under a lock as each assignment is inserted (`JOB_ACTIVE_CONSTRAINT`).

Locks, in the engine's order (see `marketplace.services.assignments`): the worker's `Participation` row (serialises
that worker's claims on the job), then one task taken with `FOR UPDATE SKIP LOCKED` (claimers never wait on each
other).
"""

import random
from datetime import UTC, date, datetime
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import IntegerField
from django.utils import timezone

from marketplace.accounts.models import User
from marketplace.errors import DailyCapReached, MarketplaceError, NotEligible, NoWorkAvailable, TooManyOpenAssignments
from marketplace.models import Assignment, GoldExposure, Item, Job, Participation
from marketplace.prepared import Param, PreparedQuery, insert, insert_statement
from marketplace.selectors import eligible_job_from_row, eligible_job_statement
from marketplace.services import assignment_sql as sql
from marketplace.services.assignment_gold import draw_gold
from marketplace.services.assignment_release import assignment_expire_overdue
from marketplace.services.eligibility import ensure_can_work

LAZY_EXPIRY_LIMIT = 50
_random = random.SystemRandom()

# The one-statement claim takes the worker's slot only while they hold no open assignment on the job (`cap`): a
# second claim of theirs at once waits on the row, then finds it taken and goes on step by step (see below).
ONLY_WHILE_NONE_OPEN = 1

# On PostgreSQL a trigger checks, as the assignment is inserted, that the job is still active (migration
# marketplace/0014), with FOR KEY SHARE on the job row, the lock the foreign-key check takes at COMMIT anyway. So a
# cancel or completion (which holds the row FOR UPDATE) is ordered either before the claim, which is refused, or
# after it, and its refund counts the claim's open assignment. No round trip more; SQLite serialises writers instead.
JOB_ACTIVE_CONSTRAINT = "assignment_job_active"

Items = list[tuple[int, Any]]  # (item id, payload), in task order


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

    Raises `NotFound`, `NotEligible`, `TooManyOpenAssignments`, `DailyCapReached` (the job's `daily_cap` claims
    today, UTC, taken in the slot's UPDATE) or `NoWorkAvailable` (also when out of gold); never over-assigns a task.
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
            gold = draw_gold(job, worker, job.gold_per_assignment, rng)
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
    assignment.payloads = [payload for _, payload in mixed]  # type: ignore[attr-defined]  # handed to the response
    return assignment


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
    statement = sql.compose(
        sql.INSERT_WITH_EXPOSURES,
        insert_assignment=sql.Sql(*insert_statement([assignment])),
        worker=sql.param(assignment.worker_id),
        job=sql.param(assignment.job_id),
        gold_ids=sql.param(gold_ids),
        **sql.tables(),
    )
    assignment.pk = sql.run(statement)[0][0]
    assignment._state.adding, assignment._state.db = False, connection.alias


def _job_slot_and_task(job_id: int, worker: User) -> tuple[Job, tuple[int, Items] | None]:
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
    job = None
    if connection.vendor == "postgresql" and worker.is_worker:
        rows = sql.run(_one_statement_claim(job_id, worker))
        if rows:  # else the rule refused: `ensure_can_work` says why (or the job became eligible since)
            job, tails = eligible_job_from_row(rows[0]), [sql.ClaimTail._make(row[-4:]) for row in rows]
            if tails[0].slot_taken:
                # A taken task has items: item_id is NULL only with task_id.
                items = [sql.TaskItem(t.task_id, t.item_id, t.payload) for t in tails if t.task_id]  # type: ignore[arg-type]
                return job, _with_items(items)
    job = job or ensure_can_work(job_id=job_id, worker=worker)
    _take_open_slot(job, worker)
    return job, _take_free_task(job, worker)


def _one_statement_claim(job_id: int, worker: User) -> sql.Sql:
    tables = sql.tables()
    job, me = sql.param(job_id), sql.param(worker.pk)
    pick = sql.compose(sql.PICK_TASK, after_slot="EXISTS (SELECT 1 FROM slot) AND", job=job, worker=me,
                       lock=sql.SKIP_LOCKED, **tables)  # fmt: skip
    return sql.compose(
        sql.JOB_SLOT_AND_TASK,
        eligible=sql.Sql(*eligible_job_statement(worker=worker, job_id=job_id)),
        slot=sql.compose(
            sql.TAKE_SLOT, job=job, worker=me, cap=sql.param(ONLY_WHILE_NONE_OPEN), today=sql.param(_today()), **tables
        ),
        take=sql.compose(sql.TAKE, pick=pick, **tables),
        item=tables["item"],
    )


def _take_open_slot(job: Job, worker: User) -> None:
    """Count one more open assignment (and one more claim today) for the worker on the job, or raise
    `TooManyOpenAssignments` or `DailyCapReached`.

    A conditional UPDATE: both caps are checked and the counts raised in one statement, under the row's lock. The
    worker's first claim creates the row; of several first claims at once, the losers meet the unique constraint
    (once the winner commits) and take their slot in the winner's row, as far as the caps allow.
    """
    if _slot_taken(job, worker):
        return
    if not Participation.objects.filter(job=job, worker=worker).exists():
        try:
            with transaction.atomic():
                Participation.objects.create(
                    job=job, worker=worker, open_assignments=1, claimed_on=_today(), claimed_that_day=1
                )
            return
        except IntegrityError:
            pass
    # The row exists, perhaps made by another first claim since the UPDATE above: once more.
    if not _slot_taken(job, worker):
        raise _slot_refusal(job, worker)


def _slot_taken(job: Job, worker: User) -> bool:
    statement = sql.compose(
        sql.TAKE_SLOT,
        job=sql.param(job.pk),
        worker=sql.param(worker.pk),
        cap=sql.param(job.max_open_assignments),
        today=sql.param(_today()),
        **sql.tables(),
    )
    return bool(sql.run_count(statement))


def _slot_refusal(job: Job, worker: User) -> MarketplaceError:
    """Which cap refused the slot: the day's (read only for a job that has one), else the open assignments'."""
    if job.daily_cap is not None:
        capped = Participation.objects.filter(
            job=job, worker=worker, claimed_on=_today(), claimed_that_day__gte=job.daily_cap
        )
        if capped.exists():
            return DailyCapReached(daily_cap=job.daily_cap)
    return TooManyOpenAssignments(max_open_assignments=job.max_open_assignments)


def _today() -> date:
    """The day a claim counts towards a job's daily cap: UTC's, the same for every worker."""
    return timezone.now().astimezone(UTC).date()


def _take_free_task(job: Job, worker: User) -> tuple[int, Items] | None:
    """Take a slot on the lowest-numbered task with one free that this worker never had: `(task id, its items)`,
    the items as `(id, payload)` in task order.

    On PostgreSQL one statement: the inner SELECT skips rows other claimers hold and is served by the partial index
    `task_with_free_slot_idx` (full tasks are never scanned). SQLite serialises writers anyway.
    """
    tables, postgresql = sql.tables(), connection.vendor == "postgresql"
    lock = sql.SKIP_LOCKED if postgresql else sql.NO_LOCK
    pick = sql.compose(sql.PICK_TASK, after_slot="", job=sql.param(job.pk), worker=sql.param(worker.pk), lock=lock,
                       **tables)  # fmt: skip
    if not postgresql:
        row = sql.run(sql.compose(sql.TAKE_TASK, pick=pick, **tables))
        return (row[0][0], _TASK_ITEMS.rows(task=row[0][0])) if row else None
    take = sql.compose(sql.TAKE, pick=pick, **tables)
    rows = sql.run(sql.compose(sql.TAKE_TASK_WITH_ITEMS, take=take, **tables))
    return _with_items([sql.TaskItem._make(row) for row in rows])


def _with_items(rows: list[sql.TaskItem]) -> tuple[int, Items] | None:
    """`(task id, [(item id, payload), ...])` from a task's rows, payloads as stored; `None` if there are none."""
    if not rows:
        return None
    payload = Item._meta.get_field("payload")
    # JSONField.from_db_value ignores its expression argument, which the stubs type as required.
    return rows[0].task_id, [
        (row.item_id, payload.from_db_value(row.payload, None, connection))  # type: ignore[arg-type]
        for row in rows
    ]


# Prepared once per process (see marketplace.prepared): building and compiling the queryset costs more than running it.
_TASK_ITEMS = PreparedQuery(
    lambda: Item.objects.filter(task_id=Param("task", IntegerField())).order_by("position").values_list("id", "payload")
)


def _mix(items: Items, gold: Items, rng: random.Random) -> Items:
    """Insert each gold item at a random position; the task's own items keep their order."""
    mixed = list(items)
    for entry in gold:
        mixed.insert(rng.randint(0, len(mixed)), entry)
    return mixed


def _expiry(job: Job) -> datetime:
    expires = timezone.now() + job.assignment_duration
    return min(expires, job.deadline) if job.deadline else expires

"""The assignment engine's hand-written SQL, in one place: one statement per constant, one line of intent above each.

Why SQL by hand here (the claim and the submit are every worker's two requests; see docs/architecture.md): a claim is
one statement on PostgreSQL (the eligibility rule, the worker's slot and the task, in a WITH), a submit one more.

How to edit it safely: a statement is an `Sql` (text, params) pair, and fragments are composed with `compose`, which
places each fragment's parameters where its text lands. So no argument list is ever ordered by hand to match a text;
the templates below hold no `%s` of their own, only `{fragments}`, each of which carries its parameters.
"""

from collections.abc import Sequence
from string import Formatter
from typing import Any, NamedTuple

from django.db import connection

from marketplace.models import Assignment, GoldExposure, Item, Job, MicroTask, Participation


class Sql(NamedTuple):
    """A piece of SQL and the parameters of its `%s` placeholders, in order."""

    text: str
    params: Sequence[Any] = ()


def compose(template: str, **fragments: Sql | str) -> Sql:
    """Fill `{name}` placeholders with fragments; the parameters follow the fragments in the order they appear.
    A plain `str` fragment carries no parameters (a quoted table name, a keyword)."""
    text: list[str] = []
    params: list[Any] = []
    for literal, name, _, _ in Formatter().parse(template):
        if "%s" in literal:
            raise ValueError("A template carries no parameters of its own: put them in a fragment.")
        text.append(literal)
        if name is not None:
            fragment = fragments[name]
            if isinstance(fragment, str):
                text.append(fragment)
            else:
                text.append(fragment.text)
                params.extend(fragment.params)
    return Sql("".join(text), tuple(params))


def run(statement: Sql) -> list[tuple[Any, ...]]:
    """Execute a statement that returns rows; its rows."""
    with connection.cursor() as cursor:
        cursor.execute(statement.text, statement.params)
        return cursor.fetchall()


def run_count(statement: Sql) -> int:
    """Execute a statement that returns no rows; how many rows it changed."""
    with connection.cursor() as cursor:
        cursor.execute(statement.text, statement.params)
        return cursor.rowcount


def tables() -> dict[str, str]:
    """The engine's tables, quoted for the connection's database."""
    quote = connection.ops.quote_name
    return {
        "task": quote(MicroTask._meta.db_table),
        "assignment": quote(Assignment._meta.db_table),
        "participation": quote(Participation._meta.db_table),
        "item": quote(Item._meta.db_table),
        "exposure": quote(GoldExposure._meta.db_table),
        "jobs": quote(Job._meta.db_table),
    }


# Row locks: a claim takes its task FOR UPDATE SKIP LOCKED on PostgreSQL, so concurrent claimers never wait on each
# other; SQLite serialises writers and has neither.
SKIP_LOCKED = "FOR UPDATE SKIP LOCKED"
NO_LOCK = ""


def param(value: Any) -> Sql:
    return Sql("%s", (value,))


# --- Claim --------------------------------------------------------------------------------------------------------

# Take one of the worker's open slots on the job, if fewer than `cap` are taken and the job's daily cap (if any) leaves
# the worker a claim `today` (a conditional UPDATE: row count 1). SET reads the row as it was before the UPDATE.
TAKE_SLOT = """
    UPDATE {participation} SET open_assignments = open_assignments + 1,
        claimed_that_day = CASE WHEN claimed_on = {today} THEN claimed_that_day + 1 ELSE 1 END, claimed_on = {today}
    WHERE job_id = {job} AND worker_id = {worker} AND open_assignments < {cap}
      AND (claimed_on IS NULL OR claimed_on <> {today}
           OR claimed_that_day < (SELECT coalesce(daily_cap, claimed_that_day + 1) FROM {jobs} WHERE id = {job}))
"""

# The task of lowest rank, then number (`Job.claim_order`), with a free slot, that the worker never had; `after_slot`
# orders it after the slot's UPDATE in one statement, `lock` skips rows other claimers hold.
PICK_TASK = """
    SELECT t.id FROM {task} t
    WHERE {after_slot} t.job_id = {job} AND t.assigned_count < t.overlap_target
      AND NOT EXISTS (SELECT 1 FROM {assignment} a WHERE a.task_id = t.id AND a.worker_id = {worker})
    ORDER BY t.rank, t.number LIMIT 1 {lock}
"""

# SQLite (writers take turns; no UPDATE inside WITH): take a slot on the task picked, its id returned.
TAKE_TASK = "UPDATE {task} SET assigned_count = assigned_count + 1 WHERE id = ({pick}) RETURNING id"

# PostgreSQL: pick the task in a WITH and update the row picked. Not `UPDATE ... WHERE id = (SELECT ... SKIP LOCKED)`:
# re-checking a row that a concurrent claim had changed and committed, PostgreSQL ran that subquery again, which could
# then pick another task, and the UPDATE changed nothing: about one claim in 700 answered "no work" under load
# (tests/marketplace/test_assignments_concurrency.py).
TAKE = """
    picked AS ({pick}),
    taken AS (
        UPDATE {task} SET assigned_count = assigned_count + 1 FROM picked WHERE {task}.id = picked.id
        RETURNING {task}.id
    )
"""

# PostgreSQL: take a task and read its items in order, in one trip: rows of (task id, item id, payload).
TAKE_TASK_WITH_ITEMS = """
    WITH {take}
    SELECT taken.id, i.id, i.payload FROM taken JOIN {item} i ON i.task_id = taken.id ORDER BY i.position
"""

# PostgreSQL, a worker's usual claim in one statement: the job through the eligibility rule, the slot, the task. No row
# when the rule refuses; else one at least: the job's columns, then a `ClaimTail`.
JOB_SLOT_AND_TASK = """
    WITH job AS ({eligible}), slot AS ({slot} AND EXISTS (SELECT 1 FROM job) RETURNING 1), {take}
    SELECT job.*, (SELECT count(*) FROM slot), taken.id, i.id, i.payload
    FROM job LEFT JOIN taken ON true LEFT JOIN {item} i ON i.task_id = taken.id
    ORDER BY i.position
"""


class ClaimTail(NamedTuple):
    """The columns of `JOB_SLOT_AND_TASK` after the job's: whether the slot was taken, then the task's id and one
    of its items (id, payload as stored), all NULL when no task was taken."""

    slot_taken: int
    task_id: int | None
    item_id: int | None
    payload: Any


class TaskItem(NamedTuple):
    """A row of `TAKE_TASK_WITH_ITEMS`."""

    task_id: int
    item_id: int
    payload: Any


# PostgreSQL: insert the assignment (its INSERT in a WITH) and the worker's exposure to each gold item mixed in.
INSERT_WITH_EXPOSURES = """
    WITH created AS ({insert_assignment})
    INSERT INTO {exposure} (worker_id, job_id, item_id, assignment_id)
    SELECT {worker}, {job}, gold.id, created.id FROM created, UNNEST({gold_ids}::bigint[]) AS gold(id)
    RETURNING assignment_id
"""


# --- Submit -------------------------------------------------------------------------------------------------------

# Count one more submit on the task; its counts after it.
COUNT_TASK = """
    UPDATE {task} SET submitted_count = submitted_count + 1 WHERE id = {task_id}
    RETURNING submitted_count, overlap_target
"""

# Move one of the worker's open assignments on the job to submitted, and add its gold answers; the counts after it.
COUNT_PARTICIPATION = """
    UPDATE {participation} SET open_assignments = open_assignments - 1,
        submitted_assignments = submitted_assignments + 1,
        gold_answered = gold_answered + {gold_answered}, gold_correct = gold_correct + {gold_correct}
    WHERE job_id = {job} AND worker_id = {worker} {after_task}
    RETURNING gold_answered, gold_correct
"""

# PostgreSQL stores and counts the submission in one round trip. The participation's UPDATE first needs the task's
# result (`AFTER_COUNTED_TASK`), so the task row is locked before the participation row: the engine's lock order.
# The answers' INSERT and the assignment's UPDATE, which the SELECT does not read, run after it (the assignment is
# locked already).
STORE_AND_COUNT = """
    WITH counted_task AS ({task}), counted_participation AS ({participation}),
        stored_answers AS ({answers}), stored_submission AS ({submission})
    SELECT t.submitted_count, t.overlap_target, p.gold_answered, p.gold_correct
    FROM counted_task t, counted_participation p
"""
AFTER_COUNTED_TASK = "AND EXISTS (SELECT 1 FROM counted_task)"


class SubmitCounts(NamedTuple):
    """The task's and the participation's counts as they are after a submit."""

    submitted: int
    target: int
    gold_answered: int
    gold_correct: int

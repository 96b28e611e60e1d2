"""Submits: a worker's answers to every item of an assignment stored and the gold among them graded; the task and the
worker's participation counted; quality, aggregation and webhooks told after commit.

Invariants, each also held by the database: a worker answers an item at most once (`answer_one_per_item_and_worker`);
gold answers never count toward a task's overlap or the job's completion. Locks, in the engine's order: the
assignment, then its task, then the participation, then (on completion) the job.
"""

import functools
import hashlib
import json
import random
from functools import partial
from typing import Any

from django.db import connection, transaction
from django.db.models import IntegerField
from django.utils import timezone

from marketplace import selectors
from marketplace.accounts.models import User
from marketplace.errors import (
    AlreadySubmitted,
    DailyCapReached,
    InvalidAnswers,
    MarketplaceError,
    NotEligible,
    NotFound,
    NoWorkAvailable,
    TooManyOpenAssignments,
)
from marketplace.models import Answer, Assignment, AssignmentStatus, Item, Job
from marketplace.prepared import Param, PreparedQuery, PreparedUpdate, insert, insert_statement
from marketplace.schemas import SchemaValueError, parse_label_schema
from marketplace.services import assignment_sql as sql
from marketplace.services.aggregation import aggregation_enqueue, aggregation_note_answers
from marketplace.services.assignment_claims import assignment_claim
from marketplace.services.assignment_own import GRADING_COLUMNS, closed, lock_own
from marketplace.services.assignment_release import close
from marketplace.services.commit import after_commit
from marketplace.services.jobs import job_complete_if_done
from marketplace.services.quality import quality_after_submit
from marketplace.services.webhooks import webhook_assignment_data, webhook_emit
from workers.services import worker_record_gold


def assignment_submit(*, assignment_id: int, worker: User, answers: list[dict[str, Any]]) -> Assignment:
    """Store the worker's answers to every item of the assignment and grade the gold ones.

    Idempotent: the same answers submitted again return the stored result and write nothing; different answers
    to a submitted assignment are refused (`AlreadySubmitted`). A submit after the deadline expires the assignment
    (committed) and is refused (`AssignmentClosed`); a submit that fails validation changes nothing.
    """
    with transaction.atomic(durable=True):
        assignment = lock_own(assignment_id, worker, with_items=True)
        overdue = assignment.status == AssignmentStatus.OPEN and assignment.expires_at <= timezone.now()
        if overdue:
            close(assignment, AssignmentStatus.EXPIRED)  # committed below, then refused
        elif assignment.status in (AssignmentStatus.EXPIRED, AssignmentStatus.RELEASED):
            raise closed(assignment)
        else:
            values = _clean_answers(assignment, answers)
            digest = _digest(values)
            if assignment.status == AssignmentStatus.SUBMITTED:
                if assignment.submission_digest != digest:
                    raise AlreadySubmitted()
                return assignment
            _record(assignment, values, digest)
    if overdue:
        raise closed(assignment)
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
    except (NoWorkAvailable, NotEligible, NotFound, DailyCapReached) as refusal:
        return submitted, None, refusal


def _clean_answers(assignment: Assignment, answers: list[dict[str, Any]]) -> dict[int, Any]:
    """Validate one answer per position against the job's label schema; `{position: value}` or `InvalidAnswers`."""
    schema = parse_label_schema(assignment.job.label_schema)
    n_items, values, seen, errors = len(assignment.item_ids), {}, set(), []
    items: list[dict[str, Any] | None] = list(_item_contexts(assignment)) if schema.needs_item else [None] * n_items
    for answer in answers:
        position = answer["position"]
        if not 0 <= position < n_items:
            errors.append({"position": position, "field": "position", "message": f"No item at position {position}."})
        elif position in seen:
            errors.append({"position": position, "field": "position", "message": "Answered twice."})
        else:
            seen.add(position)
            try:
                values[position] = schema.clean_answer(answer.get("answer"), item=items[position])
            except SchemaValueError as exc:
                errors.append({"position": position, "field": "answer", "message": str(exc)})
    errors += [
        {"position": p, "field": "answer", "message": "Missing answer."} for p in range(n_items) if p not in seen
    ]
    if errors:
        raise InvalidAnswers(errors=sorted(errors, key=lambda e: e["position"]))
    return values


def _item_contexts(assignment: Assignment) -> list[dict[str, Any]]:
    """The assignment's items in order, as a type whose answers depend on them reads them (media described). The
    rows read are kept for the grading (`graded_items`), so a submit reads them once."""
    rows = getattr(assignment, "graded_items", None)
    if rows is None:
        ids = assignment.item_ids
        rows = _items_by_id(len(ids)).rows(**{f"item{k}": i for k, i in enumerate(ids)})
        assignment.graded_items = rows  # type: ignore[attr-defined]
    payloads = {row[0]: row[3] for row in rows}
    return selectors.item_contexts(job=assignment.job, payloads=[payloads[i] for i in assignment.item_ids])


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
    counts = _store_submission(assignment, answers)
    if assignment.gold_total or assignment.is_fast:
        # The job's gold counters are the worker's gold record unless some gold key of the job is flagged (flagged
        # keys do not count): then the quality check reads the record itself.
        # job_has_flagged_gold and has_webhooks: extra columns of the locked read (assignment_own.lock_own).
        flagged = assignment.job_has_flagged_gold  # type: ignore[attr-defined]
        record = None if flagged else (counts.gold_correct, counts.gold_answered)
        missed = [answer.item_id for answer in gold if not answer.is_correct]
        after_commit(quality_after_submit, assignment=assignment, missed_gold=missed, record=record)
    after_commit(aggregation_note_answers, job_id=assignment.job_id, count=len(values) - len(gold))
    if assignment.has_webhooks:  # type: ignore[attr-defined]
        data = partial(webhook_assignment_data, assignment)
        webhook_emit(job=assignment.job_id, event="assignment.submitted", data=data)
    if counts.submitted >= counts.target:
        _task_finished(assignment.job)


_SUBMISSION_FIELDS = [
    *("status", "submitted_at", "auto_approve_at", "submission_digest"),
    *("gold_total", "gold_correct", "is_fast"),
]
_SAVE_SUBMISSION = PreparedUpdate(
    lambda: (
        Assignment.objects.filter(pk=Param("assignment", IntegerField())),
        # Plain columns, never a relation: get_field is typed as returning either.
        {name: Param(name, Assignment._meta.get_field(name)) for name in _SUBMISSION_FIELDS},  # type: ignore[arg-type]
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
    # Handed to the response, not model fields.
    assignment.payloads = [items[item_id][2] for item_id in assignment.item_ids]  # type: ignore[attr-defined]
    assignment.answer_values = dict(values)  # type: ignore[attr-defined]
    return answers


@functools.lru_cache(maxsize=64)
def _items_by_id(n: int) -> PreparedQuery[Item]:
    """The grading columns of `n` items, by id (parameters item0 ... item{n-1}); prepared per assignment length."""
    ids = [Param(f"item{k}", IntegerField()) for k in range(n)]
    return PreparedQuery(lambda: Item.objects.filter(pk__in=ids).order_by().values_list(*GRADING_COLUMNS))


def _store_submission(assignment: Assignment, answers: list[Answer]) -> sql.SubmitCounts:
    """Store the answers and the assignment's submission fields, and count the submit on its task and on the
    worker's participation (UPDATE ... RETURNING, under the row locks): the counts as they are after it."""
    tables = sql.tables()
    submission = sql.Sql(*_SAVE_SUBMISSION.statement(
        **{name: getattr(assignment, name) for name in _SUBMISSION_FIELDS}, assignment=assignment.pk
    ))  # fmt: skip
    count_task = sql.compose(sql.COUNT_TASK, task_id=sql.param(assignment.task_id), **tables)
    counts = {
        "gold_answered": sql.param(assignment.gold_total),
        "gold_correct": sql.param(assignment.gold_correct),
        "job": sql.param(assignment.job_id),
        "worker": sql.param(assignment.worker_id),
    }
    if connection.vendor == "postgresql":
        count_participation = sql.compose(
            sql.COUNT_PARTICIPATION, after_task=sql.AFTER_COUNTED_TASK, **counts, **tables
        )
        statement = sql.compose(
            sql.STORE_AND_COUNT, task=count_task, participation=count_participation,
            answers=sql.Sql(*insert_statement(answers)), submission=submission,
        )  # fmt: skip
        return sql.SubmitCounts._make(sql.run(statement)[0])
    insert(answers)
    sql.run_count(submission)
    submitted, target = sql.run(count_task)[0]
    answered, right = sql.run(sql.compose(sql.COUNT_PARTICIPATION, after_task="", **counts, **tables))[0]
    return sql.SubmitCounts(submitted, target, answered, right)


def _task_finished(job: Job) -> None:
    """A fixed-overlap job completes when its last task does, then aggregates once more. An adaptive job asks the
    aggregation instead: it may still raise the overlap of uncertain tasks, and completes the job when none is. A
    continuous job aggregates as each task finishes: its requester waits for the settled items (`job.items_settled`)
    of each batch, not for the end of a job that stays open."""
    if job.overlap_min < job.overlap_max or job.continuous or job_complete_if_done(job=job):
        aggregation_enqueue(job_id=job.pk)

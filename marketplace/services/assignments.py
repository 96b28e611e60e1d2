"""The assignment engine: workers claim micro-tasks (with hidden gold), submit answers, release or let them expire.

Invariants, each also held by the database:
- a task never has more open + submitted assignments than its overlap target (`MicroTask.assigned_count`, checked
  by `task_never_over_assigned`);
- a worker gets a task at most once (`assignment_one_per_task_and_worker`) and a gold item at most once
  (`gold_seen_once_per_worker`), and answers an item at most once (`answer_one_per_item_and_worker`);
- gold answers never count toward a task's overlap or the job's completion: only assignments count, per task.

Locks, always in this order, so no two of these transactions wait on each other in a cycle:
- claim: the worker's `Participation` row (serialises that worker's claims on the job), then one task taken with
  `FOR UPDATE SKIP LOCKED` (so concurrent claimers never wait on each other);
- submit, release, expiry: the assignment, then its task, then the participation, then (on completion) the job.
"""

import hashlib
import json
import math
import random
from datetime import datetime
from functools import partial
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone

from marketplace.accounts.models import User
from marketplace.errors import (
    AlreadySubmitted,
    AssignmentClosed,
    InvalidAnswers,
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
from marketplace.schemas import SchemaValueError, parse_label_schema
from marketplace.services.aggregation import aggregation_enqueue, aggregation_note_answers
from marketplace.services.eligibility import ensure_can_work
from marketplace.services.jobs import job_complete_if_done
from workers.services import worker_record_gold

LAZY_EXPIRY_LIMIT = 50
_random = random.SystemRandom()


# --- Claim ------------------------------------------------------------------------------------------------------


def assignment_claim(*, job: Job, worker: User, rng: random.Random | None = None) -> Assignment:
    """Give `worker` the next micro-task of `job` with gold items mixed in at random positions.

    Overdue assignments of the job are expired first (in their own transaction), so a stopped beat never starves
    the job. Raises `NotEligible`, `TooManyOpenAssignments` or `NoWorkAvailable`; never over-assigns a task.
    """
    assignment_expire_overdue(job_id=job.pk, limit=LAZY_EXPIRY_LIMIT)
    rng = rng or _random
    with transaction.atomic(durable=True):
        ensure_can_work(job=job, worker=worker)
        participation = _lock_participation(job, worker)
        if participation.open_assignments >= job.max_open_assignments:
            raise TooManyOpenAssignments(max_open_assignments=job.max_open_assignments)
        task = _next_free_task(job, worker)
        if task is None:
            raise NoWorkAvailable()
        gold_ids = _draw_gold(job, worker, _gold_count(job, task.n_items, rng))
        assignment = Assignment.objects.create(
            job=job,
            task=task,
            worker=worker,
            item_ids=_mix(_task_item_ids(task), gold_ids, rng),
            expires_at=_expiry(job),
        )
        GoldExposure.objects.bulk_create(
            GoldExposure(worker=worker, item_id=item_id, job=job, assignment=assignment) for item_id in gold_ids
        )
        MicroTask.objects.filter(pk=task.pk).update(assigned_count=F("assigned_count") + 1)
        Participation.objects.filter(pk=participation.pk).update(open_assignments=F("open_assignments") + 1)
    return assignment


def _lock_participation(job: Job, worker: User) -> Participation:
    locked = Participation.objects.select_for_update().filter(job=job, worker=worker).first()
    if locked is not None:
        return locked
    try:
        with transaction.atomic():
            Participation.objects.create(job=job, worker=worker)
    except IntegrityError:
        pass  # a concurrent first claim of the same worker created it
    return Participation.objects.select_for_update().get(job=job, worker=worker)


def _next_free_task(job: Job, worker: User) -> MicroTask | None:
    """The lowest-numbered task with a free slot that this worker never had; rows other claimers hold are skipped.

    Served by the partial index `task_with_free_slot_idx`: full tasks are never scanned.
    """
    already_had = Assignment.objects.filter(task=OuterRef("pk"), worker=worker)
    return (
        MicroTask.objects.select_for_update(skip_locked=True)
        .filter(job=job, assigned_count__lt=F("overlap_target"))
        .exclude(Exists(already_had))
        .order_by("number")
        .only("id", "n_items")
        .first()
    )


def _task_item_ids(task: MicroTask) -> list[int]:
    return list(Item.objects.filter(task=task).order_by("position").values_list("id", flat=True))


def _gold_count(job: Job, n_items: int, rng: random.Random) -> int:
    """Gold items to add so that gold makes up `gold_ratio` of the assignment on average.

    g / (n + g) = r gives g = n r / (1 - r); the fractional part is drawn at random, so the ratio holds in
    expectation and workers cannot count on a fixed number of gold items.
    """
    ratio = float(job.gold_ratio)
    if ratio <= 0:
        return 0
    expected = n_items * ratio / (1 - ratio)
    whole = math.floor(expected)
    return whole + (1 if rng.random() < expected - whole else 0)


def _draw_gold(job: Job, worker: User, count: int) -> list[int]:
    if count == 0:
        return []
    seen = GoldExposure.objects.filter(worker=worker, item=OuterRef("pk"))
    unseen = Item.objects.filter(job=job, is_gold=True, gold_flagged_at__isnull=True).exclude(Exists(seen))
    return list(unseen.order_by("?").values_list("id", flat=True)[:count])


def _mix(item_ids: list[int], gold_ids: list[int], rng: random.Random) -> list[int]:
    """Insert each gold item at a random position; the task's own items keep their order."""
    mixed = list(item_ids)
    for gold_id in gold_ids:
        mixed.insert(rng.randint(0, len(mixed)), gold_id)
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
        assignment = _lock_own(assignment_id, worker)
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


def _lock_own(assignment_id: int, worker: User) -> Assignment:
    assignment = (
        Assignment.objects.select_for_update(of=("self",))
        .select_related("job")
        .filter(pk=assignment_id, worker=worker)
        .first()
    )
    if assignment is None:
        raise NotFound("No such assignment.")
    return assignment


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
    items = Item.objects.in_bulk(assignment.item_ids)
    schema = parse_label_schema(assignment.job.label_schema)
    answers = []
    for position, item_id in enumerate(assignment.item_ids):
        item, value = items[item_id], values[position]
        correct = schema.is_correct(value, item.gold_answer) if item.is_gold else None
        answers.append(
            Answer(
                assignment=assignment,
                item=item,
                worker_id=assignment.worker_id,
                job_id=assignment.job_id,
                value=value,
                is_gold=item.is_gold,
                is_correct=correct,
            )
        )
    Answer.objects.bulk_create(answers)
    gold = [a for a in answers if a.is_gold]
    assignment.gold_total, assignment.gold_correct = len(gold), sum(bool(a.is_correct) for a in gold)
    assignment.status, assignment.submitted_at = AssignmentStatus.SUBMITTED, timezone.now()
    assignment.submission_digest = digest
    floor = assignment.job.min_seconds_per_item * len(assignment.item_ids)
    assignment.is_fast = (assignment.submitted_at - assignment.created_at).total_seconds() < floor
    assignment.save(
        update_fields=["status", "submitted_at", "submission_digest", "gold_total", "gold_correct", "is_fast"]
    )
    worker_record_gold(worker_id=assignment.worker_id, answered=assignment.gold_total, correct=assignment.gold_correct)
    if assignment.gold_total or assignment.is_fast:
        from marketplace.services.quality import quality_after_submit  # noqa: PLC0415 -- quality imports this

        transaction.on_commit(partial(quality_after_submit, assignment_id=assignment.pk))
    task = MicroTask.objects.select_for_update().get(pk=assignment.task_id)
    task.submitted_count += 1
    task.save(update_fields=["submitted_count"])
    Participation.objects.filter(job_id=assignment.job_id, worker_id=assignment.worker_id).update(
        open_assignments=F("open_assignments") - 1,
        submitted_assignments=F("submitted_assignments") + 1,
        gold_answered=F("gold_answered") + assignment.gold_total,
        gold_correct=F("gold_correct") + assignment.gold_correct,
    )
    transaction.on_commit(partial(aggregation_note_answers, job_id=assignment.job_id, count=len(values) - len(gold)))
    if task.submitted_count >= task.overlap_target:
        _task_finished(assignment.job)


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

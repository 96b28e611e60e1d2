"""Taking a qualification test: start an attempt (questions drawn at random), submit once, graded at once.

Rules (the retake rule itself is `selectors.standing_of`, shared with what the worker list shows):
- one attempt in progress per worker and qualification (the partial unique index `attempt_one_open`); starting
  again while one is in progress returns it;
- the score is the share of right answers; the attempt passes when score >= pass mark, compared exactly
  (right answers >= pass mark x questions, in decimals), so 7 of 10 passes a mark of 0.7;
- a submit after the deadline expires the attempt (committed; it counts as an attempt) and is refused;
- the same answers submitted again return the stored result; different ones are refused.

Locks: the worker's latest attempt on the qualification, FOR UPDATE, both on start and on submit (then, on a
pass, the worker's unrevoked grant: see `services.grants`). So a start waits for a grading in progress and then
reads the standing that grading left, never a stale one.
"""

import random
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from qualification.errors import (
    AlreadyQualified,
    AlreadySubmitted,
    AttemptClosed,
    AttemptLimitReached,
    InvalidAnswers,
    NotEligible,
    NotFound,
    QualificationInactive,
    QualificationRevoked,
    RetakeCooldown,
)
from qualification.labels import LabelSchema, SchemaValueError, parse_label_schema
from qualification.models import Attempt, Qualification, Question
from qualification.selectors import Standing, work_qualification_standing
from qualification.services.grants import grant_for_attempt

_random = random.SystemRandom()


# --- Start ---------------------------------------------------------------------------------------------------------


def attempt_start(
    *, qualification_id: int, worker: AbstractBaseUser, rng: random.Random | None = None
) -> tuple[Attempt, bool]:
    """Start an attempt at the test and return `(attempt, created)`.

    Draws `questions_per_attempt` questions at random from the pool, in random order. While an attempt is in
    progress, starting again returns it (`created` False). An overdue one is expired first (it counts). Refused,
    in this order: `NotFound`; `NotEligible` (no worker role, own qualification); `QualificationInactive`;
    `AlreadyQualified`; `QualificationRevoked`; `AttemptLimitReached`; `RetakeCooldown` (with `retake_allowed_at`).
    """
    with transaction.atomic(durable=True):
        qualification = _takeable(qualification_id, worker)
        last = (
            Attempt.objects.select_for_update()
            .filter(qualification=qualification, worker=worker)
            .order_by("-id")
            .first()
        )
        if last is not None and last.status == Attempt.Status.STARTED:
            if last.deadline > timezone.now():
                return last, False
            _expire(last)
        _ensure_may_start(work_qualification_standing(qualification=qualification, worker=worker))
        return _create(qualification, worker, rng or _random)


def _takeable(qualification_id: int, worker: AbstractBaseUser) -> Qualification:
    qualification = Qualification.objects.filter(pk=qualification_id).first()
    if qualification is None:
        raise NotFound("No such qualification.")
    if not getattr(worker, "is_worker", False):
        raise NotEligible("Take up the worker role first.", reason="not_a_worker")
    if qualification.owner_id == worker.pk:
        raise NotEligible("You cannot take your own qualification's test.", reason="own_qualification")
    if not qualification.is_active:
        raise QualificationInactive()
    return qualification


def _ensure_may_start(standing: Standing) -> None:
    if standing.blocked_by == "already_qualified":
        raise AlreadyQualified(score=standing.grant_score, expires_at=standing.grant_expires_at)
    if standing.blocked_by == "qualification_revoked":
        raise QualificationRevoked()
    if standing.blocked_by == "attempt_limit_reached":
        raise AttemptLimitReached(attempts_used=standing.attempts_used, attempts_left=0)
    if standing.blocked_by == "retake_cooldown":
        assert standing.retake_allowed_at is not None
        raise RetakeCooldown(
            f"You can retake this test from {standing.retake_allowed_at.isoformat()}.",
            retake_allowed_at=standing.retake_allowed_at,
        )


def _create(qualification: Qualification, worker: AbstractBaseUser, rng: random.Random) -> tuple[Attempt, bool]:
    pool = list(Question.objects.filter(qualification=qualification).order_by("id").values_list("id", flat=True))
    attempt = Attempt(
        qualification=qualification,
        worker=worker,
        question_ids=rng.sample(pool, min(qualification.questions_per_attempt, len(pool))),
        deadline=timezone.now() + qualification.time_limit,
    )
    # `attempt_one_open` is checked by the database: of two first starts racing, one inserts.
    attempt.full_clean(validate_constraints=False)
    try:
        with transaction.atomic():
            attempt.save()
    except IntegrityError:
        winner = Attempt.objects.get(qualification=qualification, worker=worker, status=Attempt.Status.STARTED)
        return winner, False
    return attempt, True


# --- Submit --------------------------------------------------------------------------------------------------------


def attempt_submit(*, attempt_id: int, worker: AbstractBaseUser, answers: list[dict[str, Any]]) -> Attempt:
    """Grade the worker's answers (one per position) and, on a pass, grant the qualification.

    Idempotent: the same answers again return the stored result and write nothing; different answers to a graded
    attempt are refused (`AlreadySubmitted`). After the deadline the attempt is expired (committed) and the submit
    refused (`AttemptClosed`). Invalid answers (`InvalidAnswers`, naming each position) change nothing.
    """
    with transaction.atomic(durable=True):
        attempt = _lock_own(attempt_id, worker)
        overdue = attempt.status == Attempt.Status.STARTED and attempt.deadline <= timezone.now()
        if overdue:
            _expire(attempt)  # committed below, then refused
        elif attempt.status == Attempt.Status.EXPIRED:
            raise _closed(attempt)
        else:
            schema = parse_label_schema(attempt.qualification.label_schema)
            values = _clean_answers(schema, len(attempt.question_ids), answers)
            if attempt.status == Attempt.Status.GRADED:
                if attempt.answers != values:
                    raise AlreadySubmitted()
                return attempt
            _grade(attempt, schema, values)
    if overdue:
        raise _closed(attempt)
    return attempt


def _lock_own(attempt_id: int, worker: AbstractBaseUser) -> Attempt:
    attempt = (
        Attempt.objects.select_for_update(of=("self",))
        .select_related("qualification")
        .filter(pk=attempt_id, worker=worker)
        .first()
    )
    if attempt is None:
        raise NotFound("No such attempt.")
    return attempt


def _closed(attempt: Attempt) -> AttemptClosed:
    return AttemptClosed(
        f"This attempt is {attempt.status}: its time limit passed.", status=attempt.status, deadline=attempt.deadline
    )


def _clean_answers(schema: LabelSchema, n_questions: int, answers: list[dict[str, Any]]) -> list[Any]:
    """One valid answer per position 0..n-1, as a list by position; or `InvalidAnswers` naming the positions."""
    values: dict[int, Any] = {}
    errors = []
    for answer in answers:
        position = answer["position"]
        if not 0 <= position < n_questions:
            errors.append({"position": position, "field": "position", "message": f"No question at {position}."})
        elif position in values:
            errors.append({"position": position, "field": "position", "message": "Answered twice."})
        else:
            try:
                values[position] = schema.clean_answer(answer.get("answer"))
            except SchemaValueError as exc:
                values[position] = None
                errors.append({"position": position, "field": "answer", "message": str(exc)})
    errors += [
        {"position": p, "field": "answer", "message": "Missing answer."} for p in range(n_questions) if p not in values
    ]
    if errors:
        raise InvalidAnswers(errors=sorted(errors, key=lambda e: e["position"]))
    return [values[p] for p in range(n_questions)]


def _grade(attempt: Attempt, schema: LabelSchema, values: list[Any]) -> None:
    keys = Question.objects.in_bulk(attempt.question_ids)
    right = sum(
        schema.is_correct(value, keys[question_id].answer_key)
        for value, question_id in zip(values, attempt.question_ids, strict=True)
    )
    n_questions = len(values)
    attempt.answers = values
    attempt.score = right / n_questions
    attempt.passed = Decimal(right) >= attempt.qualification.pass_mark * n_questions
    attempt.status, attempt.graded_at = Attempt.Status.GRADED, timezone.now()
    attempt.save(update_fields=["answers", "score", "passed", "status", "graded_at"])
    if attempt.passed:
        grant_for_attempt(attempt=attempt)


# --- Expiry --------------------------------------------------------------------------------------------------------


def _expire(attempt: Attempt) -> None:
    attempt.status = Attempt.Status.EXPIRED
    attempt.save(update_fields=["status"])


def attempt_expire_overdue(*, limit: int = 1000) -> int:
    """Expire up to `limit` attempts past their deadline. Returns how many.

    Rows another transaction holds (a submit or start in progress) are skipped: that transaction decides their fate.
    """
    with transaction.atomic():
        overdue = Attempt.objects.select_for_update(skip_locked=True).filter(
            status=Attempt.Status.STARTED, deadline__lte=timezone.now()
        )
        batch = list(overdue.order_by("deadline")[:limit])
        for attempt in batch:
            _expire(attempt)
    return len(batch)

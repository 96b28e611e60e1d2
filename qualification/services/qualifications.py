"""Defining qualifications: the test settings, its label schema, and a pool of questions with answer keys.

Every answer key is validated against the label schema before anything is written, so a definition or an addition
of questions is all or nothing, and a question with a key that could never be answered right is never stored.
"""

from collections.abc import Mapping, Sequence
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction

from qualification.errors import Forbidden, InvalidQuestions
from qualification.labels import ItemValueError, LabelSchema, SchemaValueError, parse_label_schema
from qualification.models import Qualification, Question
from qualification.selectors import can_manage

MAX_REPORTED_ERRORS = 50

# What an owner may change once a qualification exists. The test's rules (schema, pass mark, draw size, limits)
# stay as workers were shown them: change those by defining a new qualification.
UPDATABLE_FIELDS = frozenset({"description", "is_active", "is_public"})


def ensure_can_manage(*, qualification: Qualification, user: AbstractBaseUser) -> None:
    if not can_manage(qualification=qualification, user=user):
        raise Forbidden()


@transaction.atomic(durable=True)
def qualification_create(
    *,
    owner: AbstractBaseUser,
    name: str,
    label_schema: Any,
    questions: Sequence[Mapping[str, Any]],
    **fields: Any,
) -> Qualification:
    """Define a qualification and its question pool in one go; nothing is kept if any part is invalid.

    `fields` are the optional settings of `Qualification` (description, pass_mark, questions_per_attempt,
    time_limit, retake_cooldown, max_attempts, valid_for, is_public). Requesters and staff may define one.
    Raises `InvalidQuestions` (naming each bad question's index) or `ValidationError`.
    """
    if not (getattr(owner, "is_requester", False) or owner.is_staff):
        raise Forbidden("Only requesters can define qualifications; enable the requester role first.")
    schema = parse_label_schema(label_schema)
    qualification = Qualification(owner=owner, name=name, label_schema=schema.as_dict(), **fields)
    pool = _clean_questions(schema, questions)
    if qualification.questions_per_attempt > len(pool):
        raise ValidationError(
            {"questions_per_attempt": f"Must be at most the number of questions in the pool ({len(pool)})."}
        )
    qualification.full_clean()
    qualification.save()
    _store(qualification, pool)
    return qualification


@transaction.atomic(durable=True)
def question_add(
    *, qualification: Qualification, questions: Sequence[Mapping[str, Any]], by: AbstractBaseUser
) -> list[Question]:
    """Add questions to the pool (owner or staff): all or nothing, each key validated against the label schema.

    Attempts in progress keep the questions they drew; later attempts draw from the larger pool.
    """
    ensure_can_manage(qualification=qualification, user=by)
    pool = _clean_questions(parse_label_schema(qualification.label_schema), questions)
    return _store(qualification, pool)


@transaction.atomic(durable=True)
def qualification_update(*, qualification: Qualification, by: AbstractBaseUser, **fields: Any) -> Qualification:
    """Change the description, or open/close the test (`is_active`) or share it (`is_public`): owner or staff.

    Closing the test refuses new attempts; attempts in progress may still be submitted and grants stay valid.
    """
    ensure_can_manage(qualification=qualification, user=by)
    unknown = set(fields) - UPDATABLE_FIELDS
    if unknown:
        raise ValidationError(dict.fromkeys(sorted(unknown), "This field cannot be changed."))
    for field, value in fields.items():
        setattr(qualification, field, value)
    qualification.full_clean()
    qualification.save(update_fields=list(fields))
    return qualification


def _clean_questions(schema: LabelSchema, questions: Sequence[Mapping[str, Any]]) -> list[tuple[dict, Any]]:
    """`[(payload, answer_key)]`, or `InvalidQuestions` listing every bad question by its index in the request."""
    if not questions:
        raise InvalidQuestions("At least one question is needed.", errors=[])
    pool, errors = [], []
    for index, question in enumerate(questions):
        payload = question.get("payload")
        if not isinstance(payload, dict) or not payload:
            errors.append({"index": index, "field": "payload", "message": "Must be a non-empty object."})
            continue
        try:
            schema.check_item(payload)  # what the answer type reads from an item (a pairwise question's two sides)
        except ItemValueError as exc:
            errors.append({"index": index, "field": f"payload.{exc.field}", "message": str(exc)})
            continue
        try:
            pool.append((payload, schema.clean_answer(question.get("answer"))))
        except SchemaValueError as exc:
            errors.append({"index": index, "field": "answer", "message": str(exc)})
    if errors:
        first = errors[0]
        raise InvalidQuestions(
            f"Question {first['index']}: {first['message']} No question was saved.",
            errors=errors[:MAX_REPORTED_ERRORS],
            error_count=len(errors),
        )
    return pool


def _store(qualification: Qualification, pool: list[tuple[dict, Any]]) -> list[Question]:
    questions = [Question(qualification=qualification, payload=payload, answer_key=key) for payload, key in pool]
    return Question.objects.bulk_create(questions)

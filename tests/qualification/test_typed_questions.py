"""Qualification tests whose questions are of the engine's other answer types, graded by the type's own measure
(written by helper T19 on branch h/t19, held here against the label schemas that jobs and tests share)."""

from decimal import Decimal

import pytest

from qualification.errors import InvalidAnswers, InvalidQuestions
from qualification.models import Grant, Question
from qualification.services.attempts import attempt_start, attempt_submit
from qualification.services.qualifications import qualification_create
from tests.factories import RequesterFactory, WorkerFactory

pytestmark = pytest.mark.django_db

RATING = {"type": "number", "min": 1, "max": 5, "step": 1}
TOPICS = {"type": "multi_choice", "choices": ["news", "sport", "tech"], "pass_threshold": 0.5}


def _define(schema, questions):
    return qualification_create(
        owner=RequesterFactory(),
        name="Typed",
        label_schema=schema,
        questions=questions,
        questions_per_attempt=len(questions),
        pass_mark=Decimal("1"),
    )


def _keys(attempt):
    keys = Question.objects.in_bulk(attempt.question_ids)
    return [keys[question_id].answer_key for question_id in attempt.question_ids]


def test_a_rating_qualification_grades_answers_within_half_a_step_and_grants_on_a_pass():
    qualification = _define(RATING, [{"payload": {"text": f"t{i}"}, "answer": 1 + i} for i in range(3)])
    worker = WorkerFactory()
    attempt, _ = attempt_start(qualification_id=qualification.pk, worker=worker)
    graded = attempt_submit(
        attempt_id=attempt.pk,
        worker=worker,
        answers=[{"position": p, "answer": k} for p, k in enumerate(_keys(attempt))],
    )
    assert graded.score == 1
    assert Grant.objects.filter(qualification=qualification, worker=worker).exists()


def test_a_multi_choice_qualification_passes_a_set_overlapping_the_key_enough_and_fails_a_disjoint_one():
    questions = [
        {"payload": {"text": "a"}, "answer": ["news", "sport"]},
        {"payload": {"text": "b"}, "answer": ["tech"]},
    ]
    qualification = _define(TOPICS, questions)
    worker = WorkerFactory()
    attempt, _ = attempt_start(qualification_id=qualification.pk, worker=worker)
    keys = _keys(attempt)
    close = [k[:1] if len(k) == 2 else ["news"] for k in keys]  # Jaccard 0.5 on the pair; 0 on the single
    graded = attempt_submit(
        attempt_id=attempt.pk, worker=worker, answers=[{"position": p, "answer": a} for p, a in enumerate(close)]
    )
    assert graded.score == Decimal("0.5")
    assert not Grant.objects.filter(qualification=qualification, worker=worker).exists()


def test_a_wrong_shaped_answer_or_key_is_refused_naming_its_position_or_index_and_what_was_expected():
    with pytest.raises(InvalidQuestions) as refused:
        _define(RATING, [{"payload": {"text": "a"}, "answer": 3}, {"payload": {"text": "b"}, "answer": 9}])
    expected = "expected a number <= 5, got 9"
    assert refused.value.extra["errors"] == [{"index": 1, "field": "answer", "message": expected}]
    qualification = _define(RATING, [{"payload": {"text": "a"}, "answer": 3}])
    worker = WorkerFactory()
    attempt, _ = attempt_start(qualification_id=qualification.pk, worker=worker)
    with pytest.raises(InvalidAnswers) as bad:
        attempt_submit(attempt_id=attempt.pk, worker=worker, answers=[{"position": 0, "answer": "three"}])
    assert bad.value.extra["errors"] == [{"position": 0, "field": "answer", "message": "expected a finite number"}]


PAIRS = {"type": "pairwise", "allow_tie": True}


def test_a_pairwise_qualification_grades_the_winning_side_and_a_tie_against_a_known_order_fails():
    questions = [
        {"payload": {"left": "a", "right": "b"}, "answer": "left"},
        {"payload": {"left": "c", "right": "d"}, "answer": "right"},
    ]
    qualification = _define(PAIRS, questions)
    worker, other = WorkerFactory(), WorkerFactory()
    attempt, _ = attempt_start(qualification_id=qualification.pk, worker=worker)
    graded = attempt_submit(
        attempt_id=attempt.pk,
        worker=worker,
        answers=[{"position": p, "answer": k} for p, k in enumerate(_keys(attempt))],
    )
    assert graded.score == 1
    assert Grant.objects.filter(qualification=qualification, worker=worker).exists()

    attempt, _ = attempt_start(qualification_id=qualification.pk, worker=other)
    graded = attempt_submit(
        attempt_id=attempt.pk, worker=other, answers=[{"position": p, "answer": "tie"} for p in range(2)]
    )
    assert graded.score == 0
    assert not Grant.objects.filter(qualification=qualification, worker=other).exists()


def test_a_pairwise_question_without_two_sides_or_with_a_wrong_shaped_key_is_refused_naming_its_index():
    questions = [
        {"payload": {"left": "a", "right": "b"}, "answer": "left"},
        {"payload": {"left": "a"}, "answer": "left"},
        {"payload": {"left": "a", "right": "b"}, "answer": "a"},
    ]
    with pytest.raises(InvalidQuestions) as refused:
        _define(PAIRS, questions)
    errors = refused.value.extra["errors"]
    assert [(e["index"], e["field"]) for e in errors] == [(1, "payload.right"), (2, "answer")]
    assert errors[1]["message"] == """expected "left" or "right", or "tie" (null) for a tie, got 'a'"""

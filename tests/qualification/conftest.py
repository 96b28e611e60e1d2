"""Builders and fixtures shared by the qualification tests."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from qualification.models import Attempt, Qualification, Question
from qualification.services.qualifications import qualification_create
from tests.factories import UserFactory

SCHEMA = {"type": "single_choice", "classes": ["cat", "dog", "bird"]}
WRONG = "bird"  # no question's key is "bird", so it is always a wrong answer


def questions(n: int) -> list[dict]:
    """`n` questions whose keys alternate cat, dog."""
    return [
        {"payload": {"image_url": f"https://example.com/q{i}.jpg"}, "answer": ("cat", "dog")[i % 2]} for i in range(n)
    ]


def make_qualification(owner, *, n_questions: int = 10, **fields) -> Qualification:
    settings = {
        "name": "Cats and dogs",
        "label_schema": SCHEMA,
        "questions_per_attempt": 5,
        "pass_mark": Decimal("0.8"),
        "retake_cooldown": timedelta(hours=24),
        "max_attempts": 3,
        "valid_for": timedelta(days=30),
        **fields,
    }
    return qualification_create(owner=owner, questions=questions(n_questions), **settings)


def answers(attempt: Attempt, *, right: int | None = None) -> list[dict]:
    """Answers to every position of the attempt, the first `right` of them right (all of them by default)."""
    keys = Question.objects.in_bulk(attempt.question_ids)
    right = len(attempt.question_ids) if right is None else right
    return [
        {"position": p, "answer": keys[qid].answer_key if p < right else WRONG}
        for p, qid in enumerate(attempt.question_ids)
    ]


def make_overdue(attempt: Attempt) -> None:
    Attempt.objects.filter(pk=attempt.pk).update(deadline=timezone.now() - timedelta(seconds=1))


def age(attempt: Attempt, by: timedelta) -> None:
    """Move the attempt back in time, as if started `by` ago."""
    Attempt.objects.filter(pk=attempt.pk).update(started_at=attempt.started_at - by, deadline=attempt.deadline - by)


@pytest.fixture
def qualification(requester) -> Qualification:
    return make_qualification(requester)


@pytest.fixture
def staff(db):
    return UserFactory(is_staff=True)


@pytest.fixture
def worker_api(api, worker):
    return api.as_user(worker)

"""A worker's qualification tests as pages: take one, see the result and when a retake is allowed."""

import json
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from qualification.models import Attempt, Grant, Question
from qualification.services.qualifications import qualification_create
from tests.factories import WorkerFactory
from tests.qualification.conftest import make_qualification

pytestmark = pytest.mark.django_db


@pytest.fixture
def qualification(requester):
    return make_qualification(requester, name="Cats and <i>dogs</i>")


@pytest.fixture
def worker_client(worker) -> Client:
    client = Client()
    client.force_login(worker)
    return client


def _start(client: Client, qualification) -> Attempt:
    client.post(reverse("web:worker:qualification-start", args=[qualification.pk]))
    return Attempt.objects.get(qualification=qualification)


def _form(attempt: Attempt, *, right: int) -> dict[str, str]:
    keys = Question.objects.in_bulk(attempt.question_ids)
    return {
        f"answer_{p}": keys[qid].answer_key if p < right else ("dog" if keys[qid].answer_key == "cat" else "cat")
        for p, qid in enumerate(attempt.question_ids)
    }


def test_a_worker_passes_the_test_and_is_qualified(worker_client, worker, qualification) -> None:
    attempt = _start(worker_client, qualification)
    page = worker_client.get(reverse("web:worker:attempt", args=[attempt.pk])).content.decode()
    assert page.count('<fieldset class="item"') == 5

    response = worker_client.post(reverse("web:worker:attempt-submit", args=[attempt.pk]), _form(attempt, right=5))

    attempt.refresh_from_db()
    assert response["Location"] == reverse("web:worker:qualifications")
    assert attempt.passed is True
    assert Grant.objects.filter(worker=worker, qualification=qualification).exists()
    listing = worker_client.get(response["Location"]).content.decode()
    assert "Passed: 100% correct" in listing and "Qualified (score 1.00)" in listing


def test_a_failed_attempt_shows_the_result_and_when_a_retake_is_allowed(worker_client, qualification) -> None:
    attempt = _start(worker_client, qualification)

    response = worker_client.post(
        reverse("web:worker:attempt-submit", args=[attempt.pk]), _form(attempt, right=1), follow=True
    )

    page = response.content.decode()
    assert "Not passed: 20% correct" in page
    assert "retake allowed from" in page and "2 left" in page
    assert "Take the test" not in page


def test_the_attempt_page_never_shows_the_answer_keys_and_escapes_names(worker_client, qualification) -> None:
    attempt = _start(worker_client, qualification)

    page = worker_client.get(reverse("web:worker:attempt", args=[attempt.pk])).content.decode()

    assert "answer_key" not in page
    assert "Cats and &lt;i&gt;dogs&lt;/i&gt;" in page


def test_a_worker_cannot_open_or_submit_another_workers_attempt(worker_client, qualification) -> None:
    other = Client()
    other.force_login(WorkerFactory())
    theirs = _start(other, qualification)

    assert worker_client.get(reverse("web:worker:attempt", args=[theirs.pk])).status_code == 404
    response = worker_client.post(reverse("web:worker:attempt-submit", args=[theirs.pk]), _form(theirs, right=5))
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == Attempt.Status.STARTED


def test_a_missing_answer_gets_the_test_again_with_a_400(worker_client, qualification) -> None:
    attempt = _start(worker_client, qualification)

    response = worker_client.post(reverse("web:worker:attempt-submit", args=[attempt.pk]), {"answer_0": "cat"})

    assert response.status_code == 400
    attempt.refresh_from_db()
    assert attempt.status == Attempt.Status.STARTED


@pytest.mark.parametrize("name", ["qualification-start", "attempt-submit"])
def test_the_test_forms_need_their_csrf_token(worker, qualification, name) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(worker)

    target = qualification.pk if name == "qualification-start" else 1
    response = client.post(reverse(f"web:worker:{name}", args=[target]), {})

    assert response.status_code == 403
    assert not Attempt.objects.exists()


def test_the_test_pages_query_counts_are_pinned(
    worker_client, requester, qualification, django_assert_num_queries
) -> None:
    make_qualification(requester, name="Another")
    attempt = _start(worker_client, qualification)

    # session, user, the tests with the worker's standing (one query however many)
    with django_assert_num_queries(3):
        worker_client.get(reverse("web:worker:qualifications"))
    # session, user, the attempt with its test, its questions
    with django_assert_num_queries(4):
        worker_client.get(reverse("web:worker:attempt", args=[attempt.pk]))


# A test of each structured answer type: the page draws the task page's widget for it, a right answer in the type's
# shape passes, and an answer of the wrong shape comes back as a 400 naming the question (never a 500).
TYPED = {
    "multi_choice": (
        {"type": "multi_choice", "choices": ["red", "green", "blue"]},
        {"caption": "A red and blue flag"},
        ["blue", "red"],
        lambda key: {"answer": key},
        {"answer": "purple"},
        "purple is not one of the available choices",
    ),
    "number": (
        {"type": "number", "min": 1, "max": 5, "step": 1},
        {"caption": "How many stars?"},
        4,
        lambda key: {"answer": str(key)},
        {"answer": "four"},
        "Enter a number.",
    ),
    "spans": (
        {"type": "spans", "text_field": "sentence", "labels": ["PER"]},
        {"sentence": "Ada met Bob"},
        [[0, 3, "PER"]],
        lambda key: {"answer": json.dumps(key)},
        {"answer": "[[0, 3]]"},
        "Question 1: ",
    ),
    "text": (
        {"type": "text"},
        {"caption": "Type the word shown"},
        "cat",
        lambda key: {"answer": key},
        {"answer": "x" * 10_001},
        "at most 10000 characters",
    ),
    "bbox": (
        {"type": "bbox", "labels": ["cat", "dog"], "image_field": "photo"},
        {"photo": "https://example.com/cat.png", "caption": "Box the cat"},
        [[10, 10, 20, 20, "cat"]],
        lambda key: {"answer": json.dumps(key)},
        {"answer": '[[10, 10, 20, "cat"]]'},
        "Question 1: ",
    ),
}


def _typed_qualification(requester, name: str):
    schema, payload, key, *_ = TYPED[name]
    return qualification_create(
        owner=requester,
        name=f"{name} test",
        label_schema=schema,
        questions=[{"payload": payload, "answer": key}] * 2,
        questions_per_attempt=2,
        pass_mark=Decimal("1"),
        retake_cooldown=timedelta(hours=24),
        max_attempts=3,
        valid_for=timedelta(days=30),
    )


@pytest.mark.parametrize("name", list(TYPED))
def test_a_test_of_each_answer_type_draws_its_widget_and_grades_answers_in_its_shape(
    worker_client, worker, requester, name
) -> None:
    qualification = _typed_qualification(requester, name)
    _, _, key, right, _, _ = TYPED[name]
    attempt = _start(worker_client, qualification)

    page = worker_client.get(reverse("web:worker:attempt", args=[attempt.pk])).content.decode()
    assert f'data-widget="{name}"' in page and f"web/widgets/{name}.js" in page
    assert "Question 2 of 2" in page
    if name == "bbox":  # the picture named by the test's image_field is drawn on, not listed as text
        assert page.count("https://example.com/cat.png") == 2 and '<img src="https://example.com/cat.png"' in page
    response = worker_client.post(
        reverse("web:worker:attempt-submit", args=[attempt.pk]),
        {f"answer_{p}": right(key)["answer"] for p in range(2)},
    )

    assert response.status_code == 302
    attempt.refresh_from_db()
    assert attempt.passed is True and attempt.score == 1
    assert Grant.objects.filter(worker=worker, qualification=qualification).exists()


@pytest.mark.parametrize("name", list(TYPED))
def test_a_wrong_shaped_answer_comes_back_with_an_error_naming_its_question(worker_client, requester, name) -> None:
    qualification = _typed_qualification(requester, name)
    _, _, key, right, wrong, message = TYPED[name]
    attempt = _start(worker_client, qualification)

    response = worker_client.post(
        reverse("web:worker:attempt-submit", args=[attempt.pk]),
        {"answer_0": wrong["answer"], "answer_1": right(key)["answer"]},
    )

    assert response.status_code == 400
    page = response.content.decode()
    errors = re.findall(r'<small class="error">([^<]*)</small>', page)
    assert len(errors) == 1 and errors[0].startswith("Question 1: ") and message in errors[0]
    attempt.refresh_from_db()
    assert attempt.status == Attempt.Status.STARTED

"""The worker API: listing tests with your standing, starting, reading and submitting attempts; nothing leaks."""

from datetime import timedelta

import pytest

from qualification.models import Attempt, Grant, Question
from tests.factories import WorkerFactory
from tests.qualification.conftest import age, answers, make_overdue, make_qualification

pytestmark = pytest.mark.django_db

LIST = "/api/v1/work/qualifications/"
ATTEMPT_FIELDS = {
    *("id", "qualification", "qualification_name", "status", "started_at", "deadline", "graded_at"),
    *("questions", "answers", "score", "passed", "grant"),
}


def start_url(qualification) -> str:
    return f"{LIST}{qualification.pk}/attempts/"


def attempt_url(attempt_id: int) -> str:
    return f"/api/v1/work/attempts/{attempt_id}/"


def all_keys(data) -> set[str]:
    """Every object key anywhere in a JSON document."""
    if isinstance(data, dict):
        return set(data) | {k for value in data.values() for k in all_keys(value)}
    if isinstance(data, list):
        return {k for value in data for k in all_keys(value)}
    return set()


def assert_no_keys_or_question_ids(body, attempt: Attempt) -> None:
    keys = all_keys(body)
    assert not keys & {"answer_key", "question_ids", "is_correct", "correct"}
    assert set(body) == ATTEMPT_FIELDS
    assert all(set(q) == {"position", "payload"} for q in body["questions"])
    shown = Question.objects.in_bulk(attempt.question_ids)
    assert [q["payload"] for q in body["questions"]] == [shown[i].payload for i in attempt.question_ids]


def test_a_worker_takes_a_test_through_the_api_and_passes(worker_api, worker, qualification):
    started = worker_api.post(start_url(qualification))
    attempt = Attempt.objects.get(pk=started.json()["id"])

    submitted = worker_api.post(f"{attempt_url(attempt.pk)}submit/", {"answers": answers(attempt)}, format="json")

    assert started.status_code == 201
    assert [q["position"] for q in started.json()["questions"]] == [0, 1, 2, 3, 4]
    assert started.json()["answers"] == []
    assert submitted.status_code == 200
    body = submitted.json()
    assert (body["status"], body["score"], body["passed"]) == ("graded", 1.0, True)
    assert body["grant"]["score"] == 1.0
    assert body["answers"] == [{"position": a["position"], "answer": a["answer"]} for a in answers(attempt)]
    assert Grant.objects.get().worker == worker


def test_no_worker_response_carries_an_answer_key_or_a_question_id(worker_api, worker, qualification):
    started = worker_api.post(start_url(qualification)).json()
    attempt = Attempt.objects.get(pk=started["id"])
    resumed = worker_api.post(start_url(qualification))
    read = worker_api.get(attempt_url(attempt.pk)).json()
    graded = worker_api.post(
        f"{attempt_url(attempt.pk)}submit/", {"answers": answers(attempt, right=2)}, format="json"
    ).json()
    listed = worker_api.get(LIST).json()

    assert resumed.status_code == 200
    for body in (started, resumed.json(), read, graded):
        assert_no_keys_or_question_ids(body, attempt)
    assert not all_keys(listed) & {"answer_key", "answer", "questions", "question_ids"}
    assert graded["passed"] is False
    assert graded["grant"] is None


def test_a_worker_cannot_read_or_submit_another_workers_attempt(api, worker_api, qualification):
    attempt_id = worker_api.post(start_url(qualification)).json()["id"]
    attempt = Attempt.objects.get(pk=attempt_id)
    other = api.as_user(WorkerFactory())

    read = other.get(attempt_url(attempt_id))
    submitted = other.post(f"{attempt_url(attempt_id)}submit/", {"answers": answers(attempt)}, format="json")

    assert (read.status_code, read.json()["code"]) == (404, "not_found")
    assert submitted.status_code == 404
    attempt.refresh_from_db()
    assert attempt.status == Attempt.Status.STARTED


def test_invalid_answers_are_refused_naming_each_position(worker_api, qualification):
    attempt_id = worker_api.post(start_url(qualification)).json()["id"]

    response = worker_api.post(
        f"{attempt_url(attempt_id)}submit/", {"answers": [{"position": 0, "answer": "horse"}]}, format="json"
    )

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_answers"
    assert [e["position"] for e in body["extra"]["errors"]] == [0, 1, 2, 3, 4]
    assert Attempt.objects.get(pk=attempt_id).status == Attempt.Status.STARTED


def test_a_different_second_submit_is_a_409_and_the_same_one_a_200(worker_api, qualification):
    attempt_id = worker_api.post(start_url(qualification)).json()["id"]
    attempt = Attempt.objects.get(pk=attempt_id)
    url = f"{attempt_url(attempt_id)}submit/"
    first = worker_api.post(url, {"answers": answers(attempt)}, format="json").json()

    same = worker_api.post(url, {"answers": answers(attempt)}, format="json")
    different = worker_api.post(url, {"answers": answers(attempt, right=0)}, format="json")

    assert (same.status_code, same.json()) == (200, first)
    assert (different.status_code, different.json()["code"]) == (409, "already_submitted")


def test_a_late_submit_is_a_409_and_the_attempt_is_expired(worker_api, qualification):
    attempt_id = worker_api.post(start_url(qualification)).json()["id"]
    attempt = Attempt.objects.get(pk=attempt_id)
    make_overdue(attempt)

    response = worker_api.post(f"{attempt_url(attempt_id)}submit/", {"answers": answers(attempt)}, format="json")

    assert (response.status_code, response.json()["code"]) == (409, "attempt_closed")
    attempt.refresh_from_db()
    assert attempt.status == Attempt.Status.EXPIRED
    assert not Grant.objects.exists()


def test_a_retake_too_soon_is_a_409_saying_when_it_is_allowed(worker_api, worker, qualification):
    attempt_id = worker_api.post(start_url(qualification)).json()["id"]
    attempt = Attempt.objects.get(pk=attempt_id)
    worker_api.post(f"{attempt_url(attempt_id)}submit/", {"answers": answers(attempt, right=0)}, format="json")

    response = worker_api.post(start_url(qualification))

    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "retake_cooldown"
    assert body["extra"]["retake_allowed_at"].startswith(
        (attempt.started_at + timedelta(hours=24)).strftime("%Y-%m-%dT%H:%M")
    )
    assert Attempt.objects.filter(worker=worker).count() == 1


def test_the_list_shows_every_active_test_but_your_own_with_your_standing(api, worker_api, worker, requester):
    passed, failed, untouched = (make_qualification(requester, name=n) for n in ("passed", "failed", "untouched"))
    make_qualification(requester, is_active=False)
    for qualification, right in ((passed, 5), (failed, 0)):
        attempt_id = worker_api.post(start_url(qualification)).json()["id"]
        attempt = Attempt.objects.get(pk=attempt_id)
        worker_api.post(f"{attempt_url(attempt_id)}submit/", {"answers": answers(attempt, right=right)}, format="json")

    listed = {q["name"]: q["standing"] for q in worker_api.get(LIST).json()["results"]}

    assert set(listed) == {"passed", "failed", "untouched"}
    assert listed["passed"]["holds"] is True
    assert listed["passed"]["grant_score"] == 1.0
    assert listed["passed"]["blocked_by"] == "already_qualified"
    assert listed["failed"]["holds"] is False
    assert (listed["failed"]["attempts_used"], listed["failed"]["attempts_left"]) == (1, 2)
    assert listed["failed"]["blocked_by"] == "retake_cooldown"
    assert listed["failed"]["retake_allowed_at"] is not None
    assert listed["untouched"]["can_start"] is True
    assert listed["untouched"]["attempts_left"] == 3
    assert api.as_user(requester).get(LIST).status_code == 403  # a requester without the worker role


def test_the_list_shows_an_attempt_in_progress_and_after_the_cool_down_a_retake(worker_api, qualification):
    attempt_id = worker_api.post(start_url(qualification)).json()["id"]
    in_progress = worker_api.get(LIST).json()["results"][0]["standing"]
    attempt = Attempt.objects.get(pk=attempt_id)
    worker_api.post(f"{attempt_url(attempt_id)}submit/", {"answers": answers(attempt, right=0)}, format="json")
    age(attempt, timedelta(hours=25))

    later = worker_api.get(LIST).json()["results"][0]["standing"]

    assert (in_progress["open_attempt_id"], in_progress["can_start"]) == (attempt_id, True)
    assert (later["open_attempt_id"], later["retake_allowed_at"], later["can_start"]) == (None, None, True)


def test_the_work_list_takes_a_fixed_number_of_queries(worker_api, requester, django_assert_max_num_queries):
    for _ in range(6):
        make_qualification(requester)

    with django_assert_max_num_queries(3):
        response = worker_api.get(LIST)

    assert response.json()["count"] == 6


def test_the_owner_cannot_take_their_own_test(api, requester, qualification):
    requester.is_worker = True
    requester.save()

    response = api.as_user(requester).post(start_url(qualification))

    assert response.status_code == 403
    assert response.json()["extra"]["reason"] == "own_qualification"
    assert not Attempt.objects.exists()

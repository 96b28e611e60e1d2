"""Defining qualifications through the API, adding questions, editing, and who may see or change what."""

import pytest

from qualification.models import Qualification, Question
from tests.factories import RequesterFactory, WorkerFactory
from tests.qualification.conftest import SCHEMA, make_qualification, questions

pytestmark = pytest.mark.django_db

URL = "/api/v1/qualifications/"

DEFINITION = {
    "name": "Cats and dogs",
    "description": "Tell cats from dogs.",
    "label_schema": SCHEMA,
    "pass_mark": 0.75,
    "questions_per_attempt": 4,
    "time_limit_seconds": 600,
    "retake_cooldown_seconds": 3600,
    "max_attempts": 2,
    "valid_for_seconds": 30 * 24 * 3600,
    "is_public": True,
    "questions": questions(6),
}


def detail_url(qualification) -> str:
    return f"{URL}{qualification.pk}/"


class TestDefining:
    def test_a_requester_defines_a_qualification_with_its_questions_in_one_request(self, requester_api, requester):
        response = requester_api.post(URL, DEFINITION, format="json")

        assert response.status_code == 201, response.json()
        body = response.json()
        qualification = Qualification.objects.get(pk=body["id"])
        assert qualification.owner == requester
        assert str(qualification.pass_mark) == "0.750"
        assert qualification.time_limit.total_seconds() == 600
        assert qualification.valid_for.days == 30
        assert qualification.is_public and qualification.is_active
        assert body["question_count"] == 6
        assert [q["answer"] for q in body["questions"]] == ["cat", "dog"] * 3
        assert sorted(Question.objects.filter(qualification=qualification).values_list("answer_key", flat=True)) == (
            ["cat"] * 3 + ["dog"] * 3
        )

    def test_a_bad_answer_key_is_refused_naming_the_question_and_nothing_is_kept(self, requester_api):
        bad = questions(6)
        bad[4]["answer"] = "horse"

        response = requester_api.post(URL, {**DEFINITION, "questions": bad}, format="json")

        assert response.status_code == 400
        body = response.json()
        assert body["code"] == "invalid_questions"
        assert body["extra"]["errors"] == [
            {"index": 4, "field": "answer", "message": "'horse' is not one of the classes ['cat', 'dog', 'bird']."}
        ]
        assert "Question 4" in body["message"]
        assert Qualification.objects.count() == 0
        assert Question.objects.count() == 0

    def test_a_question_without_an_answer_is_refused_naming_its_index(self, requester_api):
        bad = questions(3)
        del bad[1]["answer"]

        response = requester_api.post(URL, {**DEFINITION, "questions_per_attempt": 2, "questions": bad}, format="json")

        assert response.status_code == 400
        assert "1" in response.json()["extra"]["fields"]["questions"]
        assert Qualification.objects.count() == 0

    @pytest.mark.parametrize(
        ("change", "field"),
        [
            ({"questions_per_attempt": 7}, "questions_per_attempt"),
            ({"label_schema": {"type": "single_choice", "classes": ["cat"]}}, "label_schema"),
            ({"pass_mark": 1.5}, "pass_mark"),
        ],
    )
    def test_invalid_settings_are_refused_and_nothing_is_kept(self, requester_api, change, field):
        response = requester_api.post(URL, {**DEFINITION, **change}, format="json")

        assert response.status_code == 400
        assert field in response.json()["extra"]["fields"]
        assert Qualification.objects.count() == 0

    def test_a_worker_without_the_requester_role_cannot_define_one(self, api, worker):
        response = api.as_user(worker).post(URL, DEFINITION, format="json")

        assert response.status_code == 403
        assert Qualification.objects.count() == 0

    def test_staff_may_define_one_without_the_requester_role(self, api, staff):
        response = api.as_user(staff).post(URL, DEFINITION, format="json")

        assert response.status_code == 201
        assert Qualification.objects.get().owner == staff


class TestAddingQuestionsAndEditing:
    def test_the_owner_adds_questions_later(self, requester_api, qualification):
        response = requester_api.post(
            f"{detail_url(qualification)}questions/", {"questions": questions(2)}, format="json"
        )

        assert response.status_code == 201
        assert [q["answer"] for q in response.json()] == ["cat", "dog"]
        assert qualification.questions.count() == 12

    def test_adding_a_bad_question_keeps_none_of_the_batch(self, requester_api, qualification):
        batch = [*questions(2), {"payload": {"image_url": "x"}, "answer": 3}]

        response = requester_api.post(f"{detail_url(qualification)}questions/", {"questions": batch}, format="json")

        assert response.status_code == 400
        assert [e["index"] for e in response.json()["extra"]["errors"]] == [2]
        assert qualification.questions.count() == 10

    def test_the_owner_deactivates_and_publishes_but_cannot_change_the_rules(self, requester_api, qualification):
        response = requester_api.patch(
            detail_url(qualification), {"is_active": False, "is_public": True, "pass_mark": 0.1}, format="json"
        )

        assert response.status_code == 200
        qualification.refresh_from_db()
        assert not qualification.is_active
        assert qualification.is_public
        assert str(qualification.pass_mark) == "0.800"


class TestWhoSeesWhat:
    def test_the_owner_sees_the_questions_with_their_keys(self, requester_api, qualification):
        body = requester_api.get(detail_url(qualification)).json()

        assert len(body["questions"]) == 10
        assert set(body["questions"][0]) == {"id", "payload", "answer"}

    def test_an_outsider_gets_404_for_a_private_qualification(self, outsider_api, qualification):
        assert outsider_api.get(detail_url(qualification)).status_code == 404
        response = outsider_api.patch(detail_url(qualification), {"is_active": False}, format="json")
        assert response.status_code == 404
        response = outsider_api.post(f"{detail_url(qualification)}questions/", {"questions": questions(1)})
        assert response.status_code == 404
        qualification.refresh_from_db()
        assert qualification.is_active
        assert qualification.questions.count() == 10

    def test_an_outsider_reads_a_public_qualification_without_its_questions_and_cannot_change_it(
        self, outsider_api, requester
    ):
        public = make_qualification(requester, is_public=True)

        body = outsider_api.get(detail_url(public)).json()
        response = outsider_api.patch(detail_url(public), {"is_active": False}, format="json")

        assert body["questions"] is None
        assert body["question_count"] == 10
        assert "answer" not in str(body)
        assert response.status_code == 403
        public.refresh_from_db()
        assert public.is_active

    def test_staff_see_the_keys_of_any_qualification(self, api, staff, qualification):
        body = api.as_user(staff).get(detail_url(qualification)).json()

        assert len(body["questions"]) == 10

    def test_the_list_shows_your_own_and_on_request_the_public_ones_of_others(self, requester_api, requester, outsider):
        mine = make_qualification(requester)
        public = make_qualification(outsider, is_public=True)
        make_qualification(outsider)  # private: never listed

        own = requester_api.get(URL).json()
        usable = requester_api.get(URL, {"include_others": "true"}).json()

        assert [q["id"] for q in own["results"]] == [mine.pk]
        assert [q["id"] for q in usable["results"]] == [public.pk, mine.pk]
        assert "questions" not in own["results"][0]

    def test_the_list_takes_a_fixed_number_of_queries(self, requester_api, requester, django_assert_max_num_queries):
        for _ in range(5):
            make_qualification(requester)

        with django_assert_max_num_queries(3):
            response = requester_api.get(URL)

        assert response.json()["count"] == 5

    def test_a_worker_cannot_use_the_requester_endpoints(self, api, qualification):
        worker = WorkerFactory()

        assert api.as_user(worker).get(detail_url(qualification)).status_code == 403

    def test_another_requester_may_require_only_public_or_own_qualifications(self, requester, qualification, staff):
        from qualification.selectors import qualification_usable_by

        other = RequesterFactory()
        public = make_qualification(other, is_public=True)

        assert qualification_usable_by(qualification_id=qualification.pk, requester=requester)
        assert not qualification_usable_by(qualification_id=qualification.pk, requester=other)
        assert qualification_usable_by(qualification_id=public.pk, requester=requester)
        assert qualification_usable_by(qualification_id=qualification.pk, requester=staff)
        assert not qualification_usable_by(qualification_id=0, requester=staff)

"""The assignment engine: claim, submit, release and expiry, and what a worker may see."""

import json
import random
from collections import Counter
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework import serializers

from marketplace.api.work import WorkAnswerSerializer, WorkAssignmentSerializer, WorkSubmitApi
from marketplace.errors import (
    AlreadySubmitted,
    AssignmentClosed,
    InvalidAnswers,
    NotEligible,
    NoWorkAvailable,
    TooManyOpenAssignments,
)
from marketplace.models import Answer, Assignment, AssignmentStatus, Item, JobStatus, MicroTask
from marketplace.services.assignment_gold import draw_gold
from marketplace.services.assignments import (
    assignment_claim,
    assignment_release,
    assignment_submit,
    assignment_submit_and_claim,
)
from marketplace.services.jobs import job_transition
from marketplace.tasks import assignment_expire_overdue_task
from tests.factories import WorkerFactory
from tests.marketplace.helpers import answers_for, launched_job
from tests.marketplace.invariants import assignment_invariant_violations

pytestmark = pytest.mark.django_db


@pytest.fixture
def job(requester):
    return launched_job(
        requester, n_items=6, n_gold=4, items_per_task=3, overlap_min=2, overlap_max=2, gold_ratio=Decimal("0.25")
    )


def claim(job, worker):
    return assignment_claim(job_id=job.pk, worker=worker, rng=random.Random(7))


def _rows_read(plan, table):
    """Rows the plan's scans of `table` returned, over all their loops (EXPLAIN ANALYZE, JSON)."""
    own = plan["Actual Rows"] * plan["Actual Loops"] if plan.get("Relation Name") == table else 0
    return own + sum(_rows_read(child, table) for child in plan.get("Plans", []))


class TestClaim:
    def test_a_claim_gives_the_next_task_with_gold_mixed_in(self, job, worker):
        assignment = claim(job, worker)

        task_items = list(Item.objects.filter(task=assignment.task).order_by("position").values_list("id", flat=True))
        gold = [i for i in assignment.item_ids if i not in task_items]
        assert assignment.task.number == 1
        assert [i for i in assignment.item_ids if i in task_items] == task_items
        assert len(gold) == 1  # 3 items at a 25% gold ratio: 3 * 0.25 / 0.75 = exactly 1
        assert Item.objects.filter(pk__in=gold, is_gold=True).count() == 1
        assignment.task.refresh_from_db()
        assert assignment.task.assigned_count == 1

    def test_each_task_goes_to_overlap_distinct_workers_then_work_runs_out(self, job):
        workers = WorkerFactory.create_batch(5)

        numbers = [claim(job, w).task.number for w in workers[:4]]

        assert numbers == [1, 1, 2, 2]
        with pytest.raises(NoWorkAvailable):
            claim(job, workers[4])

    def test_a_worker_never_gets_the_same_task_twice_even_after_releasing_it(self, job, worker):
        first = claim(job, worker)
        assignment_release(assignment_id=first.pk, worker=worker)

        second = claim(job, worker)

        assert second.task_id != first.task_id

    def test_a_worker_holds_at_most_the_jobs_open_assignment_limit(self, job, worker):
        claim(job, worker)

        with pytest.raises(TooManyOpenAssignments):
            claim(job, worker)
        job.max_open_assignments = 2
        job.save()
        assert claim(job, worker).status == AssignmentStatus.OPEN

    def test_a_worker_never_sees_the_same_gold_item_twice_in_a_job(self, requester, worker):
        job = launched_job(
            requester, n_items=30, n_gold=3, items_per_task=1, gold_ratio=Decimal("0.5"), max_open_assignments=100
        )

        assignments = [claim(job, worker) for _ in range(3)]

        gold = Item.objects.filter(job=job, is_gold=True).values_list("id", flat=True)
        shown = [i for a in assignments for i in a.item_ids if i in set(gold)]
        assert sorted(shown) == sorted(gold)  # all three, once each
        with pytest.raises(NoWorkAvailable):  # then no more gold to draw, and no assignment without it
            claim(job, worker)

    def test_gold_is_drawn_evenly_from_what_the_worker_has_not_seen_and_review_has_not_flagged(self, requester, worker):
        job = launched_job(
            requester, n_items=60, n_gold=40, items_per_task=1, gold_ratio=Decimal("0.5"), max_open_assignments=100
        )
        seen = {i for _ in range(30) for i in claim(job, worker).item_ids}  # each claim: its item and one gold
        flagged = Item.objects.filter(job=job, is_gold=True).exclude(pk__in=seen).order_by("?")[:2]
        Item.objects.filter(pk__in=list(flagged.values_list("pk", flat=True))).update(gold_flagged_at=timezone.now())
        allowed = set(Item.objects.filter(job=job, is_gold=True, gold_flagged_at=None).values_list("pk", flat=True))
        allowed -= seen
        rng = random.Random(3)

        # The claim's draw, read only (no claim is made): 12 numbers of 40 are tried, 8 of which may be drawn.
        drawn = Counter(item_id for _ in range(4000) for item_id, _ in draw_gold(job, worker, 1, rng))

        assert len(allowed) == 8 and set(drawn) == allowed
        assert all(380 < n < 620 for n in drawn.values()), drawn  # 500 each; 5.7 standard deviations apart

    @pytest.mark.postgresql_only("reads PostgreSQL's plan (EXPLAIN ANALYZE)")
    def test_the_gold_draw_reads_a_few_rows_however_much_gold_the_job_has(self, requester, worker):
        """It used to shuffle all of the job's gold against all that the worker had seen: 1.5 ms per claim at 1,000
        gold items and 65 seen, and growing with both."""
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        job = launched_job(
            requester, n_items=50, n_gold=500, items_per_task=1, gold_ratio=Decimal("0.5"), max_open_assignments=100
        )
        for _ in range(40):
            claim(job, worker)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")  # as autovacuum keeps the statistics of a live database
        with CaptureQueriesContext(connection) as queries:
            assert len(draw_gold(job, worker, 1, random.Random(5))) == 1
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + queries.captured_queries[0]["sql"])
            plan = cursor.fetchone()[0][0]["Plan"]

        assert len(queries) == 1
        assert _rows_read(plan, "marketplace_item") <= 12  # the numbers tried, not the 500 gold items

    def test_gold_appears_at_the_jobs_ratio_on_average(self, requester, worker):
        job = launched_job(
            requester,
            n_items=400,
            n_gold=400,
            items_per_task=4,
            overlap_min=1,
            overlap_max=1,
            gold_ratio=Decimal("0.2"),
            max_open_assignments=100,
        )
        rng = random.Random(1)

        sizes = [len(assignment_claim(job_id=job.pk, worker=worker, rng=rng).item_ids) for _ in range(100)]

        gold_share = (sum(sizes) - 400) / sum(sizes)
        assert 0.15 < gold_share < 0.25

    @pytest.mark.parametrize(
        ("setup", "reason"),
        [
            (lambda job, worker: setattr(job, "requester", worker), "own_job"),
            (lambda job, worker: setattr(job, "status", JobStatus.PAUSED), "job_not_active"),
            (lambda job, worker: setattr(job, "deadline", timezone.now() - timedelta(minutes=1)), "deadline_passed"),
            (lambda job, worker: setattr(worker, "is_worker", False), "not_a_worker"),
        ],
    )
    def test_a_worker_who_may_not_work_on_the_job_is_refused(self, job, worker, setup, reason):
        setup(job, worker)
        job.save()
        worker.save()

        with pytest.raises(NotEligible) as refused:
            claim(job, worker)

        assert refused.value.extra["reason"] == reason
        assert not Assignment.objects.exists()


class TestSubmit:
    def test_a_submit_stores_one_answer_per_item_and_grades_gold(self, job, worker):
        assignment = claim(job, worker)
        answers = [{"position": p, "answer": "dog"} for p in range(len(assignment.item_ids))]

        done = assignment_submit(assignment_id=assignment.pk, worker=worker, answers=answers)

        assert done.status == AssignmentStatus.SUBMITTED
        assert (done.gold_total, done.gold_correct) == (1, 0)  # gold keys are all 'cat'
        stored = Answer.objects.filter(assignment=done)
        assert stored.count() == 4
        assert stored.filter(is_gold=True, is_correct=False).count() == 1
        task = MicroTask.objects.get(pk=done.task_id)
        assert (task.assigned_count, task.submitted_count) == (1, 1)

    def test_a_retried_submit_returns_the_same_result_and_stores_nothing_twice(self, job, worker):
        assignment = claim(job, worker)
        first = assignment_submit(assignment_id=assignment.pk, worker=worker, answers=answers_for(assignment))

        again = assignment_submit(
            assignment_id=assignment.pk, worker=worker, answers=list(reversed(answers_for(assignment)))
        )

        assert (again.pk, again.submitted_at) == (first.pk, first.submitted_at)
        assert Answer.objects.filter(assignment=assignment).count() == len(assignment.item_ids)
        assert MicroTask.objects.get(pk=assignment.task_id).submitted_count == 1

    def test_a_second_different_submit_is_refused(self, job, worker):
        assignment = claim(job, worker)
        assignment_submit(assignment_id=assignment.pk, worker=worker, answers=answers_for(assignment, "cat"))

        with pytest.raises(AlreadySubmitted):
            assignment_submit(assignment_id=assignment.pk, worker=worker, answers=answers_for(assignment, "dog"))
        assert set(Answer.objects.filter(assignment=assignment).values_list("value", flat=True)) == {"cat"}

    def test_an_answer_outside_the_schema_or_a_missing_one_is_refused_naming_the_position(self, job, worker):
        assignment = claim(job, worker)
        answers = answers_for(assignment)
        answers[1]["answer"] = "horse"
        del answers[2]

        with pytest.raises(InvalidAnswers) as refused:
            assignment_submit(assignment_id=assignment.pk, worker=worker, answers=answers)

        assert [(e["position"], e["field"]) for e in refused.value.extra["errors"]] == [(1, "answer"), (2, "answer")]
        assignment.refresh_from_db()
        assert assignment.status == AssignmentStatus.OPEN
        assert not Answer.objects.exists()

    def test_another_workers_assignment_cannot_be_submitted(self, job, worker):
        assignment = claim(job, worker)
        intruder = WorkerFactory()

        with pytest.raises(Exception, match="No such assignment"):
            assignment_submit(assignment_id=assignment.pk, worker=intruder, answers=answers_for(assignment))

    def test_the_job_completes_with_exactly_items_times_overlap_answers_gold_not_counted(self, job):
        workers = WorkerFactory.create_batch(2)
        for worker in workers:
            for _ in range(2):
                assignment = claim(job, worker)
                assignment_submit(assignment_id=assignment.pk, worker=worker, answers=answers_for(assignment))

        job.refresh_from_db()
        assert job.status == JobStatus.COMPLETED
        assert Answer.objects.filter(job=job, is_gold=False).count() == 6 * 2
        assert Answer.objects.filter(job=job, is_gold=True).count() == 4
        assert assignment_invariant_violations() == []


class TestSubmitAndClaim:
    """A worker's "submit and next": the submit as `assignment_submit`, then a claim on the same job."""

    def test_it_stores_the_submit_and_hands_over_the_jobs_next_task(self, job, worker):
        first = claim(job, worker)

        submitted, following, refusal = assignment_submit_and_claim(
            assignment_id=first.pk, worker=worker, answers=answers_for(first), rng=random.Random(7)
        )

        assert (submitted.pk, submitted.status, refusal) == (first.pk, AssignmentStatus.SUBMITTED, None)
        assert (following.job_id, following.status) == (job.pk, AssignmentStatus.OPEN)
        assert following.task_id != first.task_id
        assert len(following.payloads) == len(following.item_ids)
        assert Answer.objects.filter(assignment=first).count() == len(first.item_ids)
        assert assignment_invariant_violations() == []

    def test_when_no_work_is_left_the_submit_stands_and_the_refusal_is_returned(self, job, worker):
        first = claim(job, worker)
        _, second, _ = assignment_submit_and_claim(assignment_id=first.pk, worker=worker, answers=answers_for(first))

        submitted, following, refusal = assignment_submit_and_claim(  # the job has two tasks
            assignment_id=second.pk, worker=worker, answers=answers_for(second)
        )

        assert (submitted.pk, submitted.status, following) == (second.pk, AssignmentStatus.SUBMITTED, None)
        assert isinstance(refusal, NoWorkAvailable)
        assert Assignment.objects.filter(worker=worker, status=AssignmentStatus.SUBMITTED).count() == 2

    def test_a_retry_stores_nothing_twice_and_hands_over_the_same_next_task(self, job, worker):
        first = claim(job, worker)
        done, following, _ = assignment_submit_and_claim(
            assignment_id=first.pk, worker=worker, answers=answers_for(first)
        )

        again, resumed, refusal = assignment_submit_and_claim(
            assignment_id=first.pk, worker=worker, answers=answers_for(first)
        )

        assert (again.pk, again.submitted_at, resumed.pk, refusal) == (done.pk, done.submitted_at, following.pk, None)
        assert Assignment.objects.filter(worker=worker).count() == 2
        assert Answer.objects.filter(assignment=first).count() == len(first.item_ids)
        assert MicroTask.objects.get(pk=first.task_id).submitted_count == 1

    def test_a_refused_submit_claims_nothing(self, job, worker):
        first = claim(job, worker)
        answers = answers_for(first)
        answers[0]["answer"] = "horse"

        with pytest.raises(InvalidAnswers):
            assignment_submit_and_claim(assignment_id=first.pk, worker=worker, answers=answers)

        assert list(Assignment.objects.filter(worker=worker).values_list("pk", "status")) == [(first.pk, "open")]

    def test_a_worker_who_may_no_longer_work_on_the_job_gets_the_reason_and_keeps_the_submit(self, job, worker):
        first = claim(job, worker)
        job_transition(job=job, action="pause")

        submitted, following, refusal = assignment_submit_and_claim(
            assignment_id=first.pk, worker=worker, answers=answers_for(first)
        )

        assert (submitted.status, following) == (AssignmentStatus.SUBMITTED, None)
        assert isinstance(refusal, NotEligible)
        assert refusal.extra["reason"] == "job_not_active"


class TestReleaseAndExpiry:
    def test_a_released_assignment_frees_its_slot_and_takes_no_submit(self, job, worker):
        assignment = claim(job, worker)

        released = assignment_release(assignment_id=assignment.pk, worker=worker)
        again = assignment_release(assignment_id=assignment.pk, worker=worker)

        assert released.status == again.status == AssignmentStatus.RELEASED
        assert MicroTask.objects.get(pk=assignment.task_id).assigned_count == 0
        with pytest.raises(AssignmentClosed):
            assignment_submit(assignment_id=assignment.pk, worker=worker, answers=answers_for(assignment))

    def test_a_late_submit_expires_the_assignment_and_is_refused(self, job, worker):
        assignment = claim(job, worker)
        Assignment.objects.filter(pk=assignment.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

        with pytest.raises(AssignmentClosed) as refused:
            assignment_submit(assignment_id=assignment.pk, worker=worker, answers=answers_for(assignment))

        assert refused.value.extra["status"] == "expired"
        assignment.refresh_from_db()
        assert assignment.status == AssignmentStatus.EXPIRED
        assert not Answer.objects.exists()
        assert MicroTask.objects.get(pk=assignment.task_id).assigned_count == 0
        assert assignment_invariant_violations() == []

    def test_the_beat_task_expires_overdue_assignments_and_their_slots_return(self, job, worker):
        overdue, fresh = claim(job, worker), claim(job, WorkerFactory())
        Assignment.objects.filter(pk=overdue.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

        assert assignment_expire_overdue_task() == 1

        overdue.refresh_from_db()
        fresh.refresh_from_db()
        assert (overdue.status, fresh.status) == (AssignmentStatus.EXPIRED, AssignmentStatus.OPEN)
        assert assignment_invariant_violations() == []

    def test_a_claim_expires_overdue_work_itself_when_the_beat_is_not_running(self, requester):
        job = launched_job(requester, n_items=1, items_per_task=1, overlap_min=1, overlap_max=1)
        slow, other = WorkerFactory(), WorkerFactory()
        stale = claim(job, slow)
        with pytest.raises(NoWorkAvailable):
            claim(job, other)
        Assignment.objects.filter(pk=stale.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

        fresh = claim(job, other)

        assert fresh.task_id == stale.task_id
        stale.refresh_from_db()
        assert stale.status == AssignmentStatus.EXPIRED
        assert assignment_invariant_violations() == []


class TestWorkerApi:
    """What a worker sees over HTTP: never a gold flag, a gold answer, an item id, or someone else's answers."""

    FORBIDDEN_KEYS = {
        "is_gold",
        "gold_answer",
        "gold_total",
        "gold_correct",
        "is_correct",
        "item_ids",
        "item",
        "external_id",
        "row_number",
        "task",
        "worker",
    }

    def keys(self, body):
        if isinstance(body, dict):
            return set(body) | {k for v in body.values() for k in self.keys(v)}
        if isinstance(body, list):
            return {k for v in body for k in self.keys(v)}
        return set()

    def assert_leaks_nothing(self, body, job):
        """No key that could carry an item id, a gold flag or a grade; no gold wording; items only by position."""
        assert not self.keys(body) & self.FORBIDDEN_KEYS
        assert "gold" not in json.dumps(body)
        for item in body.get("items", []):
            assert set(item) == {"position", "payload"}

    def test_claim_detail_and_submit_reveal_no_gold_and_no_other_answers(self, api, job, worker):
        other = WorkerFactory()
        other_assignment = claim(job, other)
        assignment_submit(
            assignment_id=other_assignment.pk, worker=other, answers=answers_for(other_assignment, "bird")
        )
        client = api.as_user(worker)

        claimed = client.post(f"/api/v1/work/jobs/{job.pk}/claim/")
        detail = client.get(f"/api/v1/work/assignments/{claimed.json()['id']}/")
        answers = [{"position": i["position"], "answer": "dog"} for i in claimed.json()["items"]]
        submitted = client.post(f"/api/v1/work/assignments/{claimed.json()['id']}/submit/", {"answers": answers})

        assert (claimed.status_code, detail.status_code, submitted.status_code) == (201, 200, 200)
        assert [i["position"] for i in claimed.json()["items"]] == [0, 1, 2, 3]
        assert submitted.json()["answers"] == answers
        for response in (claimed, detail, submitted):
            self.assert_leaks_nothing(response.json(), job)
            assert "bird" not in json.dumps(response.json())

    def test_submit_and_claim_answers_the_submit_and_the_next_task_revealing_nothing(self, api, job, worker):
        client = api.as_user(worker)
        claimed = client.post(f"/api/v1/work/jobs/{job.pk}/claim/").json()
        answers = [{"position": i["position"], "answer": "dog"} for i in claimed["items"]]

        response = client.post(f"/api/v1/work/assignments/{claimed['id']}/submit-and-claim/", {"answers": answers})

        body = response.json()
        assert response.status_code == 200
        assert set(body) == {"submitted", "next", "next_error"}
        assert (body["submitted"]["id"], body["submitted"]["status"], body["submitted"]["answers"]) == (
            claimed["id"],
            "submitted",
            answers,
        )
        assert (body["next"]["status"], body["next_error"]) == ("open", None)
        assert body["next"] == client.get(f"/api/v1/work/assignments/{body['next']['id']}/").json()
        self.assert_leaks_nothing(body["submitted"], job)
        self.assert_leaks_nothing(body["next"], job)

    def test_submit_and_claim_without_work_left_says_why_like_a_claim(self, api, requester, worker):
        job = launched_job(requester, n_items=2, items_per_task=1, overlap_min=1, overlap_max=1)
        client = api.as_user(worker)
        claimed = client.post(f"/api/v1/work/jobs/{job.pk}/claim/").json()
        claim(job, WorkerFactory())  # the other task: open, so the job is still active
        answers = [{"position": i["position"], "answer": "dog"} for i in claimed["items"]]

        body = client.post(f"/api/v1/work/assignments/{claimed['id']}/submit-and-claim/", {"answers": answers}).json()

        assert (body["submitted"]["status"], body["next"]) == ("submitted", None)
        assert body["next_error"]["code"] == "no_work_available"

    def test_submit_and_claim_with_a_bad_label_is_the_submits_400(self, api, job, worker):
        client = api.as_user(worker)
        claimed = client.post(f"/api/v1/work/jobs/{job.pk}/claim/").json()
        answers = [{"position": i["position"], "answer": "unicorn"} for i in claimed["items"]]

        response = client.post(f"/api/v1/work/assignments/{claimed['id']}/submit-and-claim/", {"answers": answers})

        assert response.status_code == 400
        assert response.json()["code"] == "invalid_answers"
        assert client.get("/api/v1/work/assignments/").json()["count"] == 1

    def test_the_assignment_response_is_what_its_declared_fields_render(self, job, worker):
        """The serializer writes its output directly (a hot path); DRF's generic rendering of the declared fields,
        which the OpenAPI schema documents, must give the same, for a fresh claim, a submit and a stored one."""
        claimed = claim(job, worker)
        submitted = assignment_submit(assignment_id=claimed.pk, worker=worker, answers=answers_for(claimed, "dog"))
        released = assignment_release(assignment_id=claim(job, worker).pk, worker=worker)

        for assignment in (claimed, submitted, released, Assignment.objects.get(pk=submitted.pk)):
            serializer = WorkAssignmentSerializer(assignment)
            generic = serializers.Serializer.to_representation(serializer, assignment)
            assert serializer.data == generic
            assert json.dumps(serializer.data) == json.dumps(generic)  # same types, same order
            assert list(generic) == list(serializer.fields)

    @pytest.mark.parametrize(
        "answers",
        [
            [{"position": 0, "answer": "cat"}, {"position": 3, "answer": {"box": [1, 2.5, None]}}],
            [{"position": 0, "answer": "cat", "note": "ignored"}, {"position": 1, "answer": 0}],
            [{"position": 0, "answer": [[10, 20, 30.5, 40, "car"]]}, {"position": 1, "answer": []}],  # boxes
            [{"position": 0, "answer": [[0, 12, "PER"], [17, 32, "LOC"]]}],  # spans
            [{"position": "2", "answer": "cat"}],  # DRF's IntegerField takes a numeric string
            [{"position": 2.0, "answer": "cat"}],
            [{"position": True, "answer": "cat"}],
            [{"position": -1, "answer": "cat"}],
            [{"position": 1, "answer": None}],
            [{"position": 1}],
            [{"answer": "cat"}],
            [{"position": 0, "answer": "cat"}, "cat", None, [0, "cat"]],
            [],
            "cat",
        ],
    )
    def test_the_answers_short_cut_validates_as_drfs_generic_path(self, answers):
        """The submit's answers skip DRF's per-answer path when it could only accept them unchanged (a hot path);
        validated data and errors must be what that path gives."""
        fast = WorkSubmitApi.SubmitSerializer(data={"answers": answers})
        generic = serializers.ListSerializer(child=WorkAnswerSerializer(), allow_empty=False, max_length=1000)

        try:
            expected = generic.run_validation(answers)
        except serializers.ValidationError as exc:
            assert not fast.is_valid()
            assert fast.errors == {"answers": exc.detail}
        else:
            assert fast.is_valid(), fast.errors
            assert json.dumps(fast.validated_data["answers"]) == json.dumps(expected)

    def test_the_worker_job_list_shows_pay_time_and_work_left_but_not_own_jobs(self, api, job, requester, worker):
        both = WorkerFactory(is_requester=True)
        launched_job(both, n_items=3, items_per_task=3)

        listing = api.as_user(both).get("/api/v1/work/jobs/").json()
        mine = api.as_user(worker).get("/api/v1/work/jobs/").json()

        assert [j["id"] for j in listing["results"]] == [job.pk]
        assert mine["count"] == 2
        row = next(j for j in mine["results"] if j["id"] == job.pk)
        assert (row["reward_cents"], row["assignment_duration_seconds"], row["assignments_available"]) == (25, 1800, 4)
        self.assert_leaks_nothing(mine, job)

    def test_no_work_is_a_clear_409_not_an_error_page(self, api, requester, worker):
        job = launched_job(requester, n_items=1, items_per_task=1, overlap_min=1, overlap_max=1)
        claim(job, WorkerFactory())

        response = api.as_user(worker).post(f"/api/v1/work/jobs/{job.pk}/claim/")

        assert response.status_code == 409
        assert response.json()["code"] == "no_work_available"

    def test_a_bad_label_is_a_400_naming_the_position(self, api, job, worker):
        client = api.as_user(worker)
        claimed = client.post(f"/api/v1/work/jobs/{job.pk}/claim/").json()
        answers = [{"position": i["position"], "answer": "cat"} for i in claimed["items"]]
        answers[2]["answer"] = "unicorn"

        response = client.post(f"/api/v1/work/assignments/{claimed['id']}/submit/", {"answers": answers})

        assert response.status_code == 400
        assert response.json()["code"] == "invalid_answers"
        assert response.json()["extra"]["errors"][0]["position"] == 2

    def test_a_worker_cannot_read_or_touch_another_workers_assignment(self, api, job, worker):
        theirs = claim(job, WorkerFactory())
        client = api.as_user(worker)

        assert client.get(f"/api/v1/work/assignments/{theirs.pk}/").status_code == 404
        assert client.post(f"/api/v1/work/assignments/{theirs.pk}/release/").status_code == 404
        assert client.get("/api/v1/work/assignments/").json()["count"] == 0

    def test_a_requester_without_the_worker_role_cannot_claim(self, requester_api, job):
        assert requester_api.post(f"/api/v1/work/jobs/{job.pk}/claim/").status_code == 403

    def test_a_draft_job_is_invisible_to_workers(self, api, requester, worker):
        from tests.factories import JobFactory

        draft = JobFactory(requester=requester)

        assert api.as_user(worker).post(f"/api/v1/work/jobs/{draft.pk}/claim/").status_code == 404


def test_the_requester_sees_progress_with_gold_left_out(requester_api, job, worker, outsider_api):
    assignment = claim(job, worker)
    assignment_submit(assignment_id=assignment.pk, worker=worker, answers=answers_for(assignment))
    claim(job, WorkerFactory())

    progress = requester_api.get(f"/api/v1/jobs/{job.pk}/progress/").json()

    assert progress == {
        "tasks_total": 2,
        "tasks_complete": 0,
        "items_total": 6,
        "items_complete": 0,
        "answers_target": 12,
        "answers_collected": 3,
        "assignments_open": 1,
        "assignments_submitted": 1,
        "assignments_expired": 0,
        "assignments_released": 0,
        "slots_waiting_for_funds": 0,
        "deposit_needed_cents": 0,
        "workers_out_of_gold": 0,
    }
    assert outsider_api.get(f"/api/v1/jobs/{job.pk}/progress/").status_code == 404

"""Who may work (qualifications, reputation, bans), and quality control on live work: gold blocking, gold hygiene,
fast answers and rate limits."""

import contextlib
import random
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from marketplace.api.throttling import WindowRateThrottle
from marketplace.errors import NotEligible, NoWorkAvailable
from marketplace.models import Answer, Assignment, AssignmentStatus, Item, JobQualification, MicroTask, Participation
from marketplace.selectors import assignment_items
from marketplace.services.assignments import assignment_claim, assignment_submit
from marketplace.services.jobs import job_transition
from marketplace.services.quality import quality_after_submit
from marketplace.services.uploads import upload_receive
from payments.services.deposits import deposit_create
from tests.factories import GrantFactory, JobFactory, QualificationFactory, UserFactory, WorkerFactory
from tests.marketplace.helpers import csv_file, csv_rows, fund, launched_job
from workers.models import Ban, WorkerProfile
from workers.services import worker_ban

pytestmark = pytest.mark.django_db


def cats_job(requester, **fields):
    """Items are all cats; gold keys are 'cat' too: an honest worker always answers 'cat'."""
    defaults = {"n_items": 40, "n_gold": 20, "items_per_task": 2, "overlap_min": 2, "overlap_max": 2}
    return launched_job(requester, **{**defaults, **fields})


def submit(assignment, worker, answer_fn, callbacks):
    items = assignment_items(assignment=assignment)
    answers = [{"position": p, "answer": answer_fn(i)} for p, i in enumerate(items)]
    with callbacks(execute=True):  # quality control runs after the submit commits
        return assignment_submit(assignment_id=assignment.pk, worker=worker, answers=answers)


class TestQualificationGate:
    @pytest.fixture
    def gated(self, requester):
        job = cats_job(requester)
        qualification = QualificationFactory(owner=requester)
        JobQualification.objects.create(job=job, qualification=qualification, min_score=0.8)
        return job, qualification

    def test_a_job_requiring_a_qualification_is_invisible_and_unclaimable_without_it(self, api, gated, worker):
        job, _ = gated

        listing = api.as_user(worker).get("/api/v1/work/jobs/").json()
        with pytest.raises(NotEligible) as refused:
            assignment_claim(job_id=job.pk, worker=worker)

        assert listing["count"] == 0
        assert refused.value.extra["reason"] == "not_qualified"

    def test_holding_it_at_the_minimum_score_opens_the_job(self, api, gated, worker):
        job, qualification = gated
        GrantFactory(qualification=qualification, worker=worker, score=0.8)

        assert api.as_user(worker).get("/api/v1/work/jobs/").json()["count"] == 1
        assert assignment_claim(job_id=job.pk, worker=worker).status == AssignmentStatus.OPEN

    def test_a_score_below_the_minimum_is_not_enough(self, gated, worker):
        job, qualification = gated
        GrantFactory(qualification=qualification, worker=worker, score=0.7)

        with pytest.raises(NotEligible):
            assignment_claim(job_id=job.pk, worker=worker)

    @pytest.mark.parametrize(
        "end", [{"revoked_at": timezone.now()}, {"expires_at": timezone.now() - timedelta(seconds=1)}]
    )
    def test_a_revoked_or_expired_grant_stops_new_claims_at_once(self, gated, worker, end, callbacks):
        job, qualification = gated
        grant = GrantFactory(qualification=qualification, worker=worker, score=1.0)
        first = assignment_claim(job_id=job.pk, worker=worker)
        submit(first, worker, lambda i: "cat", callbacks)

        for field, value in end.items():
            setattr(grant, field, value)
        grant.save()

        with pytest.raises(NotEligible):
            assignment_claim(job_id=job.pk, worker=worker)


@pytest.fixture
def callbacks(django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks


def test_a_minimum_reputation_keeps_out_workers_below_it(requester, worker):
    job = cats_job(requester, min_reputation=0.7)
    other = WorkerFactory()
    WorkerProfile.objects.create(user=other, reputation=0.75)

    with pytest.raises(NotEligible) as refused:
        assignment_claim(job_id=job.pk, worker=worker)

    assert refused.value.extra["reason"] == "reputation_too_low"
    assert assignment_claim(job_id=job.pk, worker=other)


def test_a_platform_ban_stops_every_claim_and_lifting_it_restores_them(api, requester, worker):
    job = cats_job(requester)
    admin = UserFactory(is_staff=True)
    staff = api.as_user(admin)

    banned = staff.post(f"/api/v1/admin/workers/{worker.pk}/ban/", {"reason": "Fraudulent answers"})
    refused = api.as_user(worker).post(f"/api/v1/work/jobs/{job.pk}/claim/")
    listing = api.as_user(worker).get("/api/v1/work/jobs/").json()
    lifted = staff.post(f"/api/v1/admin/workers/{worker.pk}/unban/", {"reason": "Appeal accepted"})

    assert banned.status_code == 201
    assert (refused.status_code, refused.json()["extra"]["reason"]) == (403, "banned")
    assert listing["count"] == 0
    assert lifted.status_code == 200
    assert assignment_claim(job_id=job.pk, worker=worker)
    ban = Ban.objects.get(worker=worker)
    assert (ban.reason, ban.created_by, ban.lift_reason, ban.lifted_by) == (
        "Fraudulent answers",
        admin,
        "Appeal accepted",
        admin,
    )


def test_only_staff_can_ban_and_a_ban_needs_a_reason(api, requester, worker):
    admin = api.as_user(UserFactory(is_staff=True))

    assert api.as_user(requester).post(f"/api/v1/admin/workers/{worker.pk}/ban/", {"reason": "x"}).status_code == 403
    no_reason = admin.post(f"/api/v1/admin/workers/{worker.pk}/ban/", {"reason": " "})
    assert no_reason.status_code == 400
    assert not Ban.objects.exists()


class TestGoldQualityControl:
    def test_every_graded_gold_answer_updates_job_and_platform_gold_accuracy(self, requester, worker, callbacks):
        job = cats_job(requester, gold_ratio=Decimal("0.5"), max_open_assignments=5)

        for _ in range(3):
            submit(assignment_claim(job_id=job.pk, worker=worker), worker, lambda i: "cat", callbacks)

        participation = Participation.objects.get(job=job, worker=worker)
        profile = WorkerProfile.objects.get(user=worker)
        gold = Answer.objects.filter(job=job, worker=worker, is_gold=True)
        assert participation.gold_answered == profile.gold_answered == gold.count() == 6
        assert participation.gold_correct == profile.gold_correct == 6

    def test_a_spammer_is_blocked_after_min_gold_and_their_work_returns_to_the_pool(self, requester, callbacks):
        job = cats_job(requester, gold_ratio=Decimal("0.5"), min_gold=4, max_open_assignments=2)
        deposit_create(user=requester, amount=1000, currency="USD", idempotency_key="for-replacements")
        spammer, good = WorkerFactory(), WorkerFactory()
        rng = random.Random(1)
        spam = lambda item: rng.choice(["dog", "bird"])  # noqa: E731 -- always wrong: the keys are all 'cat'

        held = assignment_claim(job_id=job.pk, worker=spammer)  # a second, open assignment the block must release
        for _ in range(6):
            submit(assignment_claim(job_id=job.pk, worker=good), good, lambda i: "cat", callbacks)
        submit(assignment_claim(job_id=job.pk, worker=spammer), spammer, spam, callbacks)
        submit(assignment_claim(job_id=job.pk, worker=spammer), spammer, spam, callbacks)

        blocked = Participation.objects.get(job=job, worker=spammer)
        assert blocked.blocked_at is not None and "Gold accuracy" in blocked.block_reason
        held.refresh_from_db()
        assert held.status == AssignmentStatus.RELEASED
        assert MicroTask.objects.get(pk=held.task_id).assigned_count == 1  # only the good worker's submission
        spammed = Assignment.objects.filter(worker=spammer, status=AssignmentStatus.SUBMITTED).values("task_id")
        assert set(MicroTask.objects.filter(pk__in=spammed).values_list("overlap_target", flat=True)) == {3}
        with pytest.raises(NotEligible) as refused:
            assignment_claim(job_id=job.pk, worker=spammer)
        assert refused.value.extra["reason"] == "blocked"
        assert Participation.objects.get(job=job, worker=good).blocked_at is None

    def test_a_gold_key_that_trusted_workers_contradict_is_flagged_and_no_longer_shown(self, requester, callbacks, api):
        job = cats_job(
            requester,
            n_items=60,
            n_gold=12,
            gold_ratio=Decimal("0.5"),
            min_gold=2,
            overlap_min=4,
            overlap_max=4,
            max_open_assignments=10,
        )
        wrong_key = Item.objects.filter(job=job, is_gold=True).first()
        Item.objects.filter(pk=wrong_key.pk).update(gold_answer="dog")  # a mistaken key: the image is a cat
        workers = WorkerFactory.create_batch(4)

        # The workers earn trust on the other keys first (a flagged key is not shown), so the outcome does not
        # depend on the random order in which gold is drawn: then each of them meets the wrong key.
        Item.objects.filter(pk=wrong_key.pk).update(gold_flagged_at=timezone.now())
        for _ in range(3):
            for worker in workers:
                submit(assignment_claim(job_id=job.pk, worker=worker), worker, lambda i: "cat", callbacks)
        Item.objects.filter(pk=wrong_key.pk).update(gold_flagged_at=None)
        for _ in range(3):  # 2 gold per assignment: the 6 keys each worker has not seen, the wrong one among them
            for worker in workers:
                # Once the key is flagged, a worker who had not met it has 5 gold items left: two more assignments.
                with contextlib.suppress(NoWorkAvailable):
                    submit(assignment_claim(job_id=job.pk, worker=worker), worker, lambda i: "cat", callbacks)

        wrong_key.refresh_from_db()
        assert wrong_key.gold_flagged_at is not None
        assert not Participation.objects.filter(job=job, blocked_at__isnull=False).exists()
        flagged = api.as_user(requester).get(f"/api/v1/jobs/{job.pk}/items/", {"gold_flagged": "true"}).json()
        assert [i["id"] for i in flagged["results"]] == [wrong_key.pk]
        fresh = WorkerFactory()
        shown = [assignment_claim(job_id=job.pk, worker=fresh).item_ids for _ in range(1)]
        assert wrong_key.pk not in shown[0]

        reviewed = api.as_user(requester).post(
            f"/api/v1/jobs/{job.pk}/items/{wrong_key.pk}/gold-review/", {"gold_answer": "cat"}, format="json"
        )
        assert reviewed.status_code == 200
        wrong_key.refresh_from_db()
        assert (wrong_key.gold_answer, wrong_key.gold_flagged_at) == ("cat", None)
        assert wrong_key.gold_reviewed_at is not None

    def test_answers_to_a_flagged_gold_key_never_count_toward_a_block(self, requester, worker, callbacks):
        """The submit's gold counters include every gold answer; a block must leave flagged keys out."""
        job = cats_job(requester, gold_ratio=Decimal("0.5"), min_gold=4, max_open_assignments=5)
        first = submit(assignment_claim(job_id=job.pk, worker=worker), worker, lambda i: "dog", callbacks)
        missed = list(Answer.objects.filter(assignment=first, is_gold=True).values_list("item_id", flat=True))
        Item.objects.filter(pk__in=missed).update(gold_flagged_at=timezone.now())  # the requester's keys were wrong

        submit(assignment_claim(job_id=job.pk, worker=worker), worker, lambda i: "cat", callbacks)

        participation = Participation.objects.get(job=job, worker=worker)
        # Counted: 2 right of 4 -> (2 + 2) / (4 + 3) = 0.57 < 0.6. Left out the flagged: 2 of 2, below min_gold.
        assert (participation.gold_correct, participation.gold_answered, len(missed)) == (2, 4, 2)
        assert participation.blocked_at is None

    def test_a_block_is_decided_on_the_answers_not_on_counters_a_flag_made_stale(self, requester, worker, callbacks):
        # Threshold 0.7: 2 right of 6 is then below it with probability 0.94 (below 0.6: 0.83, short of 0.9).
        job = cats_job(
            requester, gold_ratio=Decimal("0.5"), min_gold=4, max_open_assignments=5, gold_block_threshold=0.7
        )
        submit(assignment_claim(job_id=job.pk, worker=worker), worker, lambda i: "cat", callbacks)
        missed = [submit(assignment_claim(job_id=job.pk, worker=worker), worker, lambda i: "dog", callbacks)]
        missed.append(submit(assignment_claim(job_id=job.pk, worker=worker), worker, lambda i: "dog", callbacks))
        assert Participation.objects.get(job=job, worker=worker).blocked_at is not None  # nothing flagged yet: 2/6
        Participation.objects.filter(job=job, worker=worker).update(blocked_at=None, block_reason="")
        Item.objects.filter(pk__in=Answer.objects.filter(assignment__in=missed).values("item_id")).update(
            gold_flagged_at=timezone.now()
        )

        # As if the flags landed between the submit's read and its quality check: the counters say 2 of 6.
        quality_after_submit(assignment=missed[-1], missed_gold=[], record=(2, 6))

        assert Participation.objects.get(job=job, worker=worker).blocked_at is None

    def test_a_worker_who_always_answers_the_commonest_gold_class_is_blocked(self, requester, callbacks):
        """Issue 16: raw gold accuracy let "always the first class" through. Three quarters of this job's gold are
        cats: answering 'cat' to everything is right three times in four, and 0 times in 10 on the dogs. No one else
        answers these items, so gold is the only evidence: at the demo's threshold, 0.65, it is enough within 40."""
        job = JobFactory(
            requester=requester,
            items_per_task=1,
            gold_ratio=Decimal("0.5"),
            min_gold=4,
            max_open_assignments=60,
            gold_block_threshold=0.65,
        )
        upload_receive(job=job, user=requester, file=csv_file(csv_rows(60)), kind="items")
        gold = "image_url,gold_label\n" + "".join(
            f"https://example.com/g{i}.jpg,{'dog' if i % 4 == 0 else 'cat'}\n" for i in range(40)
        )
        upload_receive(job=job, user=requester, file=csv_file(gold, "gold.csv"), kind="gold")
        fund(job)
        job = job_transition(job=job, action="launch")
        worker, rng = WorkerFactory(), random.Random(5)

        for _ in range(40):
            try:
                assignment = assignment_claim(job_id=job.pk, worker=worker, rng=rng)
            except NotEligible:
                break
            submit(assignment, worker, lambda item: "cat", callbacks)

        blocked = Participation.objects.get(job=job, worker=worker)
        assert blocked.blocked_at is not None, (blocked.gold_correct, blocked.gold_answered)
        assert blocked.gold_correct / blocked.gold_answered >= 0.6  # raw accuracy never said so

    def test_only_a_submit_that_could_fail_the_worker_pays_for_the_screening(
        self, requester, worker, callbacks, django_assert_num_queries
    ):
        job = cats_job(requester, gold_ratio=Decimal("0.5"), min_gold=4, max_open_assignments=5)
        for _ in range(2):  # 4 gold answers, all right: screened once, at the fourth
            done = submit(assignment_claim(job_id=job.pk, worker=worker), worker, lambda i: "cat", callbacks)
        right = submit(assignment_claim(job_id=job.pk, worker=worker), worker, lambda i: "cat", callbacks)

        with django_assert_num_queries(0):  # right answers after a screen that passed: nothing can have dropped
            quality_after_submit(assignment=right, missed_gold=[], record=(6, 6))
        # Before min_gold was reached: the first screen (the gold counts, then the latest aggregation and the
        # worker's confusion matrix in it: none yet, so no real answers are read).
        with django_assert_num_queries(3):
            quality_after_submit(assignment=done, missed_gold=[], record=(4, 4))


class TestFastAnswers:
    def test_a_too_fast_submit_is_flagged(self, requester, worker, callbacks):
        job = cats_job(requester, min_seconds_per_item=30)

        done = submit(assignment_claim(job_id=job.pk, worker=worker), worker, lambda i: "cat", callbacks)

        assert done.is_fast is True
        assert Participation.objects.get(job=job, worker=worker).blocked_at is None

    def test_a_job_can_block_workers_who_answer_too_fast(self, requester, worker, callbacks):
        job = cats_job(requester, min_seconds_per_item=30, fast_answer_action="block")

        submit(assignment_claim(job_id=job.pk, worker=worker), worker, lambda i: "cat", callbacks)

        assert Participation.objects.get(job=job, worker=worker).blocked_at is not None

    def test_an_honest_pace_is_not_flagged(self, requester, worker, callbacks):
        job = cats_job(requester, min_seconds_per_item=30)
        assignment = assignment_claim(job_id=job.pk, worker=worker)
        Assignment.objects.filter(pk=assignment.pk).update(created_at=timezone.now() - timedelta(minutes=5))
        assignment.refresh_from_db()

        assert submit(assignment, worker, lambda i: "cat", callbacks).is_fast is False


def test_claims_beyond_the_rate_limit_get_429_until_the_window_ends(api, requester, worker, monkeypatch):
    monkeypatch.setitem(WindowRateThrottle.THROTTLE_RATES, "claim", "2/min")
    now = [60_000.0 + 10]  # 10 s into a one-minute window
    monkeypatch.setattr(WindowRateThrottle, "timer", lambda self: now[0])
    job = cats_job(requester, max_open_assignments=10)
    client = api.as_user(worker)

    codes = [client.post(f"/api/v1/work/jobs/{job.pk}/claim/").status_code for _ in range(3)]
    refused = client.post(f"/api/v1/work/jobs/{job.pk}/claim/")
    now[0] += 50  # the next window
    after = client.post(f"/api/v1/work/jobs/{job.pk}/claim/")

    assert codes == [201, 201, 429]
    assert refused.json()["code"] == "throttled"
    assert refused.headers["Retry-After"] == "50"
    assert after.status_code == 201


def test_submit_and_claim_counts_against_the_claim_rate_too(api, requester, worker, monkeypatch):
    monkeypatch.setitem(WindowRateThrottle.THROTTLE_RATES, "claim", "2/min")
    monkeypatch.setattr(WindowRateThrottle, "timer", lambda self: 60_000.0 + 10)
    job = cats_job(requester, max_open_assignments=10)
    client = api.as_user(worker)
    first = client.post(f"/api/v1/work/jobs/{job.pk}/claim/").json()
    second = client.post(f"/api/v1/work/jobs/{job.pk}/claim/").json()
    answers = [{"position": item["position"], "answer": "cat"} for item in first["items"]]

    combined = client.post(f"/api/v1/work/assignments/{first['id']}/submit-and-claim/", {"answers": answers})
    plain = client.post(f"/api/v1/work/assignments/{first['id']}/submit/", {"answers": answers})

    assert (combined.status_code, combined.json()["code"]) == (429, "throttled")
    assert plain.status_code == 200  # the submit's own rate is not used up
    assert client.get(f"/api/v1/work/assignments/{second['id']}/").json()["status"] == "open"


def test_ban_helper_refuses_a_second_standing_ban(worker):
    admin = UserFactory(is_staff=True)
    worker_ban(worker=worker, reason="first", by=admin)

    with pytest.raises(Exception, match="already banned"):
        worker_ban(worker=worker, reason="second", by=admin)

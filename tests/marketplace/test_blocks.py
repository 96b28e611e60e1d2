"""Blocks are recorded (reason, who, when), two-sided (lifted with a reason; the work a block rejected is reviewed
again) and visible to the worker; a requester may block a worker from one job or from all their jobs."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from marketplace.errors import NotEligible
from marketplace.models import Assignment, AssignmentStatus, Block, Dispute, MicroTask, Participation, ReviewStatus
from marketplace.selectors import job_slots_owed
from marketplace.services.assignments import assignment_claim
from marketplace.services.disputes import appeal_file
from marketplace.services.funding import jobs_slots_fund_waiting
from payments.selectors import account_escrow_get
from payments.services.deposits import deposit_create
from tests.factories import UserFactory, WorkerFactory
from tests.marketplace.helpers import issue_job, launched_job, work_on
from tests.payments.invariants import ledger_invariant_violations

pytestmark = pytest.mark.django_db
PRICE = 48


@pytest.fixture
def job(requester):
    return issue_job(requester)


def gold_blocked(job, callbacks) -> tuple[object, list[Assignment]]:
    """A spammer whose two submits quality control rejects when it blocks them (0 of 2 gold right)."""
    spammer = WorkerFactory()
    done = [work_on(job, spammer, "dog", callbacks) for _ in range(2)]
    assert Participation.objects.get(job=job, worker=spammer).blocked_at is not None
    return spammer, done


def test_a_requester_blocks_a_worker_on_a_job_and_the_worker_sees_why_and_how_to_appeal(
    api, requester_api, requester, job, callbacks
):
    worker = WorkerFactory()
    pending = work_on(job, worker, "cat", callbacks)

    blocked = requester_api.post(
        f"/api/v1/jobs/{job.pk}/workers/{worker.pk}/block/", {"reason": "Copies answers from a bot."}
    )
    refused = api.as_user(worker).post(f"/api/v1/work/jobs/{job.pk}/claim/")
    seen = api.as_user(worker).get("/api/v1/work/blocks/").json()["results"]

    assert blocked.status_code == 201, blocked.json()
    body = blocked.json()
    assert (body["scope"], body["job"], body["source"], body["created_by"]) == (
        "job",
        job.pk,
        "requester",
        requester.pk,
    )
    assert body["rejected"] == [pending.pk]
    assert (refused.status_code, refused.json()["extra"]["reason"]) == (403, "blocked")
    [mine] = seen
    assert (mine["scope"], mine["job_title"], mine["reason"], mine["lifted_at"]) == (
        "job",
        job.title,
        "Copies answers from a bot.",
        None,
    )
    [rejection] = mine["rejected"]
    assert (rejection["assignment"], rejection["review_status"], rejection["appeal"]) == (pending.pk, "rejected", None)
    assert rejection["appeal_until"] is not None
    assert "/appeal/" in mine["how_to_appeal"]
    pending.refresh_from_db()
    assert (pending.review_status, pending.reject_reason) == (ReviewStatus.REJECTED, "Copies answers from a bot.")


def test_only_the_jobs_requester_blocks_on_it_and_always_with_a_reason(api, requester_api, outsider_api, job):
    worker = WorkerFactory()
    url = f"/api/v1/jobs/{job.pk}/workers/{worker.pk}/block/"

    outsider = outsider_api.post(url, {"reason": "x"})
    as_worker = api.as_user(WorkerFactory()).post(url, {"reason": "x"})
    no_reason = requester_api.post(url, {"reason": "  "})
    not_a_worker = requester_api.post(f"/api/v1/jobs/{job.pk}/workers/{UserFactory().pk}/block/", {"reason": "x"})
    first = requester_api.post(url, {"reason": "x"})
    twice = requester_api.post(url, {"reason": "again"})

    assert (outsider.status_code, as_worker.status_code, not_a_worker.status_code) == (404, 403, 404)
    assert no_reason.status_code == 400 and "reason" in str(no_reason.json())
    assert first.status_code == 201
    assert (twice.status_code, twice.json()["code"], twice.json()["extra"]["block"]) == (
        409,
        "already_blocked",
        first.json()["id"],
    )
    assert Block.objects.count() == 1


def test_unblocking_reopens_the_gold_rejections_for_review_and_takes_back_the_untaken_replacement_slots(
    requester, requester_api, job, callbacks, api
):
    deposit_create(user=requester, amount=1000, currency="USD", idempotency_key="balance")
    spammer, rejected = gold_blocked(job, callbacks)
    tasks = [a.task_id for a in rejected]
    assert list(MicroTask.objects.filter(pk__in=tasks).values_list("overlap_target", flat=True)) == [2, 2]

    lifted = requester_api.post(
        f"/api/v1/jobs/{job.pk}/workers/{spammer.pk}/unblock/", {"reason": "The gold keys were wrong."}
    )

    assert lifted.status_code == 200, lifted.json()
    assert (lifted.json()["lift_reason"], lifted.json()["lifted_at"] is not None) == ("The gold keys were wrong.", True)
    for assignment in rejected:
        assignment.refresh_from_db()
        assert (assignment.review_status, assignment.reject_reason, assignment.reviewed_at) == ("pending", "", None)
        assert assignment.auto_approve_at > timezone.now() + job.auto_approve_delay - timedelta(minutes=1)
    assert list(MicroTask.objects.filter(pk__in=tasks).values_list("overlap_target", flat=True)) == [1, 1]
    assert Participation.objects.get(job=job, worker=spammer).blocked_at is None
    assert assignment_claim(job_id=job.pk, worker=spammer).status == AssignmentStatus.OPEN  # may work again
    review = requester_api.post(f"/api/v1/jobs/{job.pk}/review/", {"approve": [a.pk for a in rejected]}, format="json")
    assert review.json()["approved"] == [a.pk for a in rejected]
    escrow = account_escrow_get(job_id=job.pk, currency="USD").balance
    assert escrow >= job_slots_owed(job=job) * PRICE
    assert api.as_user(spammer).get("/api/v1/work/blocks/").json()["results"][0]["lift_reason"]
    assert ledger_invariant_violations() == []


def test_an_unblock_the_money_cannot_cover_is_refused_with_the_shortfall_and_changes_nothing(
    requester, requester_api, job, callbacks, settings
):
    spammer, rejected = gold_blocked(job, callbacks)  # no balance: both replacement slots wait for funds
    settings.APPEAL_WINDOW = timedelta(0)  # the rejections no longer hold money: the sweep spends it on the slots
    assert jobs_slots_fund_waiting() == 2
    honest = WorkerFactory()
    for _ in range(4):
        work_on(job, honest, "cat", callbacks)
    settings.APPEAL_WINDOW = timedelta(days=7)
    url = f"/api/v1/jobs/{job.pk}/workers/{spammer.pk}/unblock/"

    refused = requester_api.post(url, {"reason": "Lift it."})

    assert (refused.status_code, refused.json()["code"]) == (409, "insufficient_funds")
    assert refused.json()["extra"]["shortfall"] == 2 * PRICE  # the two reopened submissions
    assert Participation.objects.get(job=job, worker=spammer).blocked_at is not None
    assert set(Assignment.objects.filter(pk__in=[a.pk for a in rejected]).values_list("review_status", flat=True)) == {
        "rejected"
    }
    assert Block.objects.get(worker=spammer).lifted_at is None

    deposit_create(user=requester, amount=2 * PRICE, currency="USD", idempotency_key="cover")
    assert requester_api.post(url, {"reason": "Lift it."}).status_code == 200
    everything = list(
        Assignment.objects.filter(job=job, status=AssignmentStatus.SUBMITTED).values_list("id", flat=True)
    )
    review = requester_api.post(f"/api/v1/jobs/{job.pk}/review/", {"approve": everything}, format="json").json()
    assert review["refused"] == []
    assert ledger_invariant_violations() == []


def test_an_appealed_rejection_is_left_to_its_appeal_when_the_block_is_lifted(requester, requester_api, job, callbacks):
    deposit_create(user=requester, amount=1000, currency="USD", idempotency_key="balance")
    spammer, (appealed, other) = gold_blocked(job, callbacks)
    appeal_file(assignment_id=appealed.pk, worker=spammer, message="My answers were right.")

    requester_api.post(f"/api/v1/jobs/{job.pk}/workers/{spammer.pk}/unblock/", {"reason": "Fine."})

    appealed.refresh_from_db()
    other.refresh_from_db()
    assert (appealed.review_status, other.review_status) == ("rejected", "pending")
    assert Dispute.objects.get(assignment=appealed).status == "open"


def test_a_gold_block_tells_the_requester_of_each_rejection(
    requester,
    job,
    callbacks,
    receiver,
    make_endpoint,  # noqa: F811
):
    make_endpoint(requester, job, events=["assignment.rejected"])
    spammer = WorkerFactory()
    first = work_on(job, spammer, "dog", callbacks)

    second = work_on(job, spammer, "dog", callbacks)  # blocked: both submissions rejected by quality control

    events = receiver.events("assignment.rejected")
    assert sorted(e["data"]["assignment"] for e in events) == [first.pk, second.pk]
    for event in events:
        assert event["data"]["review_status"] == "rejected"
        assert event["data"]["rejected_by"] == "quality_control"
        assert "Gold accuracy" in event["data"]["reject_reason"]
        assert event["data"]["worker"] == spammer.pk


class TestBlockedFromEveryJobOfARequester:
    def test_the_worker_can_claim_none_of_their_jobs_and_their_open_work_returns_to_the_pool(
        self, api, requester, requester_api, job
    ):
        worker = WorkerFactory()
        other_job = launched_job(requester, n_items=2, items_per_task=1, gold_ratio="0")
        elsewhere = launched_job(UserFactory(is_requester=True), n_items=2, items_per_task=1, gold_ratio="0")
        held = assignment_claim(job_id=other_job.pk, worker=worker)

        blocked = requester_api.post(f"/api/v1/workers/{worker.pk}/block/", {"reason": "Abusive messages."})
        listed = {j["id"] for j in api.as_user(worker).get("/api/v1/work/jobs/").json()["results"]}
        with pytest.raises(NotEligible) as refused:
            assignment_claim(job_id=job.pk, worker=worker)

        assert blocked.status_code == 201
        assert (blocked.json()["scope"], blocked.json()["job"]) == ("requester", None)
        assert listed == {elsewhere.pk}
        assert refused.value.extra["reason"] == "blocked"
        assert "every job of this requester" in refused.value.message
        held.refresh_from_db()
        assert held.status == AssignmentStatus.RELEASED
        assert assignment_claim(job_id=elsewhere.pk, worker=worker)

    def test_lifting_it_opens_their_jobs_again_and_keeps_the_record(self, requester, requester_api, job):
        worker = WorkerFactory()
        requester_api.post(f"/api/v1/workers/{worker.pk}/block/", {"reason": "Abusive messages."})

        lifted = requester_api.post(f"/api/v1/workers/{worker.pk}/unblock/", {"reason": "Apologised."})
        again = requester_api.post(f"/api/v1/workers/{worker.pk}/unblock/", {"reason": "Apologised."})
        listing = requester_api.get("/api/v1/blocks/").json()["results"]

        assert lifted.status_code == 200 and lifted.json()["lift_reason"] == "Apologised."
        assert (again.status_code, again.json()["code"]) == (409, "not_blocked")
        assert assignment_claim(job_id=job.pk, worker=worker).status == AssignmentStatus.OPEN
        assert [(b["scope"], b["reason"], b["lifted_at"] is not None) for b in listing] == [
            ("requester", "Abusive messages.", True)
        ]

    def test_another_requester_cannot_see_or_lift_it(self, requester_api, outsider_api, job):
        worker = WorkerFactory()
        requester_api.post(f"/api/v1/workers/{worker.pk}/block/", {"reason": "No."})

        assert outsider_api.get("/api/v1/blocks/").json()["results"] == []
        assert outsider_api.post(f"/api/v1/workers/{worker.pk}/unblock/", {"reason": "x"}).status_code == 409
        assert Block.objects.get().lifted_at is None


def test_staff_block_and_lift_in_the_admin_with_a_reason_on_record(client, job):
    staff, worker = UserFactory(is_staff=True, is_superuser=True), WorkerFactory()
    client.force_login(staff)

    added = client.post(
        reverse("admin:marketplace_block_add"), {"worker": worker.pk, "job": job.pk, "reason": "Fraud report #12"}
    )
    block = Block.objects.get()
    lifted = client.post(reverse("admin:marketplace_block_change", args=[block.pk]), {"lift": "Report withdrawn."})

    assert added.status_code == 302 and lifted.status_code == 302
    block.refresh_from_db()
    assert (block.source, block.created_by, block.job, block.reason) == ("staff", staff, job, "Fraud report #12")
    assert (block.lifted_by, block.lift_reason) == (staff, "Report withdrawn.")
    assert Participation.objects.get(job=job, worker=worker).blocked_at is None


def test_the_block_lists_cost_the_same_few_queries_however_many_blocks(
    api, requester, requester_api, job, callbacks, django_assert_max_num_queries
):
    deposit_create(user=requester, amount=1000, currency="USD", idempotency_key="balance")
    spammer = gold_blocked(job, callbacks)[0]
    for _ in range(2):
        gold_blocked(job, callbacks)
    for worker in WorkerFactory.create_batch(3):
        requester_api.post(f"/api/v1/workers/{worker.pk}/block/", {"reason": "No."})
    for other in UserFactory.create_batch(3, is_requester=True):
        api.as_user(other).post(f"/api/v1/workers/{spammer.pk}/block/", {"reason": "Seen elsewhere."})

    with django_assert_max_num_queries(3):  # count, page, the rejected work
        listing = requester_api.get("/api/v1/blocks/")
    with django_assert_max_num_queries(4):  # and the appeals of the rejected work
        own = api.as_user(spammer).get("/api/v1/work/blocks/")

    assert listing.json()["count"] == 6
    assert own.json()["count"] == 4

"""Money through the marketplace: escrow at launch, approval pays exactly once, rejection, auto-approval, bonuses,
and the refund of a finished job's unspent escrow. The ledger's invariants hold after every step."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from marketplace.models import Assignment, Job, JobStatus, ReviewStatus
from marketplace.services.assignments import assignment_claim, assignment_submit
from marketplace.services.jobs import job_transition
from marketplace.services.reviews import assignment_approve, assignment_auto_approve_due, job_cost
from marketplace.tasks import jobs_settle_task
from payments.models import Account, AccountKind
from payments.selectors import account_escrow_get, balance_list
from payments.services.deposits import deposit_create
from tests.factories import JobFactory, WorkerFactory
from tests.marketplace.helpers import answers_for, csv_file, csv_rows, launched_job
from tests.payments.invariants import ledger_invariant_violations
from tests.threads import run_in_threads

pytestmark = pytest.mark.django_db
REWARD, FEE = 25, 5  # the factory's reward at the default 20% fee


def balances(user) -> dict:
    found = balance_list(user=user)
    return vars(found[0]) if found else {}


def submitted(job, worker=None):
    worker = worker or WorkerFactory()
    assignment = assignment_claim(job_id=job.pk, worker=worker)
    return assignment_submit(assignment_id=assignment.pk, worker=worker, answers=answers_for(assignment))


@pytest.fixture
def job(requester):
    return launched_job(requester, n_items=4, items_per_task=2, overlap_min=2, overlap_max=2, gold_ratio=Decimal(0))


def test_launching_moves_the_full_cost_into_escrow(job, requester):
    assert job_cost(job) == 2 * 2 * (REWARD + FEE)
    assert (job.status, job.fee_rate) == (JobStatus.ACTIVE, Decimal("0.2000"))
    assert balances(requester)["available"] == 0
    assert account_escrow_get(job_id=job.pk, currency="USD").balance == 120
    assert ledger_invariant_violations() == []


def test_a_launch_without_enough_funds_is_refused_and_changes_nothing(requester_api, requester):
    job = JobFactory(requester=requester, gold_ratio=0)
    requester_api.post(f"/api/v1/jobs/{job.pk}/uploads/", {"file": csv_file(csv_rows(10))}, format="multipart")
    deposit_create(user=requester, amount=50, currency="USD", idempotency_key="short")  # the job costs 90

    response = requester_api.post(f"/api/v1/jobs/{job.pk}/launch/")

    assert response.status_code == 409
    assert response.json()["code"] == "insufficient_funds"
    job.refresh_from_db()
    assert job.status == JobStatus.DRAFT
    assert balances(requester)["available"] == 50
    assert response.json()["extra"]["shortfall"] == 40
    assert account_escrow_get(job_id=job.pk, currency="USD") is None


def test_before_launch_the_requester_sees_the_cost_and_what_to_deposit_and_launching_takes_exactly_that(
    requester_api, requester
):
    job = JobFactory(requester=requester, items_per_task=4, overlap_min=2, overlap_max=3, gold_ratio=0)
    requester_api.post(f"/api/v1/jobs/{job.pk}/uploads/", {"file": csv_file(csv_rows(10))}, format="multipart")
    deposit_create(user=requester, amount=200, currency="USD", idempotency_key="some")

    before = requester_api.get(f"/api/v1/jobs/{job.pk}/cost/")

    assert before.status_code == 200, before.json()
    assert before.json() == {
        "currency": "USD",
        "tasks": 3,  # 4 + 4 + 2 items
        "assignments": 9,  # each task at overlap_max
        "reward_cents": REWARD,
        "fee_cents": FEE,
        "fee_rate": 0.2,
        "total_cents": 9 * (REWARD + FEE),
        "bonus_fee_rate": 0.2,
        "available_cents": 200,
        "shortfall_cents": 70,
    }
    assert requester_api.post(f"/api/v1/jobs/{job.pk}/launch/").json()["extra"]["shortfall"] == 70
    deposit_create(user=requester, amount=70, currency="USD", idempotency_key="the rest")
    assert requester_api.post(f"/api/v1/jobs/{job.pk}/launch/").status_code == 200
    after = requester_api.get(f"/api/v1/jobs/{job.pk}/cost/").json()
    assert account_escrow_get(job_id=job.pk, currency="USD").balance == after["total_cents"] == 270
    assert (after["available_cents"], after["shortfall_cents"]) == (0, None)


def test_only_the_jobs_requester_sees_its_cost(api, job, outsider_api, worker):
    assert outsider_api.get(f"/api/v1/jobs/{job.pk}/cost/").status_code == 404
    assert api.as_user(worker).get(f"/api/v1/jobs/{job.pk}/cost/").status_code == 403


def test_approving_pays_the_reward_to_the_worker_and_the_fee_to_the_platform_once(requester_api, job):
    done = submitted(job)

    first = requester_api.post(f"/api/v1/jobs/{job.pk}/review/", {"approve": [done.pk]}, format="json")
    again = requester_api.post(f"/api/v1/jobs/{job.pk}/review/", {"approve": [done.pk]}, format="json")

    assert first.json()["approved"] == [done.pk] and again.json()["approved"] == [done.pk]
    assert balances(done.worker)["payable"] == REWARD
    assert account_escrow_get(job_id=job.pk, currency="USD").balance == 120 - REWARD - FEE
    done.refresh_from_db()
    assert done.review_status == ReviewStatus.APPROVED
    assert ledger_invariant_violations() == []


def test_a_rejection_needs_a_reason_and_pays_nothing(requester_api, job):
    done = submitted(job)

    no_reason = requester_api.post(
        f"/api/v1/jobs/{job.pk}/review/", {"reject": [{"id": done.pk, "reason": " "}]}, format="json"
    )
    rejected = requester_api.post(
        f"/api/v1/jobs/{job.pk}/review/", {"reject": [{"id": done.pk, "reason": "All answers 'cat'."}]}, format="json"
    )
    approve_after = requester_api.post(f"/api/v1/jobs/{job.pk}/review/", {"approve": [done.pk]}, format="json")

    assert (no_reason.status_code, no_reason.json()["code"]) == (400, "invalid")
    assert rejected.json()["rejected"] == [done.pk]
    assert approve_after.json()["refused"][0]["code"] == "already_reviewed"
    done.refresh_from_db()
    assert (done.review_status, done.reject_reason) == (ReviewStatus.REJECTED, "All answers 'cat'.")
    assert balances(done.worker) == {}
    assert ledger_invariant_violations() == []


def test_work_is_approved_automatically_after_the_jobs_delay(job):
    due, fresh = submitted(job), submitted(job)
    Assignment.objects.filter(pk=due.pk).update(auto_approve_at=timezone.now() - timedelta(seconds=1))

    assert assignment_auto_approve_due() == 1

    due.refresh_from_db()
    fresh.refresh_from_db()
    assert (due.review_status, fresh.review_status) == (ReviewStatus.APPROVED, ReviewStatus.PENDING)
    assert balances(due.worker)["payable"] == REWARD


def test_another_requester_cannot_review_or_pay_bonuses_on_a_job(outsider_api, api, job):
    done = submitted(job)

    review = outsider_api.post(f"/api/v1/jobs/{job.pk}/review/", {"approve": [done.pk]}, format="json")
    listing = outsider_api.get(f"/api/v1/jobs/{job.pk}/assignments/")
    as_worker = api.as_user(done.worker).post(f"/api/v1/jobs/{job.pk}/review/", {"approve": [done.pk]}, format="json")

    assert (review.status_code, listing.status_code, as_worker.status_code) == (404, 404, 403)
    done.refresh_from_db()
    assert done.review_status == ReviewStatus.PENDING


def test_a_bonus_comes_from_the_requesters_balance_with_a_reason_and_carries_the_platform_fee(
    requester_api, requester, job
):
    done = submitted(job)
    deposit_create(user=requester, amount=500, currency="USD", idempotency_key="for-bonuses")
    body = {"worker": done.worker_id, "amount_cents": 200, "reason": "Great work", "idempotency_key": "b1"}

    first = requester_api.post(f"/api/v1/jobs/{job.pk}/bonuses/", body, format="json")
    retry = requester_api.post(f"/api/v1/jobs/{job.pk}/bonuses/", body, format="json")
    too_much = requester_api.post(
        f"/api/v1/jobs/{job.pk}/bonuses/", {**body, "amount_cents": 220, "idempotency_key": "b2"}, format="json"
    )

    assert first.status_code == retry.status_code == 201
    assert (
        first.json()
        == retry.json()
        == {
            "transaction": first.json()["transaction"],
            "worker": done.worker_id,
            "amount_cents": 200,
            "fee_cents": 40,  # the job's fee rate, 20%, on top: a bonus costs what a reward of the same size costs
        }
    )
    assert too_much.status_code == 409 and too_much.json()["code"] == "insufficient_funds"
    assert too_much.json()["extra"]["shortfall"] == 220 + 44 - 260
    assert balances(done.worker)["payable"] == 200
    assert balances(requester)["available"] == 500 - 240
    fees = Account.objects.get(kind=AccountKind.PLATFORM_FEES, currency="USD")
    assert fees.balance == 40
    assert ledger_invariant_violations() == []


def test_the_cost_endpoint_shows_the_fee_rate_bonuses_carry(requester_api, job):
    cost = requester_api.get(f"/api/v1/jobs/{job.pk}/cost/").json()

    assert cost["bonus_fee_rate"] == cost["fee_rate"] == 0.2


def test_cancelling_refunds_the_unspent_escrow_but_keeps_what_pending_work_may_cost(job, requester):
    pending = submitted(job)

    job_transition(job=job, action="cancel")

    assert balances(requester)["available"] == 120 - (REWARD + FEE)
    assignment_approve(assignment_id=pending.pk)
    assert balances(requester)["available"] == 120 - (REWARD + FEE)
    assert account_escrow_get(job_id=job.pk, currency="USD").balance == 0
    assert ledger_invariant_violations() == []


def test_a_rejection_keeps_its_reward_in_escrow_until_the_appeal_window_closes(job, requester, settings):
    done = submitted(job)
    from marketplace.services.reviews import assignment_reject

    assignment_reject(assignment_id=done.pk, by=requester, reason="wrong")
    job_transition(job=job, action="cancel")
    kept = account_escrow_get(job_id=job.pk, currency="USD").balance
    settings.APPEAL_WINDOW = timedelta(seconds=0)
    jobs_settle_task()

    assert kept == REWARD + FEE
    assert account_escrow_get(job_id=job.pk, currency="USD").balance == 0
    assert balances(requester)["available"] == 120
    assert ledger_invariant_violations() == []


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_approvals_of_one_assignment_pay_once(requester):
    job = launched_job(requester, n_items=2, items_per_task=2, overlap_min=1, overlap_max=1, gold_ratio=Decimal(0))
    done = submitted(job)

    run_in_threads(20, lambda i: assignment_approve(assignment_id=done.pk, by=requester))

    assert balances(done.worker)["payable"] == REWARD
    assert account_escrow_get(job_id=job.pk, currency="USD").balance == 0
    assert Job.objects.get(pk=job.pk).status == JobStatus.COMPLETED
    assert ledger_invariant_violations() == []

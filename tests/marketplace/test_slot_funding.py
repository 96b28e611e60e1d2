"""No slot is offered that its reward and fee are not reserved for: a slot added after launch (a block's
replacement, adaptive overlap) is funded in the transaction that adds it, or waits for the requester's money, which
the requester is told about; and every piece of accepted work can be paid."""

import pytest

from marketplace.errors import NoWorkAvailable
from marketplace.models import Assignment, JobStatus, MicroTask, Participation, ReviewStatus
from marketplace.selectors import job_slots_owed
from marketplace.services.assignments import assignment_claim, assignment_submit
from marketplace.services.blocks import participation_block
from marketplace.services.funding import job_slots_add, jobs_slots_fund_waiting
from marketplace.services.reviews import assignment_approve
from marketplace.tasks import assignment_auto_approve_task
from payments.selectors import account_escrow_get, balance_list
from payments.services.deposits import deposit_create
from tests.factories import WorkerFactory
from tests.marketplace.helpers import answers_for, issue_job, launched_job, work_on
from tests.marketplace.invariants import assignment_invariant_violations
from tests.payments.helpers import run_in_threads
from tests.payments.invariants import ledger_invariant_violations

pytestmark = pytest.mark.django_db
PRICE = 48  # reward 40 + the 20% fee


def escrow(job) -> int:
    return account_escrow_get(job_id=job.pk, currency="USD").balance


def available(user) -> int:
    return next((b.available for b in balance_list(user=user) if b.currency == "USD"), 0)


def spammer_approved_once_then_blocked(requester_api, job, callbacks):
    spammer = WorkerFactory()
    first = work_on(job, spammer, "dog", callbacks)  # the gold key is "cat": 0 of 1, below min_gold
    approved = requester_api.post(f"/api/v1/jobs/{job.pk}/review/", {"approve": [first.pk]}, format="json").json()
    assert approved["approved"] == [first.pk]
    second = work_on(job, spammer, "dog", callbacks)  # 0 of 2: blocked
    assert Participation.objects.get(job=job, worker=spammer).blocked_at is not None
    second.refresh_from_db()
    assert second.review_status == ReviewStatus.REJECTED
    return spammer, second


def test_the_black_box_scenario_every_approval_after_a_block_is_paid(requester, requester_api, callbacks):
    job = issue_job(requester)
    deposit_create(user=requester, amount=12_176, currency="USD", idempotency_key="the rest of the balance")
    assert escrow(job) == 4 * PRICE
    spammer_approved_once_then_blocked(requester_api, job, callbacks)
    honest = WorkerFactory()

    done = [work_on(job, honest, "cat", callbacks).pk for _ in range(4)]  # the two replacement slots and two untouched
    review = requester_api.post(f"/api/v1/jobs/{job.pk}/review/", {"approve": done}, format="json").json()

    assert review == {"approved": done, "rejected": [], "refused": []}
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED
    # The block's two replacement slots were topped up from the balance: 2 x 48. The escrow keeps the price of the
    # spammer's rejected work while they may still appeal it.
    assert available(requester) == 12_176 - 2 * PRICE
    assert escrow(job) == PRICE == job_slots_owed(job=job) * PRICE
    assert ledger_invariant_violations() == []


def test_without_the_money_the_replacement_slots_wait_the_requester_is_told_and_a_deposit_opens_them(
    requester, requester_api, callbacks, api, receiver, make_endpoint
):
    job = issue_job(requester)
    make_endpoint(requester, job, events=["job.funds_needed"])
    with callbacks(execute=True):
        spammer_approved_once_then_blocked(requester_api, job, callbacks)
    honest = WorkerFactory()

    done = [work_on(job, honest, "cat", callbacks).pk for _ in range(2)]  # the two slots nobody touched
    with pytest.raises(NoWorkAvailable):
        assignment_claim(job_id=job.pk, worker=honest)
    progress = requester_api.get(f"/api/v1/jobs/{job.pk}/progress/").json()
    [told] = receiver.events("job.funds_needed")
    job.refresh_from_db()

    assert (progress["slots_waiting_for_funds"], progress["deposit_needed_cents"]) == (2, 2 * PRICE)
    assert told["data"]["slots_waiting_for_funds"] == 2 and told["data"]["deposit_needed_cents"] == 2 * PRICE
    assert job.status == JobStatus.ACTIVE  # its items still need answers: not complete
    assert escrow(job) >= job_slots_owed(job=job) * PRICE

    with callbacks(execute=True):
        deposited = requester_api.post(
            "/api/v1/payments/deposits/", {"amount": 2 * PRICE}, HTTP_IDEMPOTENCY_KEY="top-up", format="json"
        )
    assert deposited.status_code == 201
    done += [work_on(job, honest, "cat", callbacks).pk for _ in range(2)]
    review = requester_api.post(f"/api/v1/jobs/{job.pk}/review/", {"approve": done}, format="json").json()

    assert review == {"approved": done, "rejected": [], "refused": []}
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED
    assert requester_api.get(f"/api/v1/jobs/{job.pk}/progress/").json()["slots_waiting_for_funds"] == 0
    assert ledger_invariant_violations() == []


def test_auto_approval_of_work_done_on_replacement_slots_never_fails(requester, requester_api, callbacks, settings):
    job = issue_job(requester)
    job.auto_approve_delay = settings.APPEAL_WINDOW * 0
    job.save(update_fields=["auto_approve_delay"])
    deposit_create(user=requester, amount=500, currency="USD", idempotency_key="some")
    spammer_approved_once_then_blocked(requester_api, job, callbacks)
    honest = WorkerFactory()
    for _ in range(4):
        work_on(job, honest, "cat", callbacks)

    assignment_auto_approve_task()

    assert not Assignment.objects.filter(job=job, worker=honest).exclude(review_status=ReviewStatus.APPROVED).exists()
    assert ledger_invariant_violations() == []


class TestTheLaunchReserve:
    """Adaptive jobs reserve `overlap_max` per task at launch; raises within it are paid from that reserve."""

    @pytest.fixture
    def adaptive(self, requester):
        job = launched_job(requester, n_items=2, items_per_task=1, overlap_min=1, overlap_max=3, gold_ratio="0")
        deposit_create(user=requester, amount=1000, currency="USD", idempotency_key="balance")
        return job, list(MicroTask.objects.filter(job=job).order_by("number"))

    def test_raises_within_overlap_max_take_nothing_from_the_balance(self, requester, adaptive):
        job, (first, second) = adaptive

        opened = job_slots_add(job=job, raise_to={first.pk: 3, second.pk: 3})

        assert (opened.opened, opened.waiting) == (4, 0)
        assert available(requester) == 1000
        assert escrow(job) == 2 * 3 * 30 == job_slots_owed(job=job) * 30

    def test_a_target_already_asked_for_is_not_asked_twice(self, requester, adaptive):
        job, (first, _) = adaptive

        job_slots_add(job=job, raise_to={first.pk: 2})
        again = job_slots_add(job=job, raise_to={first.pk: 2})

        first.refresh_from_db()
        assert (again.opened, first.overlap_target) == (0, 2)

    def test_what_the_reserve_cannot_pay_comes_from_the_balance_once(self, requester, adaptive):
        job, (first, second) = adaptive
        job_slots_add(job=job, raise_to={first.pk: 3, second.pk: 3})

        beyond = job_slots_add(job=job, add={first.pk: 2})

        assert (beyond.opened, beyond.waiting) == (2, 0)
        assert available(requester) == 1000 - 2 * 30
        assert escrow(job) == 8 * 30 == job_slots_owed(job=job) * 30
        assert ledger_invariant_violations() == []

    def test_a_job_that_no_longer_takes_claims_gets_no_slots(self, requester, adaptive):
        from marketplace.services.jobs import job_transition

        job, (first, _) = adaptive
        job_transition(job=job, action="cancel")

        assert job_slots_add(job=job, add={first.pk: 1}).opened == 0
        first.refresh_from_db()
        assert (first.overlap_target, first.unfunded_slots) == (1, 0)


def test_the_sweep_opens_waiting_slots_once_a_closed_appeal_window_frees_escrow(
    requester, requester_api, callbacks, settings
):
    job = issue_job(requester)
    spammer_approved_once_then_blocked(requester_api, job, callbacks)
    assert MicroTask.objects.filter(job=job, unfunded_slots__gt=0).count() == 2
    settings.APPEAL_WINDOW = settings.APPEAL_WINDOW * 0  # the spammer's rejection can no longer cost anything

    assert jobs_slots_fund_waiting() == 1  # its 48 pays one of the two waiting slots
    assert jobs_slots_fund_waiting() == 0
    assert sum(MicroTask.objects.filter(job=job).values_list("unfunded_slots", flat=True)) == 1
    assert escrow(job) == job_slots_owed(job=job) * PRICE


@pytest.mark.django_db(transaction=True)
def test_blocks_approvals_claims_and_deposits_racing_on_one_job_keep_every_slot_funded(requester):
    """Ten workers blocked at once while others claim and submit and the requester approves and deposits, each with
    its own connection: no deadlock or error, every replacement slot opened or waiting, the escrow never short."""
    job = launched_job(requester, n_items=40, items_per_task=1, overlap_min=2, overlap_max=2, gold_ratio="0")
    deposit_create(user=requester, amount=10 * 30, currency="USD", idempotency_key="half of what blocks will need")
    blocked, honest = WorkerFactory.create_batch(10), WorkerFactory.create_batch(5)
    for worker in blocked:
        for _ in range(2):
            held = assignment_claim(job_id=job.pk, worker=worker)
            assignment_submit(assignment_id=held.pk, worker=worker, answers=answers_for(held))

    def act(i: int) -> object:
        if i < 10:
            return participation_block(job=job, worker_id=blocked[i].pk, reason="racing")
        if i < 15:
            worker = honest[i - 10]
            for _ in range(3):
                held = assignment_claim(job_id=job.pk, worker=worker)
                assignment_submit(assignment_id=held.pk, worker=worker, answers=answers_for(held))
                assignment_approve(assignment_id=held.pk)
            return "worked"
        return deposit_create(user=requester, amount=5 * 30, currency="USD", idempotency_key=f"more-{i}")

    outcomes = run_in_threads(17, act)

    assert [o for o in outcomes if isinstance(o, Exception)] == []
    assert outcomes[:10] == [True] * 10
    tasks = MicroTask.objects.filter(job=job)
    assert sum(t.overlap_target - 2 + t.unfunded_slots for t in tasks) == 20  # a replacement per blocked submission
    escrow_balance = account_escrow_get(job_id=job.pk, currency="USD").balance
    assert escrow_balance >= job_slots_owed(job=job) * 30
    assert jobs_slots_fund_waiting() >= 0
    assert sum(t.unfunded_slots for t in MicroTask.objects.filter(job=job)) == 0  # 300 + 2 x 150 paid all twenty
    assert assignment_invariant_violations() == []
    assert ledger_invariant_violations() == []

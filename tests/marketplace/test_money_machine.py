"""A random walk through the marketplace's money: deposits, launches, work, approvals, rejections, disputes, bonuses,
blocks and unblocks (replacement slots funded or waiting for funds), payouts (some failing), cancellations. After
every step the books balance, nothing is paid twice, every slot that may still be paid is in escrow, and the
assignment engine's invariants hold (hypothesis stateful; real commits, so PostgreSQL's deferred ledger triggers
run)."""

import contextlib
from collections import Counter
from decimal import Decimal
from itertools import count

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from marketplace.errors import MarketplaceError
from marketplace.models import Assignment, AssignmentStatus, Block, Dispute, DisputeDecision, ReviewStatus
from marketplace.selectors import assignment_price, job_slots_owed
from marketplace.services.assignments import assignment_claim, assignment_submit
from marketplace.services.blocks import job_worker_block, job_worker_unblock
from marketplace.services.disputes import appeal_file, dispute_resolve
from marketplace.services.funding import jobs_slots_fund_waiting
from marketplace.services.jobs import job_create, job_transition
from marketplace.services.reviews import assignment_approve, assignment_reject, bonus_grant, job_cost
from marketplace.services.uploads import upload_receive
from payments.errors import PaymentsError
from payments.models import Payout, PayoutStatus, Transaction, TransactionKind
from payments.providers import provider_get
from payments.selectors import account_escrow_get
from payments.services import payouts
from payments.services.deposits import deposit_create
from payments.services.payouts import payout_request, payout_send
from tests.factories import RequesterFactory, UserFactory, WorkerFactory
from tests.marketplace.helpers import answers_for, csv_file, csv_rows
from tests.marketplace.invariants import assignment_invariant_violations
from tests.payments.invariants import ledger_invariant_violations

_keys = count(1)


class MarketMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        provider_get().reset()
        self.requester = RequesterFactory()
        self.workers = WorkerFactory.create_batch(3)
        self.admin = UserFactory(is_staff=True)
        self.jobs: list[int] = []

    def attempt(self, call) -> None:
        """Run a service; a refusal the rules allow (no funds, no work, already reviewed...) must change nothing."""
        with contextlib.suppress(MarketplaceError, PaymentsError):
            call()

    @rule(amount=st.integers(min_value=1, max_value=400))
    def deposit(self, amount: int) -> None:
        deposit_create(user=self.requester, amount=amount, currency="USD", idempotency_key=f"dep-{next(_keys)}")

    @rule(items=st.integers(min_value=1, max_value=4), funded=st.booleans())
    def launch(self, items: int, funded: bool) -> None:
        """Launch a job; unfunded launches are refused unless earlier deposits cover them."""
        job = job_create(
            requester=self.requester,
            title="machine",
            label_schema={"type": "single_choice", "classes": ["cat", "dog"]},
            item_schema={"fields": [{"name": "image_url", "type": "url"}]},
            overlap_min=2,
            overlap_max=2,
            items_per_task=1,
            reward_cents=7,
            gold_ratio=Decimal(0),
            max_open_assignments=5,
        )
        upload_receive(job=job, user=self.requester, file=csv_file(csv_rows(items)), kind="items")
        if funded:
            deposit_create(user=self.requester, amount=job_cost(job), currency="USD", idempotency_key=f"f-{job.pk}")
        self.attempt(lambda: job_transition(job=job, action="launch"))
        self.jobs.append(job.pk)

    def launched(self) -> list[int]:
        from marketplace.models import Job

        return list(Job.objects.filter(pk__in=self.jobs, launched_at__isnull=False).values_list("id", flat=True))

    @rule(data=st.data(), then=st.sampled_from(["approve", "reject", "leave"]))
    def work(self, data, then: str) -> None:
        """A worker claims and submits; the requester approves, rejects, or leaves it for later."""
        launched = self.launched()
        if not launched:
            return
        job_id, worker = data.draw(st.sampled_from(launched)), data.draw(st.sampled_from(self.workers))
        try:
            assignment = assignment_claim(job_id=job_id, worker=worker)
        except MarketplaceError:
            return
        assignment_submit(assignment_id=assignment.pk, worker=worker, answers=answers_for(assignment))
        if then == "approve":
            self.attempt(lambda: assignment_approve(assignment_id=assignment.pk, by=self.requester))
        elif then == "reject":
            self.attempt(lambda: assignment_reject(assignment_id=assignment.pk, by=self.requester, reason="no"))

    def pending(self):
        return list(
            Assignment.objects.filter(
                job_id__in=self.jobs, status=AssignmentStatus.SUBMITTED, review_status=ReviewStatus.PENDING
            ).values_list("id", flat=True)
        )

    @rule(decisions=st.lists(st.booleans(), min_size=1, max_size=6))
    def review(self, decisions: list[bool]) -> None:
        """Review the oldest pending work: approve (pay) or reject each, as drawn."""
        for assignment_id, approve in zip(self.pending(), decisions, strict=False):
            if approve:
                self.attempt(lambda i=assignment_id: assignment_approve(assignment_id=i, by=self.requester))
            else:
                self.attempt(lambda i=assignment_id: assignment_reject(assignment_id=i, by=self.requester, reason="no"))

    @rule(data=st.data())
    def approve_again(self, data) -> None:
        """A retried or double-clicked approval of work already reviewed: must never pay again."""
        reviewed = list(
            Assignment.objects.filter(job_id__in=self.jobs)
            .exclude(review_status=ReviewStatus.PENDING)
            .values_list("id", flat=True)
        )
        if reviewed:
            assignment_id = data.draw(st.sampled_from(reviewed))
            self.attempt(lambda: assignment_approve(assignment_id=assignment_id, by=self.requester))

    @rule(data=st.data(), overturn=st.booleans())
    def dispute(self, data, overturn: bool) -> None:
        """A worker appeals a rejection; an admin overturns it (pay, once) or upholds it (nothing moves)."""
        rejected = list(
            Assignment.objects.filter(job_id__in=self.jobs, review_status=ReviewStatus.REJECTED).select_related(
                "worker"
            )
        )
        if not rejected:
            return
        assignment = data.draw(st.sampled_from(rejected))
        try:
            appeal = appeal_file(assignment_id=assignment.pk, worker=assignment.worker, message="I was right")
        except MarketplaceError:
            appeal = Dispute.objects.filter(assignment=assignment).first()
        decision = DisputeDecision.OVERTURN if overturn else DisputeDecision.UPHOLD
        self.attempt(lambda: dispute_resolve(dispute_id=appeal.pk, decision=decision, note="checked", by=self.admin))

    @precondition(lambda self: self.jobs)
    @rule(data=st.data(), amount=st.integers(min_value=1, max_value=50))
    def bonus(self, data, amount: int) -> None:
        job_id, worker = data.draw(st.sampled_from(self.jobs)), data.draw(st.sampled_from(self.workers))
        from marketplace.models import Job

        job = Job.objects.get(pk=job_id)
        self.attempt(
            lambda: bonus_grant(job=job, worker_id=worker.pk, amount=amount, reason="thanks", idempotency_key="b")
        )

    @rule(data=st.data(), fail=st.booleans())
    def payout(self, data, fail: bool) -> None:
        worker = data.draw(st.sampled_from(self.workers))
        try:
            payout = payout_request(worker=worker, currency="USD", idempotency_key=f"po-{next(_keys)}")
        except PaymentsError:
            return
        if fail:
            provider_get().fail_next("payout", error="account_closed")
        payout_send(payout_id=payout.pk)

    @precondition(lambda self: self.jobs)
    @rule(data=st.data())
    def cancel(self, data) -> None:
        from marketplace.models import Job

        job = Job.objects.get(pk=data.draw(st.sampled_from(self.jobs)))
        self.attempt(lambda: job_transition(job=job, action="cancel"))

    @rule(data=st.data())
    def block(self, data) -> None:
        """The requester blocks a worker who submitted work: their pending work is rejected and each task they
        submitted gets a replacement slot, funded from the balance or left waiting for funds."""
        worked = sorted(
            set(
                Assignment.objects.filter(job_id__in=self.jobs, status=AssignmentStatus.SUBMITTED).values_list(
                    "job_id", "worker_id"
                )
            )
        )
        if worked:
            from marketplace.models import Job

            job_id, worker_id = data.draw(st.sampled_from(worked))
            job = Job.objects.get(pk=job_id)
            self.attempt(lambda: job_worker_block(job=job, worker_id=worker_id, reason="machine", by=self.requester))

    @rule(data=st.data())
    def unblock(self, data) -> None:
        """The requester lifts a block: the work it rejected is pending again (the escrow must cover it, or the
        unblock is refused and nothing changes)."""
        standing = list(Block.objects.filter(job_id__in=self.jobs, lifted_at__isnull=True).select_related("job"))
        if standing:
            block = data.draw(st.sampled_from(standing))
            self.attempt(
                lambda: job_worker_unblock(job=block.job, worker_id=block.worker_id, reason="ok", by=self.requester)
            )

    @rule()
    def sweep_waiting_slots(self) -> None:
        jobs_slots_fund_waiting()

    @invariant()
    def every_slot_that_may_still_be_paid_is_in_escrow(self) -> None:
        """escrow >= (reward + fee) x (free slots, open, pending review, appealable rejections), for every job."""
        from marketplace.models import Job

        for job in Job.objects.filter(pk__in=self.jobs, launched_at__isnull=False):
            escrow = account_escrow_get(job_id=job.pk, currency="USD")
            reward, fee = assignment_price(job)
            assert escrow.balance >= job_slots_owed(job=job) * (reward + fee), job

    @invariant()
    def the_books_balance(self) -> None:
        assert ledger_invariant_violations() == []

    @invariant()
    def the_assignment_engine_holds(self) -> None:
        assert assignment_invariant_violations() == []

    @invariant()
    def approved_work_is_paid_exactly_once_and_nothing_else_is(self) -> None:
        paid = Counter(
            Transaction.objects.filter(kind=TransactionKind.ESCROW_PAY, reference_type="assignment").values_list(
                "reference_id", flat=True
            )
        )
        approved = set(Assignment.objects.filter(review_status=ReviewStatus.APPROVED).values_list("id", flat=True))
        assert {int(k) for k in paid} == approved
        assert set(paid.values()) <= {1}

    @invariant()
    def finished_payouts_are_settled(self) -> None:
        assert not Payout.objects.filter(status=PayoutStatus.SENDING).exists()

    @invariant()
    def a_launched_job_is_funded(self) -> None:
        from marketplace.models import Job

        for job in Job.objects.filter(pk__in=self.jobs, launched_at__isnull=False):
            assert job.fee_rate is not None
            assert Transaction.objects.filter(idempotency_key=f"job:{job.pk}:escrow").exists()


@pytest.mark.django_db(transaction=True)
def test_random_marketplace_money_flows_keep_the_books_balanced_and_pay_once(monkeypatch):
    monkeypatch.setattr(payouts, "_enqueue_send", lambda payout_id: None)  # the machine sends payouts itself
    run_state_machine_as_test(
        MarketMachine,
        settings=settings(
            max_examples=25,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )

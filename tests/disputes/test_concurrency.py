"""Racing requests on one dispute: real transactions and threads, each with its own connection."""

from decimal import Decimal

import pytest

from marketplace.errors import AlreadyAppealed, AlreadyResolved
from marketplace.models import Assignment, Dispute, DisputeStatus, ItemResult, ReviewStatus
from marketplace.services.disputes import appeal_auto_resolve, appeal_file, dispute_resolve
from tests.disputes.helpers import FEE, REWARD, escrow, payable, payments_for, rejected
from tests.factories import UserFactory
from tests.marketplace.helpers import launched_job
from tests.payments.helpers import run_in_threads
from tests.payments.invariants import ledger_invariant_violations

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def appealed(job):
    done = rejected(job)
    return appeal_file(assignment_id=done.pk, worker=done.worker, message="Every answer is right.")


def test_twenty_concurrent_overturns_of_one_appeal_pay_once(job, appealed):
    admins = UserFactory.create_batch(20, is_staff=True)
    before = escrow(job)

    outcomes = run_in_threads(
        20, lambda i: dispute_resolve(dispute_id=appealed.pk, decision="overturn", note=f"admin {i}", by=admins[i])
    )

    winners = [o for o in outcomes if isinstance(o, Dispute)]
    assert len(winners) == 1
    assert all(isinstance(o, AlreadyResolved) for o in outcomes if o not in winners)
    appealed.refresh_from_db()
    assert (appealed.resolved_by, appealed.resolution_note) == (winners[0].resolved_by, winners[0].resolution_note)
    assignment = Assignment.objects.get(pk=appealed.assignment_id)
    assert assignment.review_status == ReviewStatus.APPROVED
    assert payments_for(assignment) == 1
    assert payable(assignment.worker) == REWARD
    assert escrow(job) == before - REWARD - FEE
    assert ledger_invariant_violations() == []


def test_admins_and_the_automatic_check_racing_on_one_appeal_decide_it_once(requester):
    job = launched_job(requester, n_items=2, items_per_task=2, overlap_min=1, overlap_max=1, gold_ratio=Decimal(0))
    done = rejected(job)  # its submit completed the job, whose aggregation labelled both items as it answered
    assert set(ItemResult.objects.filter(job=job).values_list("label", flat=True)) == {"cat"}
    appeal = Dispute.objects.create(  # filed without the service's own check, so that the race decides it
        kind="appeal", job=job, worker=done.worker, filed_by=done.worker, assignment=done, message="Look again."
    )
    admins = UserFactory.create_batch(10, is_staff=True)

    def race(i: int) -> object:
        if i % 2:
            return appeal_auto_resolve(dispute_id=appeal.pk)
        return dispute_resolve(dispute_id=appeal.pk, decision="uphold", note="No.", by=admins[i // 2])

    outcomes = run_in_threads(20, race)

    appeal.refresh_from_db()
    assert appeal.status == DisputeStatus.RESOLVED
    assert not [o for o in outcomes if isinstance(o, Exception) and not isinstance(o, AlreadyResolved)]
    admin_winners = sum(isinstance(o, Dispute) for o in outcomes[0::2])
    assert admin_winners == (1 if appeal.decision == "uphold" else 0)  # else the automatic check won (overturn)
    assert payments_for(done) == (1 if appeal.decision == "overturn" else 0)
    assert payable(done.worker) == (REWARD if appeal.decision == "overturn" else 0)
    assert ledger_invariant_violations() == []


def test_twenty_concurrent_appeals_of_one_assignment_file_one(job):
    done = rejected(job)

    outcomes = run_in_threads(
        20, lambda i: appeal_file(assignment_id=done.pk, worker=done.worker, message=f"attempt {i}")
    )

    assert sum(isinstance(o, Dispute) for o in outcomes) == 1
    assert sum(isinstance(o, AlreadyAppealed) for o in outcomes) == 19
    assert Dispute.objects.filter(assignment=done).count() == 1

"""Appeals meet the aggregation: when the job's Dawid-Skene labels agree with the rejected worker on at least
APPEAL_AUTO_AGREEMENT of the assignment's real items, the rejection is overturned and the work paid, once."""

from decimal import Decimal

import pytest

from marketplace.models import Assignment, DisputeStatus, ItemResult, ReviewStatus
from marketplace.selectors import assignment_items
from marketplace.services.aggregation import job_aggregate
from marketplace.services.assignments import assignment_claim, assignment_submit
from marketplace.services.disputes import appeal_file, appeals_auto_resolve
from marketplace.services.reviews import assignment_reject
from tests.disputes.helpers import REWARD, leave_nothing_to_pay_with, payable, payments_for, submitted
from tests.factories import WorkerFactory
from tests.marketplace.test_aggregation import CLASSES, crowd_job, honest, run_crowd, truth_of
from tests.payments.invariants import ledger_invariant_violations

# Plain test transactions: on-commit hooks do not fire, so each test aggregates explicitly (`job_aggregate`), which
# is what the Celery task does after a job's answers change.
pytestmark = pytest.mark.django_db


def contrarian(payload, rng):
    """Always wrong: answers the class after the true one."""
    return CLASSES[(CLASSES.index(truth_of(payload)) + 1) % len(CLASSES)]


def work_once(job, behave, worker=None):
    worker = worker or WorkerFactory()
    assignment = assignment_claim(job_id=job.pk, worker=worker)
    answers = [
        {"position": p, "answer": behave(i.payload, None)}
        for p, i in enumerate(assignment_items(assignment=assignment))
    ]
    return assignment_submit(assignment_id=assignment.pk, worker=worker, answers=answers)


def reject_and_appeal(assignment):
    assignment_reject(assignment_id=assignment.pk, by=assignment.job.requester, reason="Disagrees with the crowd.")
    return appeal_file(assignment_id=assignment.pk, worker=assignment.worker, message="My answers are right.")


@pytest.fixture
def small_crowd_job(requester):
    """Two tasks of five items, three answers each, one gold item per assignment; answers carry their truth."""
    return crowd_job(requester, n_items=10, n_gold=6, items_per_task=5, overlap_min=3, overlap_max=3)


def test_an_appeal_the_labels_back_is_overturned_and_paid_once_after_the_next_aggregation(small_crowd_job):
    job = small_crowd_job
    first = work_once(job, honest)
    appeal = reject_and_appeal(first)
    assert (appeal.status, appeal.agreement) == (DisputeStatus.OPEN, None)  # no results yet: it waits

    run_crowd(job, [honest, honest, honest, contrarian])
    job_aggregate(job_id=job.pk)
    job_aggregate(job_id=job.pk)  # a repeated run finds it resolved

    appeal.refresh_from_db()
    first.refresh_from_db()
    assert (appeal.status, appeal.decision, appeal.resolved_by, appeal.agreement) == ("resolved", "overturn", None, 1.0)
    assert appeal.resolved_automatically and "Overturned automatically" in appeal.resolution_note
    assert first.review_status == ReviewStatus.APPROVED
    assert payments_for(first) == 1
    assert payable(first.worker) == REWARD
    assert appeals_auto_resolve(job_id=job.pk) == 0
    assert payable(first.worker) == REWARD
    assert ledger_invariant_violations() == []


def test_an_appeal_filed_when_results_already_back_the_worker_is_overturned_at_once(api, small_crowd_job):
    job = small_crowd_job
    run_crowd(job, [honest, honest, honest, contrarian])
    job_aggregate(job_id=job.pk)
    honest_one = Assignment.objects.filter(job=job).exclude(worker__in=contrarians(job)).first()
    assignment_reject(assignment_id=honest_one.pk, by=job.requester, reason="Looks careless.")

    response = api.as_user(honest_one.worker).post(
        f"/api/v1/work/assignments/{honest_one.pk}/appeal/", {"message": "Please check."}, format="json"
    )

    assert response.status_code == 201
    body = response.json()
    assert (body["status"], body["decision"], body["resolved_automatically"]) == ("resolved", "overturn", True)
    assert payable(honest_one.worker) == REWARD and payments_for(honest_one) == 1


def test_an_appeal_the_labels_contradict_stays_open_for_an_admin(small_crowd_job):
    job = small_crowd_job
    run_crowd(job, [honest, honest, honest, contrarian])
    job_aggregate(job_id=job.pk)
    wrong = Assignment.objects.filter(job=job, worker__in=contrarians(job)).first()

    appeal = reject_and_appeal(wrong)
    job_aggregate(job_id=job.pk)

    appeal.refresh_from_db()
    wrong.refresh_from_db()
    assert (appeal.status, appeal.agreement) == (DisputeStatus.OPEN, 0.0)
    assert "match 0% of the worker's answers" in appeal.pending_reason
    assert wrong.review_status == ReviewStatus.REJECTED
    assert payable(wrong.worker) == 0 and payments_for(wrong) == 0


def test_an_appeal_the_labels_back_but_the_escrow_cannot_pay_waits_with_the_reason(small_crowd_job):
    job = small_crowd_job
    first = work_once(job, honest)
    appeal = reject_and_appeal(first)
    run_crowd(job, [honest, honest, honest])
    leave_nothing_to_pay_with(job)

    job_aggregate(job_id=job.pk)

    appeal.refresh_from_db()
    first.refresh_from_db()
    assert (appeal.status, appeal.agreement) == (DisputeStatus.OPEN, 1.0)
    assert "payment failed" in appeal.pending_reason
    assert first.review_status == ReviewStatus.REJECTED and payable(first.worker) == 0
    assert ledger_invariant_violations() == []


class TestAgreement:
    """Hand-set labels on a small job: the share is over real items only, and the threshold is inclusive."""

    @pytest.fixture
    def appeal(self, requester):
        from tests.marketplace.helpers import launched_job  # noqa: PLC0415

        job = launched_job(
            requester, n_items=5, n_gold=2, items_per_task=5, overlap_min=1, overlap_max=1, gold_ratio=Decimal("0.2")
        )
        done = submitted(job, label="cat")
        assert done.answers.filter(is_gold=True).exists()  # gold answers are left out of the share
        assignment_reject(assignment_id=done.pk, by=requester, reason="Lazy.")
        return appeal_file(assignment_id=done.pk, worker=done.worker, message="Look again.")

    def label(self, appeal, *labels):
        real = appeal.assignment.answers.filter(is_gold=False).order_by("item_id").values_list("item_id", flat=True)
        ItemResult.objects.bulk_create(
            ItemResult(item_id=item_id, job_id=appeal.job_id, label=label)
            for item_id, label in zip(real, labels, strict=True)
        )

    def test_four_of_five_is_enough_at_the_default_share(self, appeal):
        self.label(appeal, "cat", "cat", "cat", "cat", "dog")

        assert appeals_auto_resolve(job_id=appeal.job_id) == 1
        appeal.refresh_from_db()
        assert (appeal.status, appeal.agreement) == (DisputeStatus.RESOLVED, 0.8)

    def test_four_of_five_is_not_enough_when_the_share_is_raised(self, appeal, settings):
        settings.APPEAL_AUTO_AGREEMENT = 0.81
        self.label(appeal, "cat", "cat", "cat", "cat", "dog")

        assert appeals_auto_resolve(job_id=appeal.job_id) == 0
        appeal.refresh_from_db()
        assert (appeal.status, appeal.agreement) == (DisputeStatus.OPEN, 0.8)

    def test_an_item_without_a_label_yet_defers_the_decision(self, appeal):
        self.label(appeal, "cat", "cat", "cat", "cat", None)

        assert appeals_auto_resolve(job_id=appeal.job_id) == 0
        appeal.refresh_from_db()
        assert appeal.agreement is None and appeal.pending_reason.startswith("No aggregated labels")


def contrarians(job):
    """Workers whose every answer on a real item is wrong."""
    ids = set()
    for assignment in Assignment.objects.filter(job=job):
        answers = assignment.answers.filter(is_gold=False).select_related("item")
        if all(a.value != truth_of(a.item.payload) for a in answers):
            ids.add(assignment.worker_id)
    return ids

"""Admins decide disputes, once, with a note: an overturn approves and pays, everything else moves no money."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from marketplace.errors import NotEligible
from marketplace.models import (
    Assignment,
    Dispute,
    DisputeAction,
    DisputeDecision,
    DisputeStatus,
    Participation,
    ReviewStatus,
    WebhookDelivery,
)
from marketplace.services.assignments import assignment_claim
from marketplace.services.disputes import appeal_file, dispute_resolve
from marketplace.services.jobs import job_transition
from marketplace.services.quality import participation_block
from marketplace.services.webhooks import webhook_endpoint_create
from marketplace.tasks import jobs_settle_task
from payments.selectors import balance_list
from payments.services.escrow import escrow_fund, escrow_refund
from tests.disputes.helpers import FEE, REWARD, escrow, payable, payments_for, rejected, submitted
from tests.factories import WorkerFactory
from tests.payments.invariants import ledger_invariant_violations

pytestmark = pytest.mark.django_db


@pytest.fixture
def appealed(job):
    done = rejected(job)
    return appeal_file(assignment_id=done.pk, worker=done.worker, message="Every answer is right.")


def resolve(client, dispute, decision, note="Checked every item against the photos."):
    return client.post(
        f"/api/v1/admin/disputes/{dispute.pk}/resolve/", {"decision": decision, "note": note}, format="json"
    )


def test_an_admin_overturn_approves_and_pays_the_assignment_once(staff_api, staff, job, appealed):
    before = escrow(job)

    response = resolve(staff_api, appealed, "overturn")
    again = resolve(staff_api, appealed, "overturn")

    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["decision"], body["resolved_by"]) == ("resolved", "overturn", staff.pk)
    assert body["resolution_note"] == "Checked every item against the photos." and body["resolved_at"]
    assert (again.status_code, again.json()["code"]) == (409, "already_resolved")
    assert again.json()["extra"]["decision"] == "overturn"
    assignment = Assignment.objects.get(pk=appealed.assignment_id)
    assert (assignment.review_status, assignment.reviewed_by) == (ReviewStatus.APPROVED, staff)
    assert payments_for(assignment) == 1
    assert payable(assignment.worker) == REWARD
    assert escrow(job) == before - REWARD - FEE
    assert ledger_invariant_violations() == []


def test_upholding_an_appeal_pays_nothing_and_records_who_and_why(staff_api, staff, job, appealed):
    before = escrow(job)

    response = resolve(staff_api, appealed, "uphold", note="Half the answers contradict the gold.")

    appealed.refresh_from_db()
    assert response.status_code == 200
    assert (appealed.status, appealed.decision, appealed.resolved_by) == ("resolved", "uphold", staff)
    assert appealed.resolution_note == "Half the answers contradict the gold."
    assert appealed.resolved_at is not None and not appealed.resolved_automatically
    assert Assignment.objects.get(pk=appealed.assignment_id).review_status == ReviewStatus.REJECTED
    assert payable(appealed.worker) == 0 and escrow(job) == before
    assert resolve(staff_api, appealed, "overturn").status_code == 409  # decided once
    assert payable(appealed.worker) == 0


def test_a_decision_needs_a_note_and_must_fit_the_kind_of_dispute(staff_api, appealed):
    no_note = resolve(staff_api, appealed, "overturn", note=" ")
    wrong_kind = resolve(staff_api, appealed, "dismiss")
    unknown = resolve(staff_api, appealed, "maybe")

    assert (no_note.status_code, no_note.json()["code"]) == (400, "invalid")
    assert (wrong_kind.status_code, wrong_kind.json()["code"]) == (400, "invalid_dispute")
    assert wrong_kind.json()["extra"]["field"] == "decision"
    assert unknown.status_code == 400
    appealed.refresh_from_db()
    assert appealed.status == DisputeStatus.OPEN and payable(appealed.worker) == 0


def test_only_staff_see_and_decide_disputes(api, requester, appealed):
    worker_api, requester_api = api.as_user(appealed.worker), api.as_user(requester)

    assert resolve(worker_api, appealed, "overturn").status_code == 403
    assert resolve(requester_api, appealed, "uphold").status_code == 403
    assert requester_api.get("/api/v1/admin/disputes/").status_code == 403
    assert worker_api.get(f"/api/v1/admin/disputes/{appealed.pk}/").status_code == 403
    with pytest.raises(Exception, match="Only admins"):
        dispute_resolve(dispute_id=appealed.pk, decision="overturn", note="me", by=appealed.worker)
    appealed.refresh_from_db()
    assert appealed.status == DisputeStatus.OPEN and payable(appealed.worker) == 0


def test_an_overturn_the_escrow_no_longer_covers_is_topped_up_from_the_requesters_balance(staff_api, job, appealed):
    escrow_refund(job_id=job.pk, requester=job.requester, currency="USD", idempotency_key="drain")

    response = resolve(staff_api, appealed, "overturn")

    assert response.status_code == 200
    assert Assignment.objects.get(pk=appealed.assignment_id).review_status == ReviewStatus.APPROVED
    assert payable(appealed.worker) > 0
    assert ledger_invariant_violations() == []


def test_an_overturn_nobody_can_fund_is_refused_and_leaves_the_appeal_open(staff_api, job, appealed):
    escrow_refund(job_id=job.pk, requester=job.requester, currency="USD", idempotency_key="drain")
    available = sum(b.available for b in balance_list(user=job.requester))
    escrow_fund(job_id=10**9, requester=job.requester, amount=available, currency="USD", idempotency_key="spent")

    response = resolve(staff_api, appealed, "overturn")

    assert (response.status_code, response.json()["code"]) == (409, "insufficient_funds")
    appealed.refresh_from_db()
    assert (appealed.status, appealed.decision, appealed.resolved_by) == (DisputeStatus.OPEN, "", None)
    assert Assignment.objects.get(pk=appealed.assignment_id).review_status == ReviewStatus.REJECTED
    assert payable(appealed.worker) == 0
    assert ledger_invariant_violations() == []


def test_an_open_appeal_keeps_its_reward_in_escrow_after_the_window_closes(staff_api, job, requester):
    done = rejected(job)
    appeal = appeal_file(assignment_id=done.pk, worker=done.worker, message="Look again.")
    job_transition(job=job, action="cancel")
    Assignment.objects.filter(pk=done.pk).update(reviewed_at=timezone.now() - settings.APPEAL_WINDOW - timedelta(1))

    jobs_settle_task()
    kept = escrow(job)
    resolve(staff_api, appeal, "overturn")

    assert kept == REWARD + FEE
    assert payable(done.worker) == REWARD and escrow(job) == 0
    assert ledger_invariant_violations() == []


def test_an_upheld_appeal_frees_its_reward_from_a_finished_jobs_escrow_at_once(staff_api, job, requester):
    done = rejected(job)
    appeal = appeal_file(assignment_id=done.pk, worker=done.worker, message="Look again.")
    job_transition(job=job, action="cancel")
    kept = escrow(job)

    resolve(staff_api, appeal, "uphold")

    assert kept == REWARD + FEE
    assert escrow(job) == 0 and payable(done.worker) == 0
    assert ledger_invariant_violations() == []


class TestComplaints:
    def complain(self, client, job, worker_id, message="Copied answers from a bot."):
        return client.post(f"/api/v1/jobs/{job.pk}/complaints/", {"worker": worker_id, "message": message})

    def test_a_requester_complains_about_a_worker_on_their_job_once_while_it_is_open(self, requester_api, job):
        done = rejected(job)

        first = self.complain(requester_api, job, done.worker_id)
        second = self.complain(requester_api, job, done.worker_id)

        assert first.status_code == 201
        assert (first.json()["kind"], first.json()["worker"], first.json()["status"]) == (
            "complaint",
            done.worker_id,
            "open",
        )
        assert (second.status_code, second.json()["code"]) == (409, "already_complained")
        assert second.json()["extra"]["dispute"] == first.json()["id"]
        assert Dispute.objects.filter(kind="complaint").count() == 1

    def test_a_complaint_is_about_a_worker_who_worked_on_the_job_of_the_requester_filing_it(
        self, requester_api, outsider_api, job
    ):
        done = rejected(job)

        stranger = self.complain(requester_api, job, WorkerFactory().pk)
        not_mine = self.complain(outsider_api, job, done.worker_id)
        no_message = self.complain(requester_api, job, done.worker_id, message="")

        assert (stranger.status_code, not_mine.status_code, no_message.status_code) == (404, 404, 400)
        assert not Dispute.objects.exists()

    @pytest.mark.parametrize("decision", ["dismiss", "act"])
    def test_an_admin_dismisses_or_acts_on_a_complaint_with_a_note_and_no_money_moves(
        self, requester_api, staff_api, staff, job, decision
    ):
        done = rejected(job)
        complaint = Dispute.objects.get(pk=self.complain(requester_api, job, done.worker_id).json()["id"])
        before = escrow(job)

        wrong = resolve(staff_api, complaint, "overturn")
        response = resolve(staff_api, complaint, decision, note="Banned them for bot use.")
        later = self.complain(requester_api, job, done.worker_id, message="They are back.")

        assert wrong.status_code == 400
        assert response.status_code == 200
        complaint.refresh_from_db()
        assert (complaint.decision, complaint.resolved_by, complaint.resolution_note) == (
            decision,
            staff,
            "Banned them for bot use.",
        )
        assert escrow(job) == before and payable(done.worker) == 0
        assert later.status_code == 201  # the first one is closed: a new one may be filed

    def test_a_complaint_decided_act_blocks_the_worker_from_the_job_with_the_note_as_the_reason(
        self, api, requester_api, staff_api, job
    ):
        done = rejected(job)
        held = assignment_claim(job_id=job.pk, worker=done.worker)  # an open assignment on the other task
        bystander = submitted(job)
        complaint = Dispute.objects.get(pk=self.complain(requester_api, job, done.worker_id).json()["id"])

        response = resolve(staff_api, complaint, "act", note="Answers copied from a bot; blocked from this job.")

        assert response.status_code == 200
        blocked = Participation.objects.get(job=job, worker=done.worker)
        assert blocked.blocked_at is not None
        assert blocked.block_reason == "Answers copied from a bot; blocked from this job."
        complaint.refresh_from_db()
        held.refresh_from_db()
        assert (complaint.decision, complaint.action) == (DisputeDecision.ACT, DisputeAction.BLOCKED)
        assert response.json()["action"] == "blocked"
        assert held.status == "released"  # the slot went back to the pool
        with pytest.raises(NotEligible) as refused:
            assignment_claim(job_id=job.pk, worker=done.worker)
        assert refused.value.extra["reason"] == "blocked"
        assert Participation.objects.get(job=job, worker=bystander.worker).blocked_at is None
        row = api.as_user(done.worker).get("/api/v1/work/disputes/").json()["results"][0]
        assert (row["kind"], row["decision"], row["action"]) == ("complaint", "act", "blocked")
        assert row["resolution_note"] == "Answers copied from a bot; blocked from this job."
        assert row["message"] is None  # the requester's complaint itself stays theirs

    def test_acting_on_a_complaint_about_a_worker_already_blocked_records_that_and_keeps_the_first_reason(
        self, requester_api, staff_api, job
    ):
        done = rejected(job)
        participation_block(job=job, worker_id=done.worker_id, reason="Gold accuracy 1/5 is below the threshold.")
        complaint = Dispute.objects.get(pk=self.complain(requester_api, job, done.worker_id).json()["id"])

        response = resolve(staff_api, complaint, "act", note="Bot answers.")

        assert (response.status_code, response.json()["action"]) == (200, "already_blocked")
        reason = Participation.objects.get(job=job, worker=done.worker).block_reason
        assert reason == "Gold accuracy 1/5 is below the threshold."

    def test_a_dismissed_complaint_blocks_nobody_and_records_no_action(self, requester_api, staff_api, job):
        done = rejected(job)
        complaint = Dispute.objects.get(pk=self.complain(requester_api, job, done.worker_id).json()["id"])

        response = resolve(staff_api, complaint, "dismiss", note="Nothing wrong.")

        assert (response.status_code, response.json()["action"]) == (200, "")
        assert Participation.objects.get(job=job, worker=done.worker).blocked_at is None

    def test_the_worker_learns_a_complaint_exists_and_its_outcome_but_not_its_text(
        self, api, requester_api, staff_api, job
    ):
        done = rejected(job)
        complaint = Dispute.objects.get(pk=self.complain(requester_api, job, done.worker_id).json()["id"])
        resolve(staff_api, complaint, "dismiss", note="The requester's evidence shows nothing wrong.")

        row = api.as_user(done.worker).get("/api/v1/work/disputes/").json()["results"][0]

        assert (row["kind"], row["status"], row["decision"]) == ("complaint", "resolved", "dismiss")
        assert row["message"] is None and row["resolution_note"] is None
        assert "bot" not in str(row)


class TestLists:
    def test_the_worker_sees_the_decision_and_the_note_on_their_appeal(self, api, staff_api, appealed):
        resolve(staff_api, appealed, "uphold", note="The answers contradict the gold items.")

        row = api.as_user(appealed.worker).get("/api/v1/work/disputes/").json()["results"][0]

        assert (row["status"], row["decision"], row["resolution_note"]) == (
            "resolved",
            "uphold",
            "The answers contradict the gold items.",
        )
        assert row["resolved_at"] and row["resolved_automatically"] is False
        assert "resolved_by" not in row

    def test_the_requester_lists_the_disputes_of_their_job_and_an_outsider_gets_404(
        self, requester_api, outsider_api, api, appealed, job
    ):
        mine = requester_api.get(f"/api/v1/jobs/{job.pk}/disputes/")
        theirs = outsider_api.get(f"/api/v1/jobs/{job.pk}/disputes/")
        as_worker = api.as_user(appealed.worker).get(f"/api/v1/jobs/{job.pk}/disputes/")

        assert [d["id"] for d in mine.json()["results"]] == [appealed.pk]
        assert mine.json()["results"][0]["message"] == "Every answer is right."
        assert (theirs.status_code, as_worker.status_code) == (404, 403)

    def test_staff_work_the_open_queue_oldest_first(self, staff_api, staff, job, django_assert_max_num_queries):
        disputes = []
        for _ in range(3):
            done = rejected(job)
            disputes.append(appeal_file(assignment_id=done.pk, worker=done.worker, message="again"))
        dispute_resolve(dispute_id=disputes[1].pk, decision="uphold", note="Fair rejection.", by=staff)

        with django_assert_max_num_queries(3):
            queue = staff_api.get("/api/v1/admin/disputes/", {"status": "open"}).json()
        detail = staff_api.get(f"/api/v1/admin/disputes/{disputes[0].pk}/").json()

        assert [d["id"] for d in queue["results"]] == [disputes[0].pk, disputes[2].pk]
        assert detail["pending_reason"] and detail["filed_by"] == disputes[0].worker_id

    def test_the_requester_list_costs_the_same_queries_for_many(
        self, requester_api, job, django_assert_max_num_queries
    ):
        for _ in range(3):
            done = rejected(job)
            appeal_file(assignment_id=done.pk, worker=done.worker, message="again")

        with django_assert_max_num_queries(4):
            body = requester_api.get(f"/api/v1/jobs/{job.pk}/disputes/").json()

        assert body["count"] == 3


def test_every_decision_is_on_record_with_who_why_and_when(staff, job):
    done = rejected(job)
    appeal = appeal_file(assignment_id=done.pk, worker=done.worker, message="Look again.")

    decided = dispute_resolve(
        dispute_id=appeal.pk, decision=DisputeDecision.UPHOLD, note="  Fair rejection. ", by=staff
    )

    stored = Dispute.objects.get(pk=decided.pk)
    assert (stored.resolved_by, stored.resolution_note, stored.decision) == (staff, "Fair rejection.", "uphold")
    assert timezone.now() - stored.resolved_at < timedelta(seconds=10)
    assert stored.pending_reason == ""


def test_an_overturn_tells_the_requesters_webhooks_the_work_was_approved(staff, job, appealed, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    webhook_endpoint_create(owner=job.requester, job=job, url="http://127.0.0.1:9/hook", events=["assignment.approved"])

    dispute_resolve(dispute_id=appealed.pk, decision="overturn", note="Right answers.", by=staff)

    delivery = WebhookDelivery.objects.get(job=job)
    data = delivery.payload["data"]
    assert delivery.event_type == "assignment.approved"
    assert (data["assignment"], data["dispute"], data["review_status"]) == (
        appealed.assignment_id,
        appealed.pk,
        "approved",
    )

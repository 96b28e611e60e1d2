"""An admin in a real browser: the disputes queue with its evidence, and a decision with a note."""

from playwright.sync_api import Page, expect

from marketplace.models import Assignment, ReviewStatus
from marketplace.services.assignments import assignment_claim, assignment_submit
from marketplace.services.disputes import appeal_file
from marketplace.services.reviews import assignment_reject
from tests.browser.axe import assert_accessible
from tests.browser.conftest import log_in, shot
from tests.factories import PASSWORD, RequesterFactory, UserFactory, WorkerFactory
from tests.marketplace.helpers import answers_for, launched_job


def test_an_admin_reads_the_evidence_and_overturns_an_appeal_with_a_note(page: Page, transactional_db) -> None:
    job = launched_job(RequesterFactory(), n_items=2, items_per_task=2, overlap_min=1, overlap_max=1)
    worker = WorkerFactory(email="appellant@example.com")
    assignment = assignment_claim(job_id=job.pk, worker=worker)
    assignment_submit(assignment_id=assignment.pk, worker=worker, answers=answers_for(assignment, "dog"))
    assignment_reject(assignment_id=assignment.pk, by=job.requester, reason="Not a dog in sight")
    dispute = appeal_file(assignment_id=assignment.pk, worker=worker, message="Both pictures show dogs.")
    admin = UserFactory(email="admin@example.com", is_staff=True)

    log_in(page, admin.email, PASSWORD)
    page.get_by_role("link", name="Staff console").click()
    evidence = page.get_by_role("table", name=f"Evidence for dispute #{dispute.pk}")
    expect(evidence.locator("tbody tr")).to_have_count(2)
    expect(evidence).to_contain_text("dog")
    expect(page.get_by_text("Not a dog in sight")).to_be_visible()
    shot(page, "staff-01-disputes")
    assert_accessible(page)

    page.get_by_label(f"Note on dispute #{dispute.pk}").fill("The pictures do show dogs")
    page.get_by_role("button", name=f"Overturn and pay #{dispute.pk}").click()

    expect(page.get_by_role("status").first).to_contain_text("Rejection overturned")
    expect(page.get_by_role("table", name="Recent decisions")).to_contain_text("The pictures do show dogs")
    assert Assignment.objects.get(pk=assignment.pk).review_status == ReviewStatus.APPROVED
    page.get_by_role("link", name="Figures").click()
    expect(page.locator('svg[aria-label^="Answers per hour"] .mark')).to_have_count(24)
    shot(page, "staff-02-figures")
    assert_accessible(page)

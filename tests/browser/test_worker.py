"""A worker's day in a real browser: sign up, find a job, label with the keyboard only, see what they earned."""

import re
import time

from playwright.sync_api import Page, expect

from marketplace.models import Answer, Assignment, AssignmentStatus, Dispute, JobQualification
from marketplace.services.assignments import assignment_claim, assignment_submit
from marketplace.services.reviews import assignment_approve, assignment_reject
from qualification.models import Attempt, Question
from tests.browser.axe import assert_accessible
from tests.browser.conftest import log_in, shot
from tests.factories import PASSWORD, RequesterFactory, WorkerFactory
from tests.marketplace.helpers import answers_for, launched_job
from tests.qualification.conftest import make_qualification

NEXT_TASK_BUDGET_S = 0.3


def test_a_new_worker_signs_up_labels_ten_tasks_with_the_keyboard_and_sees_the_earnings(
    page: Page, transactional_db
) -> None:
    job = launched_job(
        RequesterFactory(first_name="Ada", last_name="Lab"),
        n_items=10,
        items_per_task=1,
        overlap_min=1,
        overlap_max=1,
        title="Spot the cats",
        reward_cents=12,
    )

    page.goto("/accounts/signup/")
    page.get_by_label("Email").fill("new.worker@example.com")
    page.get_by_label("Password").first.fill("a-long-test-password-1")
    page.get_by_label("Worker").check()
    page.get_by_label("Worker").press("Enter")
    page.get_by_role("link", name="Find work").click()
    expect(page.get_by_role("row", name=re.compile("Spot the cats.*Ada Lab.*0.12 USD"))).to_be_visible()
    assert_accessible(page)
    shot(page, "worker-find-work")

    page.get_by_role("link", name="Spot the cats").click()
    expect(page.get_by_role("heading", name="Instructions")).to_be_visible()
    shot(page, "worker-job")
    page.get_by_role("button", name="Start working").press("Enter")

    timings: list[float] = []
    for done in range(10):
        expect(page.get_by_text("Item 1 of 1")).to_be_visible()
        expect(page.locator("#countdown")).to_have_text(re.compile(r"^(29|30):\d\d$"))
        if done == 0:
            page.keyboard.press("?")
            expect(page.get_by_text("Pick the animal you see.")).to_be_visible()
            shot(page, "worker-task")
            assert_accessible(page)
            page.keyboard.press("?")
        if done == 1:  # a phone's width: the choices fit, nothing scrolls sideways
            page.set_viewport_size({"width": 375, "height": 740})
            shot(page, "worker-task-phone")
            wide = page.evaluate(
                "[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > innerWidth)"
                ".map(e => e.tagName + '.' + e.className).slice(0, 8)"
            )
            assert wide == [], wide
            expect(page.get_by_role("radio", name="3 bird")).to_be_in_viewport()
            page.set_viewport_size({"width": 1280, "height": 800})
        before = page.url
        page.keyboard.press("1")
        started = time.perf_counter()
        page.keyboard.press("Enter")
        page.wait_for_url(lambda url, before=before: url != before)
        page.wait_for_load_state("domcontentloaded")
        timings.append(time.perf_counter() - started)

    expect(page.get_by_text("Submitted.")).to_be_visible()
    submitted = Assignment.objects.filter(worker__email="new.worker@example.com", status=AssignmentStatus.SUBMITTED)
    assert submitted.count() == 10
    assert set(Answer.objects.filter(assignment__in=submitted).values_list("value", flat=True)) == {"cat"}
    assert job.tasks.filter(assigned_count=1).count() == 10
    for assignment in submitted[:4]:
        assignment_approve(assignment_id=assignment.pk)
    page.get_by_role("link", name="Earnings").click()
    expect(page.get_by_text("Earned, ready to pay out: 0.48 USD")).to_be_visible()
    expect(page.get_by_role("row", name=re.compile("Spot the cats 10 4 0 0.48 USD"))).to_be_visible()
    assert_accessible(page)
    shot(page, "worker-earnings")
    print("next task after the keypress (ms):", [round(t * 1000) for t in timings])
    assert sorted(timings)[len(timings) // 2] < NEXT_TASK_BUDGET_S, timings


def test_a_worker_passes_a_qualification_test_with_the_keyboard_and_the_gated_job_opens(
    page: Page, transactional_db
) -> None:
    requester = RequesterFactory()
    qualification = make_qualification(requester, name="Cats and dogs")
    job = launched_job(requester, n_items=2, overlap_min=1, overlap_max=1, title="Gated cats")
    JobQualification.objects.create(job=job, qualification=qualification, min_score=0.8)
    worker = WorkerFactory()
    log_in(page, worker.email, PASSWORD)

    page.get_by_role("link", name="Find work").click()
    expect(page.get_by_text("No job open to you matches.")).to_be_visible()
    page.get_by_role("link", name="Qualifications").click()
    page.get_by_role("button", name="Take the test Cats and dogs").press("Enter")
    expect(page.get_by_text("Question 5 of 5")).to_be_visible()
    expect(page.locator("#countdown")).to_have_text(re.compile(r"^(19|20):\d\d$"))
    assert_accessible(page)
    shot(page, "worker-qualification-test")
    attempt = Attempt.objects.get(worker=worker)
    keys = Question.objects.in_bulk(attempt.question_ids)
    classes = qualification.label_schema["classes"]
    for question_id in attempt.question_ids:
        page.keyboard.press(str(classes.index(keys[question_id].answer_key) + 1))
    page.keyboard.press("Enter")

    expect(page.get_by_text("Passed: 100% correct on Cats and dogs.")).to_be_visible()
    expect(page.get_by_text("Qualified (score 1.00)")).to_be_visible()
    shot(page, "worker-qualification-result")
    page.get_by_role("link", name="Find work").click()
    expect(page.get_by_role("link", name="Gated cats")).to_be_visible()


def test_a_worker_appeals_a_rejection_from_the_earnings_page(page: Page, transactional_db) -> None:
    job = launched_job(RequesterFactory(), n_items=2, overlap_min=1, overlap_max=1, title="Spot the cats")
    worker = WorkerFactory()
    held = assignment_claim(job_id=job.pk, worker=worker)
    assignment_submit(assignment_id=held.pk, worker=worker, answers=answers_for(held))
    assignment_reject(assignment_id=held.pk, by=job.requester, reason="Answered too fast")
    log_in(page, worker.email, PASSWORD)

    page.get_by_role("link", name="Earnings").click()
    expect(page.get_by_text("Answered too fast")).to_be_visible()
    page.get_by_label(f"Why the rejection of task #{held.pk} is wrong").fill("I read every item; cats throughout.")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")

    expect(page.get_by_text(re.compile(r"^Appeal filed"))).to_be_visible()
    expect(page.get_by_text(re.compile(r"^Appeal: "))).to_be_visible()
    expect(page.get_by_role("button", name="Appeal")).to_have_count(0)
    assert Dispute.objects.get(assignment=held).message == "I read every item; cats throughout."

"""The requester's way through the site in a real browser: sign up, build a job, upload a file with an error and
fix it, see the cost, deposit, launch; simulated workers label through the API; then the dashboard and its plots,
the review (approve, reject one with a reason), blocking a spammer, and the export."""

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from rest_framework.test import APIClient

from marketplace.models import Answer, Job, JobStatus
from tests.browser.axe import assert_accessible
from tests.browser.conftest import shot
from tests.factories import WorkerFactory

BAD_ITEMS = "external_id,text\nok-1,A purring animal\n,\n"


def label_through_the_api(job: Job, worker, answer: str) -> None:
    """A worker claims the job's next task and answers `answer` to every item, as a client of the API would."""
    api = APIClient()
    api.force_authenticate(worker)
    claim = api.post(f"/api/v1/work/jobs/{job.pk}/claim/")
    assert claim.status_code == 201, claim.content
    answers = [{"position": item["position"], "answer": answer} for item in claim.json()["items"]]
    submit = api.post(f"/api/v1/work/assignments/{claim.json()['id']}/submit/", {"answers": answers}, format="json")
    assert submit.status_code == 200, submit.content


def test_a_requester_posts_funds_and_launches_a_job_then_reviews_blocks_and_exports(
    page: Page, transactional_db, tmp_path: Path
) -> None:
    page.goto("/accounts/signup/")
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_label("Password").fill("a-long-test-password-1")
    page.get_by_label("Requester").check()
    page.get_by_role("button", name="Sign up").click()
    page.get_by_role("link", name="Post a job").first.click()

    page.get_by_label("Title").fill("Cat or dog <3")
    page.get_by_label("Instructions").fill("Read the **text** and pick the animal.")
    page.get_by_role("button", name="Preview the instructions").click()
    expect(page.locator("#preview strong")).to_have_text("text")
    page.get_by_label("Classes").fill("cat\ndog")
    page.get_by_label("Item fields").fill("text")
    page.get_by_label("Answers per item").fill("2")
    page.get_by_label("At most, when answers disagree").fill("2")
    page.get_by_label("Items per task").fill("2")
    page.get_by_label("Gold ratio").fill("0")
    shot(page, "requester-01-job-form")
    assert_accessible(page)
    page.get_by_role("button", name="Save the draft").click()
    expect(page.get_by_role("heading", name="Cat or dog <3")).to_be_visible()

    bad = tmp_path / "items.csv"
    bad.write_text(BAD_ITEMS)
    page.get_by_label("File:", exact=True).set_input_files(str(bad))
    page.get_by_role("button", name="Upload").click()
    errors = page.get_by_role("table", name="Errors in the file")
    expect(errors).to_contain_text("text")
    shot(page, "requester-02-upload-refused")
    assert_accessible(page)
    bad.write_text("external_id,text\nok-1,A purring animal\nok-2,A barking animal\nok-3,Meow\nok-4,Woof\n")
    page.get_by_label("File:", exact=True).set_input_files(str(bad))
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_role("table", name="Uploads")).to_contain_text("items.csv")

    cost = page.get_by_role("table", name="Cost")
    expect(cost).to_contain_text("Shortfall to deposit")
    shot(page, "requester-03-cost")
    assert_accessible(page)
    page.get_by_role("button", name="Deposit").click()
    expect(page.get_by_role("status").first).to_contain_text("Deposited")
    page.get_by_role("button", name="Launch the job").click()
    expect(page.get_by_text("Job #")).to_contain_text("Active")

    job = Job.objects.get(title="Cat or dog <3")
    assert job.status == JobStatus.ACTIVE
    good, spammer = WorkerFactory(email="good@example.com"), WorkerFactory(email="spammer@example.com")
    for worker, answer in ((good, "cat"), (good, "dog"), (spammer, "dog"), (spammer, "dog")):
        label_through_the_api(job, worker, answer)

    page.get_by_role("link", name="Worker's view").click()  # the worker's widget on the items, nothing kept
    expect(page.get_by_text("A purring animal")).to_be_visible()
    expect(page.get_by_role("radio", name="1 cat").first).to_be_focused()  # the widget's script has run
    page.keyboard.press("1")
    expect(page.get_by_role("radio", name="1 cat").first).to_be_checked()
    page.keyboard.press("2")  # the second item; then the focus is on the button
    page.keyboard.press("Enter")
    expect(page.get_by_text("Meow")).to_be_visible()  # the next task's items
    shot(page, "requester-04-preview")
    assert_accessible(page)
    assert Answer.objects.filter(job=job).count() == 8  # the four workers' submissions only

    page.get_by_role("link", name="Dashboard").click()
    expect(page.locator("svg[role=img]")).to_have_count(9)  # six plots, and three of progress over time
    plots = (("Progress", 4), ("Submissions per hour", 24), ("Confidence", 10), ("Items per label", 2))
    plots += (("Mean confidence per label", 2), ("Money", 2))
    for name, marks in plots:
        expect(page.locator(f'svg[aria-label^="{name}"] .mark')).to_have_count(marks)
    expect(page.get_by_role("table", name="Workers")).to_contain_text(f"Worker #{spammer.pk}")
    shot(page, "requester-04-dashboard")
    expect(page.locator('svg[aria-label^="Items done over time"] .mark').first).to_be_visible()
    assert_accessible(page)

    page.get_by_role("link", name="Review").click()
    tick_all, spams = page.get_by_label("Tick all"), page.get_by_label(re.compile(f"by worker #{spammer.pk}$"))
    expect(tick_all).to_be_visible()  # its script has run
    tick_all.press("Space")  # every box ticked, then the spammer's cleared
    expect(spams.first).to_be_checked()
    for box in spams.all():
        box.press("Space")
    expect(spams.last).not_to_be_checked()
    page.get_by_role("button", name="Approve the ticked").click()
    expect(page.get_by_role("status").first).to_contain_text("2 approved, 0 rejected")
    page.get_by_label(re.compile(f"by worker #{spammer.pk}$")).first.press("Space")
    page.get_by_label("Reason (to reject)").fill("Every answer is dog")
    page.get_by_role("button", name="Reject the ticked").click()
    expect(page.get_by_role("table", name="Reviewed submissions")).to_contain_text("Every answer is dog")
    shot(page, "requester-05-review")
    assert_accessible(page)

    page.get_by_role("link", name="Dashboard").click()
    page.get_by_label(f"Reason for #{spammer.pk}").fill("Answers dog to everything")
    page.get_by_label(f"Reason for #{spammer.pk}").press("Enter")
    expect(page.get_by_role("table", name="Workers")).to_contain_text("Blocked: Answers dog to everything")

    page.get_by_role("link", name="Results").click()
    expect(page.get_by_role("table", name="Results")).to_contain_text("A purring animal")
    with page.expect_download() as download:
        page.get_by_role("link", name="CSV").click()
    exported = Path(download.value.path()).read_text()
    assert exported.splitlines()[0].startswith("item_id,")
    assert len(exported.splitlines()) == 5
    shot(page, "requester-06-results")
    assert_accessible(page)

    # A job of another answer type, built with the same form: several classes per item.
    page.get_by_role("link", name="Post a job").first.click()
    page.get_by_label("Title").fill("Topics of a review")
    page.get_by_label("Answer type").select_option(label="Several classes")
    page.get_by_label("Classes or labels").fill("price\nquality\nservice")
    page.get_by_label("Item fields").fill("text")
    page.get_by_label("Answers per item").fill("1")
    page.get_by_label("At most, when answers disagree").fill("1")
    page.get_by_label("Items per task").fill("2")
    page.get_by_label("Gold ratio").fill("0")
    page.get_by_role("button", name="Save the draft").click()
    expect(page.get_by_role("heading", name="Topics of a review")).to_be_visible()
    reviews = tmp_path / "reviews.csv"
    reviews.write_text("text\nCheap but it broke\nFriendly staff\n")
    page.get_by_label("File:", exact=True).set_input_files(str(reviews))
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_role("table", name="Uploads")).to_contain_text("reviews.csv")
    page.get_by_role("button", name="Deposit").click()
    page.get_by_role("button", name="Launch the job").click()
    expect(page.get_by_text("Job #")).to_contain_text("Active")
    topics = Job.objects.get(title="Topics of a review")
    assert topics.label_schema == {"type": "multi_choice", "choices": ["price", "quality", "service"]}
    page.get_by_role("link", name="Worker's view").click()
    expect(page.get_by_role("checkbox", name="2 quality").first).to_be_visible()
    shot(page, "requester-07-multi-choice-preview")


def test_the_accessibility_check_fails_on_an_unlabelled_field(page: Page, transactional_db) -> None:
    page.goto("/")
    page.set_content("<html lang=en><head><title>t</title></head><body><main><input type=text></main></body></html>")

    with pytest.raises(AssertionError, match="label"):
        assert_accessible(page)

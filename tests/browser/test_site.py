"""The site's frame, as a visitor and a signed-in user meet it in a real browser."""

import re

from playwright.sync_api import Page, expect

from tests.browser.conftest import log_in
from tests.factories import PASSWORD, WorkerFactory


def test_a_visitor_finds_the_docs_and_the_way_to_sign_up(page: Page, db) -> None:
    page.goto("/")

    expect(page.get_by_role("heading", name="crowdmarket")).to_be_visible()
    expect(page.get_by_role("link", name="API documentation")).to_have_attribute("href", "/api/docs/")
    page.get_by_role("link", name="Sign up").click()
    expect(page).to_have_url(re.compile(r"/accounts/signup/$"))
    expect(page.get_by_label("Email")).to_be_visible()


def test_a_worker_logs_in_with_the_keyboard_and_sees_who_they_are(page: Page, transactional_db) -> None:
    worker = WorkerFactory(email="ada@example.com")

    log_in(page, worker.email, PASSWORD)

    expect(page.get_by_text("Signed in as ada@example.com.", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()

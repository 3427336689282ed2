"""The pages in a real browser, as people use them: Debian's chromium driven by Playwright (never
``playwright install``), against the gateway served by uvicorn on loopback. Each page visited is saved as a
screenshot under ``test-output/screenshots/``."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import FAILED_NUMBER, PASSWORD, Site

from tests.integration.expense_support import RecordingResponder

pytestmark = pytest.mark.browser

playwright_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"

Page = playwright_api.Page
expect = playwright_api.expect


@pytest.fixture(scope="module")
def browser() -> Iterator[playwright_api.Browser]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (.ci/system-packages.sh installs it)")
    with playwright_api.sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: playwright_api.Browser, site: Site) -> Iterator[Page]:
    context = browser.new_context(
        base_url=site.url, accept_downloads=True, viewport={"width": 1280, "height": 900}
    )
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


def shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def log_in(page: Page, name: str, start: str = "/web/") -> None:
    page.goto(start)
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    page.get_by_label("Name").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_text(f"{name} (")).to_be_visible()


def log_out(page: Page) -> None:
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()


def test_support_finds_a_failed_document_by_number_learns_why_and_retries(page: Page, site: Site) -> None:
    page.goto("/web/outbound")
    shot(page, "01-login")
    log_in(page, "sam", "/web/outbound")
    expect(page.get_by_role("heading", name="Outbound documents")).to_be_visible()
    page.get_by_label("Document number").fill(FAILED_NUMBER)
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("link", name=FAILED_NUMBER)).to_be_visible()
    shot(page, "02-outbound-search")

    page.get_by_role("link", name=FAILED_NUMBER).click()
    expect(page.get_by_role("heading", name=re.compile(f"Document {FAILED_NUMBER}"))).to_be_visible()
    why = page.get_by_role("status").first
    expect(why).to_contain_text("refused the message")  # plain words
    expect(why).to_contain_text("EBMS:0004")  # and the code
    timeline = page.get_by_role("table", name="Status timeline")
    expect(timeline).to_contain_text("submitted")
    expect(timeline).to_contain_text("failed for good")
    invoice = page.locator(".invoice-frame")
    expect(invoice).to_contain_text(FAILED_NUMBER)
    expect(invoice).to_contain_text("EUR")
    shot(page, "03-outbound-document-failed")

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download the evidence (zip)").click()
    archive = zipfile.ZipFile(io.BytesIO(Path(download_info.value.path()).read_bytes()))
    assert "document.xml" in archive.namelist()
    assert FAILED_NUMBER.encode() in archive.read("document.xml")

    page.get_by_role("link", name="Retry delivery…").click()
    expect(page.get_by_role("heading", name=re.compile("Retry the delivery"))).to_be_visible()
    shot(page, "04-retry-confirmation")
    page.get_by_role("button", name="Yes, retry the delivery").click()
    expect(page.get_by_text("Retry requested: the worker")).to_be_visible()
    expect(page.get_by_role("table", name="Status timeline")).to_contain_text("retry requested")
    expect(page.get_by_role("table", name="Status timeline")).to_contain_text("sam")  # who asked
    shot(page, "05-outbound-after-retry")

    page.get_by_role("link", name="Inbound").click()
    expect(page.get_by_role("heading", name="Received documents")).to_be_visible()
    shot(page, "06-inbound-list")
    page.get_by_role("table").get_by_role("link").first.click()
    expect(page.get_by_role("heading", name="Validation report")).to_be_visible()
    expect(page.locator(".invoice-frame")).to_contain_text("SUP-")
    shot(page, "07-inbound-document")


def test_support_finds_a_received_document_by_the_suppliers_number(page: Page, site: Site) -> None:
    # "My invoice SUP-7002, did you get it?": it went to triage, yet it is found among the received ones.
    log_in(page, "sam", "/web/inbound")
    expect(page.get_by_role("heading", name="Received documents")).to_be_visible()
    page.get_by_label("Document number").fill("sup-7002")
    page.get_by_role("button", name="Show").click()
    rows = page.get_by_role("table", name="Received documents, newest first").get_by_role("row")
    expect(rows).to_have_count(2)  # the header and the one document
    expect(rows.nth(1)).to_contain_text("SUP-7002")
    expect(page.get_by_label("Document number")).to_have_value("sup-7002")
    shot(page, "08-inbound-by-number")
    page.get_by_label("Document number").fill("SUP-70*")
    page.get_by_role("button", name="Show").click()
    expect(rows).to_have_count(3)  # both supplier invoices, newest first
    expect(rows.nth(1)).to_contain_text("SUP-7002")
    expect(rows.nth(2)).to_contain_text("SUP-7001")
    page.get_by_label("Document number").fill("SUP-7003")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_text("No received document has this number.")).to_be_visible()
    page.get_by_label("Document number").fill("N" * 201)
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_role("alert")).to_contain_text("at most 200 characters")
    shot(page, "09-inbound-number-refused")
    page.get_by_label("Document number").fill("sup-7001")
    page.get_by_role("button", name="Show").click()
    page.get_by_role("table").get_by_role("link").first.click()
    expect(page.get_by_role("definition").first).to_have_text("SUP-7001")  # the facts start with it
    expect(page.locator(".invoice-frame")).to_contain_text("SUP-7001")


def test_support_triages_and_a_member_approves_and_rejects(page: Page, site: Site) -> None:
    log_in(page, "sam")
    page.get_by_role("link", name="Triage").click()
    expect(page.get_by_role("heading", name=re.compile("Triage"))).to_be_visible()
    shot(page, "08-triage")
    page.get_by_label("Unit for SUP-7002").select_option("PU-04711")
    page.get_by_role("button", name="Assign").click()
    expect(page.get_by_text("The triage queue is empty")).to_be_visible()
    shot(page, "09-triage-empty")
    log_out(page)

    log_in(page, "mia")  # member of PU-04711
    expect(page.get_by_role("heading", name="Expenses")).to_be_visible()
    expect(page.get_by_role("link", name="SUP-7002")).to_be_visible()
    expect(page.get_by_role("link", name="SUP-7001")).to_be_visible()
    expect(page.get_by_role("link", name="Outbound")).to_have_count(0)  # no support pages for members
    shot(page, "10-member-inbox")
    page.get_by_role("link", name="SUP-7002").click()
    expect(page.locator(".invoice-frame")).to_contain_text("SUP-7002")
    shot(page, "11-expense")
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_text("The supplier is told through Peppol (Invoice Response AP)")).to_be_visible()
    expect(page.get_by_role("heading", name=re.compile("SUP-7002"))).to_contain_text("approved")
    expect(page.get_by_role("table", name="Audit trail")).to_contain_text("mia (member)")
    shot(page, "12-expense-approved")

    page.get_by_role("link", name="Expenses").click()
    page.get_by_role("link", name="SUP-7001").click()
    page.get_by_label("Reason for rejecting").fill("Delivered goods do not match the order")
    page.locator("#reject-code").select_option("QTY")  # the reject form's reason code (the default: OTH)
    page.get_by_role("button", name="Reject").click()
    expect(page.get_by_text("The supplier is told through Peppol (Invoice Response RE)")).to_be_visible()
    responder = site.services.responder
    assert isinstance(responder, RecordingResponder)
    assert (responder.requests[-1].status, responder.requests[-1].reason_codes) == ("RE", ("QTY",))
    expect(page.get_by_text("Delivered goods do not match the order").first).to_be_visible()
    shot(page, "13-expense-rejected")


def test_support_asks_whether_a_client_can_receive(page: Page, site: Site) -> None:
    # This site has no receiver discovery: the lookup page says so under the form, which keeps the id.
    log_in(page, "sam")
    page.get_by_role("link", name="Lookup").click()
    page.get_by_label("Peppol id").fill("0208:0123456749")
    page.get_by_label("Document").select_option("credit-note")
    page.get_by_role("button", name="Look up").click()
    expect(page.get_by_role("alert")).to_contain_text("No receiver discovery is configured")
    expect(page.get_by_label("Peppol id")).to_have_value("0208:0123456749")
    expect(page.get_by_label("Document")).to_have_value("credit-note")
    page.get_by_role("link", name="Network").click()
    expect(page.get_by_role("heading", name="Network duties")).to_be_visible()
    expect(page.get_by_text("No Peppol report is stored yet.")).to_be_visible()


def test_a_form_without_its_csrf_token_is_refused(page: Page, site: Site) -> None:
    log_in(page, "sam")
    page.goto(f"/web/outbound/{site.failed_id}/retry")
    page.locator("input[name=csrf_token]").last.evaluate("input => input.remove()")  # a forged form
    page.get_by_role("button", name="Yes, retry the delivery").click()
    expect(page.get_by_role("heading", name=re.compile("Not allowed"))).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("CSRF token")
    shot(page, "14-csrf-refused")
    answer = page.request.post(f"/web/outbound/{site.failed_id}/retry", form={"csrf_token": "forged"})
    assert answer.status == 403


def test_a_member_is_refused_another_units_expense(page: Page, site: Site) -> None:
    log_in(page, "max")  # member of PU-00123 only
    expect(page.get_by_role("link", name="SUP-7001")).to_have_count(0)
    page.goto(f"/web/expenses/{site.routed_expense}")
    expect(page.get_by_role("heading", name=re.compile("Not found"))).to_be_visible()
    shot(page, "15-member-refused")
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    answer = page.request.post(
        f"/web/expenses/{site.routed_expense}/approve", form={"csrf_token": token or ""}
    )
    assert answer.status == 404
    page.goto("/web/outbound")
    expect(page.get_by_role("heading", name=re.compile("Not allowed"))).to_be_visible()


def test_a_dutch_browser_gets_dutch_pages(browser: playwright_api.Browser, site: Site) -> None:
    context = browser.new_context(base_url=site.url, locale="nl-BE", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        page.goto(f"/web/outbound/{site.failed_id}")
        page.get_by_label("Naam").fill("sam")
        page.get_by_label("Wachtwoord").fill(PASSWORD)
        page.get_by_role("button", name="Inloggen").click()
        expect(page.get_by_role("heading", name="Statusverloop")).to_be_visible()
        expect(page.get_by_role("table", name="Statusverloop")).to_contain_text("weigerde het bericht")
        expect(page.locator(".invoice-frame")).to_contain_text("Factuur")  # the invoice in Dutch too
        shot(page, "16-document-nl")
    finally:
        context.close()


def test_an_admin_adds_a_member_who_logs_in_and_changes_their_password(page: Page) -> None:
    log_in(page, "ada")
    page.get_by_role("link", name="People").click()
    expect(page.get_by_role("heading", name="People who log in")).to_be_visible()
    page.get_by_label("Name").fill("vera")
    page.get_by_label("Role").select_option("member")
    page.get_by_label("Units").fill("PU-04711")
    page.get_by_label("Password (at least 12 characters)").fill(PASSWORD)
    page.get_by_label("The password again").fill(PASSWORD)
    page.get_by_role("button", name="Add the account").click()
    expect(page.get_by_role("status")).to_contain_text("The account is created")
    shot(page, "17-account-created")
    log_out(page)
    log_in(page, "vera")
    expect(page.get_by_role("link", name="People")).to_have_count(0)
    page.get_by_role("link", name="vera").click()
    expect(page.get_by_role("heading", name="My account")).to_be_visible()
    page.get_by_label("Current password").fill(PASSWORD)
    page.get_by_label("New password (at least 12 characters)").fill("vera's own passphrase")
    page.get_by_label("The password again").fill("vera's own passphrase")
    page.get_by_role("button", name="Change my password").click()
    expect(page.get_by_role("status")).to_contain_text("Your password is changed")
    shot(page, "18-own-password-changed")

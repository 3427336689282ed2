"""The Download PDF and Download UBL links in a real browser (Debian's chromium through Playwright, as
test_browser.py): a member opens a supplier invoice of their unit from the inbox and downloads it; support
downloads what was delivered from an outbound document's page, and a received document from its page."""

from __future__ import annotations

from pathlib import Path

import pytest
import test_browser
from conftest import DELIVERED_NUMBER, Site
from test_browser import Page, expect, log_in, log_out, shot

from gateway.model.expense import SYSTEM_ACTOR
from gateway.services.expense_queries import get_expense
from gateway.services.inbound_queries import get_inbound
from gateway.services.outbound_queries import get_outbound_content

pytestmark = pytest.mark.browser

browser = test_browser.browser  # the fixtures of test_browser.py, under their names
page = test_browser.page


def _downloaded(page: Page, link: str) -> tuple[str, bytes]:
    """Click the link ``link`` and return the download's suggested name and bytes."""
    with page.expect_download() as info:
        page.get_by_role("link", name=link, exact=True).click()
    download = info.value
    saved = download.path()
    assert saved is not None
    return download.suggested_filename, Path(saved).read_bytes()


def test_a_member_downloads_a_supplier_invoice_as_pdf_and_ubl(page: Page, site: Site) -> None:
    log_in(page, "mia")  # member of PU-04711
    page.get_by_role("link", name="SUP-7001").click()
    expect(page.locator(".invoice-frame")).to_contain_text("SUP-7001")
    shot(page, "downloads-01-expense")

    name, pdf = _downloaded(page, "Download PDF")
    assert name == "SUP-7001.pdf"
    assert pdf.startswith(b"%PDF")
    name, ubl = _downloaded(page, "Download UBL")
    assert name == "SUP-7001.xml"
    assert b"SUP-7001" in ubl
    # The page is still there after the downloads (they are attachments, not navigations).
    expect(page.get_by_role("heading", name="Audit trail")).to_be_visible()
    log_out(page)

    log_in(page, "sam")
    page.goto(f"/web/outbound/{site.delivered_id}")
    expect(page.get_by_role("link", name="Download PDF", exact=True)).to_be_visible()
    shot(page, "downloads-02-outbound")
    name, pdf = _downloaded(page, "Download PDF")
    assert name == f"{DELIVERED_NUMBER}.pdf"
    assert pdf.startswith(b"%PDF")
    name, ubl = _downloaded(page, "Download UBL")
    assert name == f"{DELIVERED_NUMBER}.xml"
    assert ubl == get_outbound_content(site.services.store, site.delivered_id).body


def test_support_downloads_a_received_document_from_its_page(page: Page, site: Site) -> None:
    received = get_expense(site.services.store, SYSTEM_ACTOR, site.routed_expense).expense.inbound_document_id
    log_in(page, "sam")
    page.goto("/web/inbound")
    page.locator(f'a[href="/web/inbound/{received}"]').click()
    expect(page.locator(".invoice-frame")).to_contain_text("SUP-7001")
    shot(page, "downloads-03-inbound")
    name, pdf = _downloaded(page, "Download PDF")
    assert (name, pdf[:4]) == ("SUP-7001.pdf", b"%PDF")
    name, ubl = _downloaded(page, "Download UBL")
    assert name == "SUP-7001.xml"
    assert ubl == get_inbound(site.services.store, received).content.body
    expect(page.get_by_role("heading", name="Validation report")).to_be_visible()

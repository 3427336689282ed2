"""The expense inbox's search in a real browser (Debian's chromium driven by Playwright, as ``test_browser``):
a member asked about "invoice sup-7001" finds it by typing its number, then that supplier's other
invoices by the id under its name; a number that cannot be one is said on the form."""

from __future__ import annotations

import pytest
from conftest import Site
from test_browser import Page, browser, expect, log_in, page, shot  # noqa: F401 - fixtures

pytestmark = pytest.mark.browser


def test_a_member_finds_a_supplier_invoice_by_its_number_and_then_the_suppliers(
    page: Page,  # noqa: F811 - the fixture
    site: Site,
) -> None:
    log_in(page, "mia", "/web/expenses")
    expect(page.get_by_role("heading", name="Expenses")).to_be_visible()
    page.get_by_label("Document number").fill("sup-7001")
    page.get_by_label("Status").select_option("any")
    page.get_by_role("button", name="Show").click()
    rows = page.get_by_role("table").get_by_role("row")
    expect(rows).to_have_count(2)  # the header and the invoice
    expect(rows.nth(1)).to_contain_text("SUP-7001")
    expect(page.get_by_label("Document number")).to_have_value("sup-7001")
    expect(page.get_by_label("Status")).to_have_value("any")
    shot(page, "30-expense-by-number")
    page.get_by_label("Document number").fill("SUP-7002")  # in triage: not one of mia's units
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_text("No expense matches this search.")).to_be_visible()
    page.get_by_label("Document number").fill("*")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_role("alert")).to_contain_text("followed by *")
    shot(page, "31-expense-number-refused")
    page.get_by_label("Document number").fill("")
    page.get_by_role("button", name="Show").click()
    page.get_by_role("link", name="0208:0412345614").click()  # the supplier's id under its name
    expect(page.get_by_label("Supplier")).to_have_value("0208:0412345614")
    expect(page.get_by_role("table").get_by_role("row")).to_have_count(2)
    page.get_by_role("table").get_by_role("link", name="SUP-7001").click()
    expect(page.get_by_role("heading", level=1).first).to_contain_text("SUP-7001")

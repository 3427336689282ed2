"""Paying an expense in part in a real browser (Debian's chromium through Playwright), as support does it:
choose "Paid partially", forget the explanation and read why on the form, fill it in, see that the supplier
is told (PD with PPD), then record the rest of the payment, which the supplier is not told."""

from __future__ import annotations

import re

import pytest
from conftest import Site
from test_browser import Page, browser, expect, log_in, log_out, page, shot  # noqa: F401 - fixtures

from tests.integration.expense_support import RecordingResponder

pytestmark = pytest.mark.browser


def test_support_pays_an_invoice_in_part_then_records_the_rest(
    page: Page,  # noqa: F811 - the fixture
    site: Site,
) -> None:
    log_in(page, "mia")  # member of PU-04711: approves
    page.goto(f"/web/expenses/{site.routed_expense}")
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_role("heading", name=re.compile("SUP-7001"))).to_contain_text("approved")
    log_out(page)

    log_in(page, "sam")
    page.goto(f"/web/expenses/{site.routed_expense}")
    page.get_by_role("radio", name="Paid partially").check()
    page.get_by_label(re.compile("Amount paid in EUR")).fill("10,50")
    page.get_by_role("button", name="Mark as paid").click()
    expect(page.get_by_role("alert")).to_have_text("A partial payment needs an explanation for the supplier.")
    expect(page.get_by_role("radio", name="Paid partially")).to_be_checked()
    expect(page.get_by_label(re.compile("Amount paid in EUR"))).to_have_value("10,50")
    shot(page, "40-partial-payment-refused")

    page.get_by_label(re.compile("Explanation for the supplier")).fill("The rest after the credit note")
    page.get_by_role("button", name="Mark as paid").click()
    expect(page.get_by_text("The supplier is told through Peppol (Invoice Response PD)")).to_be_visible()
    expect(page.get_by_role("heading", name=re.compile("SUP-7001"))).to_contain_text("paid")
    expect(page.get_by_text(re.compile("^Paid partially. The supplier was told"))).to_be_visible()
    responder = site.services.responder
    assert isinstance(responder, RecordingResponder)
    last = responder.requests[-1]
    assert (last.status, last.reason_codes) == ("PD", ("PPD",))
    assert last.note is not None
    assert re.fullmatch(r"Paid 10\.50 of [0-9.]+ EUR: The rest after the credit note", last.note)
    shot(page, "41-partially-paid")

    page.get_by_role("button", name="Record the rest as paid").click()
    expect(
        page.get_by_text(re.compile("The rest of the payment is recorded. The supplier is not told"))
    ).to_be_visible()
    expect(page.get_by_role("button", name="Record the rest as paid")).to_have_count(0)
    expect(page.get_by_role("table", name="Audit trail")).to_contain_text("rest recorded as paid")
    assert responder.requests[-1] is last  # nothing more went to the supplier
    shot(page, "42-rest-recorded")

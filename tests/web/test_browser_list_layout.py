"""The outbound list in a real browser (Debian's chromium through Playwright) with a long reason in one
row, as the demo's credit note to an invoice-only client has (an SMP address of 300 characters): the
short cells - state badge, kind, receiver - keep their words whole (the walk of the demo's pages found
``confir med`` and ``invoic e`` broken mid-word, the long reason taking the width), and the page still
fits the window."""

from __future__ import annotations

from dataclasses import replace

import pytest
from conftest import Site, _move
from test_browser import Page, browser, expect, log_in, page, shot  # noqa: F401 - fixtures

from gateway.model.identifiers import INVOICE_RESPONSE
from gateway.model.message import DeliveryEvent, InboundStatus
from tests.contract.store_builders import content, inbound, outbound
from tests.integration.expense_support import COOP

pytestmark = pytest.mark.browser

NUMBER = "WEB-LAYOUT-0001"
LONG_REASON = "document-type-not-supported: the SMP has no service metadata at http://127.0.0.1:34767/" + (
    "iso6523-actorid-upis%3A%3A0208%3A0442000096/services/busdox-docid-qns%3A%3Aurn%3Aoasis%3Anames%3A"
    "specification%3Aubl%3Aschema%3Axsd%3ACreditNote-2%3A%3ACreditNote%23%23urn%3Acen.eu%3Aen16931%3A2017"
)


#: The lines of text each named cell of the list's first row takes (by its column index), of its state
#: badge, and whether the page fits the window's width.
_LINES = """(cells) => {
  const row = document.querySelector('table.list tbody tr');
  const lines = (element) => {
    const range = document.createRange();
    range.selectNodeContents(element);
    return new Set([...range.getClientRects()].map((rect) => Math.round(rect.top))).size;
  };
  const counted = Object.entries(cells).map(([name, index]) => [name, lines(row.children[index])]);
  return {
    ...Object.fromEntries(counted),
    badge: lines(row.querySelector('.status')),
    fits: document.documentElement.scrollWidth <= window.innerWidth,
  };
}"""


def _first_row_lines(shown: Page, cells: dict[str, int]) -> dict[str, object]:
    lines: dict[str, object] = shown.evaluate(_LINES, cells)
    return lines


def test_short_cells_keep_their_words_whole_beside_a_long_reason(
    page: Page,  # noqa: F811 - the fixture
    site: Site,
) -> None:
    document = outbound(number=NUMBER, seller=str(COOP))
    with site.services.store.unit_of_work() as uow:
        uow.outbound.add(document, content())
        uow.commit()
    _move(
        site.services.store,
        document.id,
        DeliveryEvent.SEND_STARTED,
        DeliveryEvent.PERMANENT_FAILURE,
        reason=LONG_REASON,
    )
    log_in(page, "sam")
    page.goto(f"/web/outbound?number={NUMBER}&lang=fr")
    row = page.locator("table.list tbody tr").first
    expect(row).to_contain_text("échoué")
    shot(page, "outbound-long-reason-fr")
    assert _first_row_lines(page, {"kind": 1, "receiver": 2}) == {
        "kind": 1,
        "receiver": 1,
        "badge": 1,
        "fits": True,
    }


def test_the_received_list_keeps_the_kind_and_the_badge_whole_beside_a_long_reason(
    page: Page,  # noqa: F811 - the fixture
    site: Site,
) -> None:
    # An Invoice Response numbered by a UUID, as many are, refused with a long reason: the kind column
    # added to the received list keeps its words on one line, as the badge does, and the page fits.
    document = replace(
        inbound(status=InboundStatus.INVALID),
        document_type=INVOICE_RESPONSE,
        document_number="3f2c9a4e-7b1d-4c8e-9f6a-0d5e2b1c7a93",
        status_reason=LONG_REASON,
    )
    with site.services.store.unit_of_work() as uow:
        uow.inbound.add(document, content())
        uow.commit()
    log_in(page, "sam")
    page.goto(f"/web/inbound?number={document.document_number}&lang=nl")
    row = page.locator("table.list tbody tr").first
    expect(row).to_contain_text("Invoice Response")
    shot(page, "inbound-kind-long-reason-nl")
    assert _first_row_lines(page, {"kind": 2}) == {"kind": 1, "badge": 1, "fits": True}

"""The network duties page in a real browser (Debian's chromium driven by Playwright, as ``test_browser``):
an admin about to remake a report whose delivery failed learns, when the receiving AP's MLS has come in the
meantime, that OpenPeppol already has it - and the month is not sent a second time."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from conftest import Site
from test_browser import Page, browser, expect, log_in, page, shot  # noqa: F401 - fixtures

from gateway.model.identifiers import ParticipantID
from gateway.model.report import ReportKind, ReportMonth, StoredReport
from gateway.model.responses import MLSCode
from gateway.services.reporting import PeppolReporter, ReporterSettings
from gateway.validation import ValidationEngine
from tests.late_mls import fail_after_sending, hold_mls
from tests.reporting_month import SEAT

pytestmark = pytest.mark.browser

AUGUST = ReportMonth(2026, 8)


@dataclass
class _Clock:
    at: datetime

    def now(self) -> datetime:
        return self.at


class _IDs:
    n = 0

    def new_id(self) -> str:
        _IDs.n += 1
        return f"00000000-0000-4000-8000-0000000b{_IDs.n:04d}"


@pytest.fixture
def failed_tsr(site: Site, validation_engine: ValidationEngine) -> Iterator[StoredReport]:
    """August's reports made and queued; the TSR's delivery then failed after its message was sent."""
    reporter = PeppolReporter(
        store=site.services.store,
        validator=validation_engine,
        clock=_Clock(datetime(2026, 9, 2, tzinfo=UTC)),
        ids=_IDs(),
        settings=ReporterSettings(
            reporter_seat=SEAT,
            sender=ParticipantID("0242", "000001"),
            receiver=ParticipantID("0208", "0000000097"),
        ),
    )
    site.services.__dict__["reporter"] = reporter
    tsr = next(r for r in reporter.create(AUGUST) if r.kind is ReportKind.TSR)
    fail_after_sending(site.services.store, tsr.outbound_document_id or "")
    yield tsr
    site.services.__dict__.pop("reporter", None)


def test_an_admin_is_told_the_report_arrived_after_all_and_it_is_not_sent_again(
    page: Page,  # noqa: F811 - the fixture
    site: Site,
    failed_tsr: StoredReport,
) -> None:
    first = failed_tsr.outbound_document_id or ""
    log_in(page, "ada", "/web/network")
    expect(page.get_by_role("heading", name="Network duties")).to_be_visible()
    row = page.get_by_role("row").filter(has_text="TSR-2026-08")
    expect(row.get_by_role("link", name="TSR-2026-08")).to_be_visible()
    remake = row.get_by_role("button", name="Remake")
    expect(remake).to_be_visible()  # failed, no evidence yet: the form offers a remake
    shot(page, "network-01-failed-report")

    # While the admin reads the page, OpenPeppol's AP answers the timed-out message with an MLS AP.
    hold_mls(site.services.store, first, MLSCode.ACCEPTED, inbound_id="00000000-0000-4000-a000-0000000000b1")
    remake.click()

    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("OpenPeppol's access point already received it")
    expect(alert).to_contain_text("would report the month twice")
    expect(alert.get_by_role("link", name="TSR-2026-08")).to_have_attribute("href", f"/web/outbound/{first}")
    row = page.get_by_role("row").filter(has_text="TSR-2026-08")
    expect(row).to_contain_text("MLS AP came after it failed: received")
    expect(row.get_by_role("button", name="Remake")).to_have_count(0)
    shot(page, "network-02-remake-refused")
    with site.services.store.unit_of_work(read_only=True) as uow:
        assert uow.reporting.report_documents(AUGUST, ReportKind.TSR) == [first]

"""The network duties page (support, admin): our AP certificate with its expiry warning (the threshold of
``/readyz``), the monthly Peppol reports with their delivery and whether the previous month's are sent by
the 15th, and an admin's remake of a report the network never took, through the reporting use case."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from conftest import Site, csrf_of

from gateway.crypto import common_name
from gateway.crypto.lifecycle import EXPIRY_WARNING_DAYS
from gateway.model.identifiers import ParticipantID
from gateway.model.message import DeliveryEvent
from gateway.model.report import ReportKind, ReportMonth, ReportStatus, StoredReport
from gateway.model.responses import MLSCode
from gateway.services.reporting import PeppolReporter, ReporterSettings
from gateway.validation import ValidationEngine
from tests.late_mls import fail_after_sending, hold_mls
from tests.reporting_month import MONTH, SEAT, TRAFFIC

INVALID_ID = "00000000-0000-4000-9000-0000000000a1"
EARLIER = ReportMonth(2026, 10)


@dataclass
class FixedClock:
    at: datetime

    def now(self) -> datetime:
        return self.at


class _IDs:
    n = 0

    def new_id(self) -> str:
        _IDs.n += 1
        return f"00000000-0000-4000-8000-{_IDs.n:012d}"


@dataclass
class Reports:
    tsr: StoredReport
    eusr: StoredReport


def _invalid(report_id: str, kind: ReportKind) -> StoredReport:
    """A report of the earlier month stored ``invalid`` (never sent): one the remake form offers."""
    return StoredReport(
        id=report_id,
        month=EARLIER,
        kind=kind,
        xml=b"<broken/>",
        validation_report={"valid": False, "issues": []},
        status=ReportStatus.INVALID,
        created_at=datetime(2026, 11, 2, tzinfo=UTC),
    )


@pytest.fixture(scope="module")
def reports(site: Site, validation_engine: ValidationEngine) -> Iterator[Reports]:
    """November's TSR and EUSR made and queued (in flight), and an invalid EUSR of October."""
    store = site.services.store
    reporter = PeppolReporter(
        store=store,
        validator=validation_engine,
        clock=FixedClock(datetime(2026, 12, 2, tzinfo=UTC)),
        ids=_IDs(),
        settings=ReporterSettings(
            reporter_seat=SEAT,
            sender=ParticipantID("0242", "000001"),
            receiver=ParticipantID("0208", "0000000097"),
        ),
    )
    with store.unit_of_work() as uow:
        for t in TRAFFIC:
            uow.reporting.record(t)
        uow.reporting.add_report(_invalid(INVALID_ID, ReportKind.EUSR))
        uow.commit()
    made = {r.kind: r for r in reporter.create(MONTH)}
    site.services.__dict__["reporter"] = reporter
    yield Reports(made[ReportKind.TSR], made[ReportKind.EUSR])
    site.services.__dict__.pop("reporter", None)


@pytest.fixture
def today(site: Site, monkeypatch: pytest.MonkeyPatch) -> Callable[[datetime], None]:
    """Sets the gateway's clock (the sessions keep their own)."""

    def set_to(at: datetime) -> None:
        monkeypatch.setattr(site.services, "clock", FixedClock(at))

    return set_to


def test_staff_see_our_certificate_and_the_reports(
    site: Site, reports: Reports, login: Callable[[str], httpx.Client], today: Callable[[datetime], None]
) -> None:
    today(datetime(2026, 12, 10, tzinfo=UTC))
    client = login("sam")
    answer = client.get("/web/network")
    assert answer.status_code == 200, answer.text
    text = answer.text
    certificate = site.services.identity.certificate  # type: ignore[union-attr]
    assert common_name(certificate) in text
    assert certificate.issuer.rfc4514_string() in text
    assert "<code>development</code>" in text  # the PKI stage
    assert 'href="/web/network" aria-current="page"' in text
    assert f'href="/web/outbound/{reports.tsr.outbound_document_id}"' in text
    assert "2026-10" in text
    assert "EUSR" in text
    assert "TSR" in text
    assert "The reports for 2026-11 are due by day 15 of the next month:" in text
    assert "<strong>not yet</strong>" in text
    assert "Remake" not in text  # support staff do not remake
    assert client.head("/web/network").status_code == 200


def test_the_previous_months_reports_are_late_after_the_15th_and_sent_once_delivered(
    site: Site, reports: Reports, login: Callable[[str], httpx.Client], today: Callable[[datetime], None]
) -> None:
    client = login("sam")
    today(datetime(2026, 12, 16, tzinfo=UTC))
    assert "<strong>late</strong>" in client.get("/web/network").text
    with site.services.store.unit_of_work() as uow:
        for report in (reports.tsr, reports.eusr):
            assert report.outbound_document_id is not None
            for step, event in enumerate((DeliveryEvent.SEND_STARTED, DeliveryEvent.RECEIPT_RECEIVED)):
                uow.outbound.transition(
                    report.outbound_document_id,
                    event,
                    at=datetime(2026, 12, 3, step, tzinfo=UTC),
                    reason="test",
                )
        uow.commit()
    assert "<strong>sent</strong>" in client.get("/web/network").text


@pytest.mark.parametrize(
    ("days_left", "said"),
    [
        (EXPIRY_WARNING_DAYS + 5, "Valid for more than"),
        (EXPIRY_WARNING_DAYS - 5, "Expires soon."),
        (-1, "Expired."),
    ],
)
def test_the_certificate_warning_follows_the_readyz_threshold(
    site: Site,
    login: Callable[[str], httpx.Client],
    today: Callable[[datetime], None],
    days_left: int,
    said: str,
) -> None:
    end = site.services.identity.certificate.not_valid_after_utc  # type: ignore[union-attr]
    today(end - timedelta(days=days_left))
    text = login("ada").get("/web/network").text
    assert said in text
    for other in {"Valid for more than", "Expires soon.", "Expired."} - {said}:
        assert other not in text


def test_members_may_not_see_the_page(login: Callable[[str], httpx.Client]) -> None:
    client = login("mia")
    assert client.get("/web/network").status_code == 403
    assert 'href="/web/network"' not in client.get("/web/expenses").text


def test_an_admin_remakes_an_invalid_report_with_the_form(
    site: Site, reports: Reports, login: Callable[[str], httpx.Client]
) -> None:
    client = login("ada")
    page = client.get("/web/network").text
    assert f'name="report" value="{INVALID_ID}"' in page  # its Remake button
    assert f'name="report" value="{reports.tsr.id}"' not in page  # in flight or delivered: none
    token = csrf_of(client, "/web/network")
    answer = client.post("/web/network/remake", data={"csrf_token": token, "report": INVALID_ID})
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/web/network?done=remade"
    assert "The report is remade from the month" in client.get(answer.headers["location"]).text
    with site.services.store.unit_of_work(read_only=True) as uow:
        remade = uow.reporting.get_report(INVALID_ID)
    assert remade is not None
    assert remade.status is not ReportStatus.INVALID


def test_a_remake_the_rule_refuses_is_a_form_message(
    site: Site, reports: Reports, login: Callable[[str], httpx.Client]
) -> None:
    client = login("ada")
    token = csrf_of(client, "/web/network")
    answer = client.post("/web/network/remake", data={"csrf_token": token, "report": reports.tsr.id})
    assert answer.status_code == 409, answer.text
    # In flight, or delivered when the test of the due line ran first: said each in its own words.
    assert (
        "This report may not be remade: a transmission of it is still on its way." in answer.text
        or "This report may not be remade: OpenPeppol's access point already received it." in answer.text
    )
    assert (
        f'Transmission: <a href="/web/outbound/{reports.tsr.outbound_document_id}">TSR-{MONTH}</a>'
        in answer.text
    )
    assert 'role="alert"' in answer.text
    assert "<h1>Network duties</h1>" in answer.text


def test_a_remake_needs_the_csrf_token_and_an_admin(
    site: Site, reports: Reports, login: Callable[[str], httpx.Client]
) -> None:
    with site.services.store.unit_of_work() as uow:
        uow.reporting.add_report(_invalid("00000000-0000-4000-9000-0000000000b2", ReportKind.TSR))
        uow.commit()
    admin = login("ada")
    forged = admin.post("/web/network/remake", data={"report": "00000000-0000-4000-9000-0000000000b2"})
    assert forged.status_code == 403
    support = login("sam")
    token = csrf_of(support, "/web/network")
    refused = support.post(
        "/web/network/remake", data={"csrf_token": token, "report": "00000000-0000-4000-9000-0000000000b2"}
    )
    assert refused.status_code == 403
    assert "Only admins remake reports." in refused.text
    with site.services.store.unit_of_work(read_only=True) as uow:
        kept = uow.reporting.get_report("00000000-0000-4000-9000-0000000000b2")
    assert kept is not None
    assert kept.status is ReportStatus.INVALID


@pytest.mark.parametrize(
    ("language", "title", "state"),
    [("fr", "Obligations réseau", "pas encore"), ("nl", "Netwerkverplichtingen", "nog niet")],
)
def test_the_page_speaks_french_and_dutch(
    reports: Reports,
    login: Callable[[str], httpx.Client],
    today: Callable[[datetime], None],
    language: str,
    title: str,
    state: str,
) -> None:
    today(datetime(2026, 11, 10, tzinfo=UTC))  # October's reports: the TSR is missing, not yet late
    text = login("sam").get("/web/network", headers={"Accept-Language": language}).text
    assert f"<h1>{title}</h1>" in text
    assert f"<strong>{state}</strong>" in text


def test_an_unknown_report_is_the_404_page(reports: Reports, login: Callable[[str], httpx.Client]) -> None:
    client = login("ada")
    token = csrf_of(client, "/web/network")
    answer = client.post("/web/network/remake", data={"csrf_token": token, "report": "no-such-report"})
    assert answer.status_code == 404
    assert "There is no such document" in answer.text


def test_without_an_ap_key_the_page_says_so(
    site: Site, login: Callable[[str], httpx.Client], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(site.services, "identity", None)
    answer = login("sam").get("/web/network")
    assert answer.status_code == 200
    assert "This gateway has no access point key and certificate" in answer.text


def test_reports_kept_here_by_design_are_never_late(
    site: Site, reports: Reports, login: Callable[[str], httpx.Client], today: Callable[[datetime], None]
) -> None:
    """A gateway that stores its reports without sending them (reporting off, or not the production stage)
    owes the network nothing: its due line says so, never "late" (and December is January's previous
    month)."""
    december = ReportMonth(2026, 12)
    with site.services.store.unit_of_work() as uow:
        for n, kind in enumerate(ReportKind):
            uow.reporting.add_report(
                StoredReport(
                    id=f"00000000-0000-4000-9000-0000000000c{n}",
                    month=december,
                    kind=kind,
                    xml=b"<kept/>",
                    validation_report={"valid": True, "issues": []},
                    status=ReportStatus.STORED,
                    created_at=datetime(2027, 1, 2, tzinfo=UTC),
                )
            )
        uow.commit()
    client = login("sam")
    today(datetime(2027, 1, 20, tzinfo=UTC))
    text = client.get("/web/network").text
    assert "The reports for 2026-12 are due by day 15 of the next month:" in text
    assert "<strong>late</strong>" not in text
    assert "kept here, not sent: reporting is off or this is not the production network" in text
    french = client.get("/web/network", headers={"Accept-Language": "fr"}).text
    assert "conservés ici, non envoyés" in french


def test_a_report_received_despite_its_failed_delivery_shows_why_and_is_not_remade(
    site: Site, reports: Reports, login: Callable[[str], httpx.Client], today: Callable[[datetime], None]
) -> None:
    """September's TSR timed out for good (failed), but OpenPeppol's AP got it: its MLS AP came late. The
    page shows the transmission with that answer and no Remake button, the month counts as sent, and a
    remake posted anyway is refused in the person's language with a link to the transmission."""
    september = ReportMonth(2026, 9)
    store = site.services.store
    reporter = site.services.reporter
    assert reporter is not None
    tsr, eusr = reporter.create(september)  # zero-count reports (the traffic is November's)
    first = tsr.outbound_document_id or ""
    fail_after_sending(store, first)
    hold_mls(store, first, MLSCode.ACCEPTED, inbound_id="00000000-0000-4000-a000-0000000000d1")
    with store.unit_of_work() as uow:  # the EUSR was delivered
        for event in (DeliveryEvent.SEND_STARTED, DeliveryEvent.RECEIPT_RECEIVED):
            uow.outbound.transition(
                eusr.outbound_document_id or "", event, at=datetime(2026, 10, 3, tzinfo=UTC), reason="test"
            )
        uow.commit()
    today(datetime(2026, 10, 20, tzinfo=UTC))
    client = login("ada")
    page = client.get("/web/network").text
    assert f'<a href="/web/outbound/{first}">TSR-2026-09</a>' in page
    assert "MLS AP came after it failed: received" in page
    assert f'name="report" value="{tsr.id}"' not in page
    assert "<strong>sent</strong>" in page  # the month's reports did reach OpenPeppol
    token = csrf_of(client, "/web/network")
    answer = client.post("/web/network/remake", data={"csrf_token": token, "report": tsr.id})
    assert answer.status_code == 409, answer.text
    assert "OpenPeppol's access point already received it" in answer.text
    assert 'role="alert"' in answer.text
    assert f'Transmission: <a href="/web/outbound/{first}">TSR-2026-09</a>' in answer.text
    french = client.post("/web/network/remake?lang=fr", data={"csrf_token": token, "report": tsr.id}).text
    assert "le point d'accès d'OpenPeppol l'a déjà reçu" in french
    dutch = client.post("/web/network/remake?lang=nl", data={"csrf_token": token, "report": tsr.id}).text
    assert "het accesspoint van OpenPeppol heeft het al ontvangen" in dutch
    with store.unit_of_work(read_only=True) as uow:
        assert uow.reporting.report_documents(september, ReportKind.TSR) == [first]  # not sent again

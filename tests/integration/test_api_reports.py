"""GET /v1/reports on SQLite and PostgreSQL: the stored Peppol reports with status, delivery status and
evidence link, their exact XML, roles (support/admin) and problem+json."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gateway.model.identifiers import ParticipantID
from gateway.model.message import DeliveryEvent
from gateway.model.report import ReportKind, ReportMonth, ReportStatus, StoredReport
from gateway.model.responses import MLSCode
from gateway.services.reporting import PeppolReporter, ReporterSettings
from gateway.validation import ValidationEngine
from tests.integration.document_api import (  # noqa: F401 - fixtures
    DocumentAPI,
    _document_apis,
    _postgres_url,
    _sqlite_url,
    auth,
    docs_fixture,
    problem_of,
)
from tests.late_mls import fail_after_sending, hold_mls
from tests.reporting_month import MONTH, SEAT, TRAFFIC


class _Clock:
    def now(self) -> datetime:
        return datetime(2026, 12, 2, tzinfo=UTC)


class _IDs:
    n = 0

    def new_id(self) -> str:
        _IDs.n += 1
        return f"00000000-0000-4000-8000-{_IDs.n:012d}"


def seed(docs: DocumentAPI, engine: ValidationEngine) -> list[StoredReport]:
    with docs.store.unit_of_work() as uow:
        for t in TRAFFIC:
            uow.reporting.record(t)
        uow.commit()
    reporter = reporter_of(docs, engine)
    return reporter.create(MONTH)


def test_reports_are_listed_and_shown_with_delivery_and_evidence(
    docs: DocumentAPI, validation_engine: ValidationEngine
) -> None:
    made = seed(docs, validation_engine)
    response = docs.client.get("/v1/reports", headers=auth("support"))
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert {item["kind"] for item in items} == {"tsr", "eusr"}
    tsr = next(r for r in made if r.kind is ReportKind.TSR)
    shown = docs.client.get(f"/v1/reports/{tsr.id}", headers=auth("admin")).json()
    assert shown["month"] == str(MONTH)
    assert shown["status"] == ReportStatus.QUEUED.value
    assert shown["valid"] is True
    assert shown["delivery_status"] == "accepted"
    assert shown["evidence_url"] == f"/v1/outbound/{tsr.outbound_document_id}/evidence"
    assert shown["validation_report"]["rule_set"] == "peppol-tsr-1.0.5"
    xml = docs.client.get(shown["xml_url"], headers=auth("support"))
    assert xml.status_code == 200
    assert xml.headers["content-type"].startswith("application/xml")
    assert xml.content == tsr.xml


def test_reports_need_support_or_admin_and_unknown_ids_are_problems(docs: DocumentAPI) -> None:
    refused = docs.client.get("/v1/reports", headers=auth("sender"))
    assert refused.status_code == 403
    assert problem_of(refused)["status"] == 403
    missing = docs.client.get("/v1/reports/00000000-0000-4000-8000-999999999999", headers=auth("support"))
    assert missing.status_code == 404
    assert problem_of(missing)["status"] == 404
    assert docs.client.get("/v1/reports", headers={"Authorization": ""}).status_code == 401
    assert ReportMonth.parse("2026-11") == MONTH


def reporter_of(docs: DocumentAPI, engine: ValidationEngine) -> PeppolReporter:
    return PeppolReporter(
        store=docs.store,
        validator=engine,
        clock=_Clock(),
        ids=_IDs(),
        settings=ReporterSettings(
            reporter_seat=SEAT,
            sender=ParticipantID("0242", "000001"),
            receiver=ParticipantID("0208", "0000000097"),
        ),
    )


def test_an_admin_remakes_an_invalid_report_and_gets_its_new_state(
    docs: DocumentAPI, validation_engine: ValidationEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(docs.services.__dict__, "reporter", reporter_of(docs, validation_engine))
    with docs.store.unit_of_work() as uow:
        for t in TRAFFIC:
            uow.reporting.record(t)
        invalid = StoredReport(
            id="00000000-0000-4000-9000-000000000001",
            month=MONTH,
            kind=ReportKind.EUSR,
            xml=b"<broken/>",
            validation_report={"valid": False, "issues": []},
            status=ReportStatus.INVALID,
            created_at=datetime(2026, 12, 1, 23, tzinfo=UTC),
        )
        uow.reporting.add_report(invalid)
        uow.commit()
    url = f"/v1/reports/{invalid.id}/remake"
    refused = docs.client.post(url, headers=auth("support"))
    assert refused.status_code == 403
    assert problem_of(refused)["status"] == 403
    remade = docs.client.post(url, headers=auth("admin"))
    assert remade.status_code == 200, remade.text
    body = remade.json()
    assert (body["id"], body["status"], body["valid"]) == (invalid.id, "queued", True)
    assert body["delivery_status"] == "accepted"
    assert body["validation_report"]["rule_set"] == "peppol-eusr-1.1.5"
    # Queued now: a second remake is a conflict, and the report stays as it is.
    again = docs.client.post(url, headers=auth("admin"))
    assert again.status_code == 409
    problem = problem_of(again)
    assert problem["status"] == 409
    assert "in flight" in problem["detail"]
    assert docs.client.get(f"/v1/reports/{invalid.id}", headers=auth("support")).json() == body
    missing = docs.client.post(
        "/v1/reports/00000000-0000-4000-8000-999999999999/remake", headers=auth("admin")
    )
    assert missing.status_code == 404
    assert problem_of(missing)["status"] == 404


def test_a_report_whose_delivery_failed_is_remade_and_its_failed_document_is_not_retried(
    docs: DocumentAPI, validation_engine: ValidationEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    reporter = reporter_of(docs, validation_engine)
    monkeypatch.setitem(docs.services.__dict__, "reporter", reporter)
    with docs.store.unit_of_work() as uow:
        for t in TRAFFIC:
            uow.reporting.record(t)
        uow.commit()
    tsr, eusr = reporter.create(MONTH)
    failed_id = eusr.outbound_document_id or ""
    with docs.store.unit_of_work() as uow:
        uow.outbound.transition(
            failed_id, DeliveryEvent.PERMANENT_FAILURE, at=datetime(2026, 12, 2, tzinfo=UTC), reason="test"
        )
        uow.commit()
    refused = docs.client.post(f"/v1/reports/{tsr.id}/remake", headers=auth("admin"))
    assert refused.status_code == 409  # queued, in flight
    remade = docs.client.post(f"/v1/reports/{eusr.id}/remake", headers=auth("admin"))
    assert remade.status_code == 200, remade.text
    body = remade.json()
    assert body["status"] == "queued"
    assert body["outbound_document_id"] not in (None, failed_id)
    old = docs.client.get(f"/v1/outbound/{failed_id}", headers=auth("support"))
    assert old.status_code == 200
    assert old.json()["status"] == "failed"  # kept as the record of its failed delivery
    # Resending the failed document would send the month's old EUSR as well: refused.
    retried = docs.client.post(f"/v1/outbound/{failed_id}/retry", headers=auth("support"))
    assert retried.status_code == 409
    assert "remade since" in problem_of(retried)["detail"]


def test_the_failed_document_of_a_remade_report_is_not_offered_for_retry(
    docs: DocumentAPI, validation_engine: ValidationEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review 29: ``retry_allowed`` says what POST .../retry answers. A failed report document that was
    remade since is refused (409, the report goes as another document): it is not offered either, while a
    failed report document still linked to its report is."""
    reporter = reporter_of(docs, validation_engine)
    monkeypatch.setitem(docs.services.__dict__, "reporter", reporter)
    with docs.store.unit_of_work() as uow:
        for t in TRAFFIC:
            uow.reporting.record(t)
        uow.commit()
    tsr, eusr = reporter.create(MONTH)
    failed_id, linked_id = eusr.outbound_document_id or "", tsr.outbound_document_id or ""
    with docs.store.unit_of_work() as uow:
        for document_id in (failed_id, linked_id):
            uow.outbound.transition(
                document_id, DeliveryEvent.PERMANENT_FAILURE, at=datetime(2026, 12, 2, tzinfo=UTC), reason="t"
            )
        uow.commit()
    offered = docs.client.get(f"/v1/outbound/{failed_id}", headers=auth("support")).json()
    assert offered["retry_allowed"] is True  # failed, its report's document: a retry goes
    remade = docs.client.post(f"/v1/reports/{eusr.id}/remake", headers=auth("admin"))
    assert remade.status_code == 200, remade.text
    old = docs.client.get(f"/v1/outbound/{failed_id}", headers=auth("support")).json()
    assert old["status"] == "failed"
    assert old["retry_allowed"] is False
    assert docs.client.post(f"/v1/outbound/{failed_id}/retry", headers=auth("support")).status_code == 409
    still = docs.client.get(f"/v1/outbound/{linked_id}", headers=auth("support")).json()
    assert (still["status"], still["retry_allowed"]) == ("failed", True)


def test_remake_without_our_ap_key_is_503(docs: DocumentAPI) -> None:
    report = StoredReport(
        id="00000000-0000-4000-9000-000000000002",
        month=MONTH,
        kind=ReportKind.TSR,
        xml=b"<broken/>",
        validation_report={"valid": False, "issues": []},
        status=ReportStatus.INVALID,
        created_at=datetime(2026, 12, 2, tzinfo=UTC),
    )
    with docs.store.unit_of_work() as uow:
        uow.reporting.add_report(report)
        uow.commit()
    answer = docs.client.post(f"/v1/reports/{report.id}/remake", headers=auth("admin"))
    assert answer.status_code == 503
    assert "AP key" in problem_of(answer)["title"]


def test_a_remake_of_a_report_received_despite_its_failed_delivery_is_a_409_naming_it(
    docs: DocumentAPI, validation_engine: ValidationEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The TSR's delivery timed out for good (failed) but OpenPeppol's AP got it: its MLS AP came late and
    # is held. A remake would send the month twice; the API says why and names the transmission.
    reporter = reporter_of(docs, validation_engine)
    monkeypatch.setitem(docs.services.__dict__, "reporter", reporter)
    tsr, eusr = seed_with(docs, reporter)
    first = tsr.outbound_document_id or ""
    fail_after_sending(docs.store, first)
    hold_mls(docs.store, first, MLSCode.ACCEPTED, inbound_id="00000000-0000-4000-a000-0000000000a1")
    refused = docs.client.post(f"/v1/reports/{tsr.id}/remake", headers=auth("admin"))
    assert refused.status_code == 409
    problem = problem_of(refused)
    assert problem["type"] == "/problems/report-already-received"
    assert problem["outbound_document_id"] == first
    assert "answered with an MLS AP" in problem["detail"]
    shown = docs.client.get(f"/v1/reports/{tsr.id}", headers=auth("support")).json()
    assert shown["remake_refusal"] == problem["detail"]
    assert [(t["outbound_document_id"], t["state"], t["late_mls"]) for t in shown["transmissions"]] == [
        (first, "received", ["AP"])
    ]
    # The EUSR's is still queued: in flight, its own type.
    in_flight = problem_of(docs.client.post(f"/v1/reports/{eusr.id}/remake", headers=auth("admin")))
    assert in_flight["type"] == "/problems/report-in-flight"
    assert in_flight["outbound_document_id"] == eusr.outbound_document_id


def test_a_remade_report_lists_every_transmission(
    docs: DocumentAPI, validation_engine: ValidationEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Refused by OpenPeppol's AP (its MLS RE came while the delivery was failed): remade, and both shown.
    reporter = reporter_of(docs, validation_engine)
    monkeypatch.setitem(docs.services.__dict__, "reporter", reporter)
    tsr, _eusr = seed_with(docs, reporter)
    first = tsr.outbound_document_id or ""
    fail_after_sending(docs.store, first)
    hold_mls(docs.store, first, MLSCode.REJECTED, inbound_id="00000000-0000-4000-a000-0000000000a2")
    remade = docs.client.post(f"/v1/reports/{tsr.id}/remake", headers=auth("admin"))
    assert remade.status_code == 200, remade.text
    body = remade.json()
    listed = next(
        item
        for item in docs.client.get("/v1/reports", headers=auth("support")).json()["items"]
        if item["id"] == tsr.id
    )
    for shown in (body, listed):
        assert [
            (t["outbound_document_id"], t["state"], t["delivery_status"]) for t in shown["transmissions"]
        ] == [
            (first, "refused", "failed"),
            (body["outbound_document_id"], "in-flight", "accepted"),
        ]
        assert shown["transmissions"][0]["status_url"] == f"/v1/outbound/{first}"
        assert "in flight" in shown["remake_refusal"]


def seed_with(docs: DocumentAPI, reporter: PeppolReporter) -> list[StoredReport]:
    with docs.store.unit_of_work() as uow:
        for t in TRAFFIC:
            uow.reporting.record(t)
        uow.commit()
    return reporter.create(MONTH)

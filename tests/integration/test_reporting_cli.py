"""`gateway reporting create --month YYYY-MM` on a SQLite database with the development PKI: reports are
stored (not sent to OpenPeppol outside production), queued to a configured test receiver, idempotent."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from as4_support import dev_pki

from gateway.cli.main import main
from gateway.errors import StoreError
from gateway.model.report import ReportKind, ReportMonth, ReportStatus, StoredReport
from gateway.services.reporting import PeppolReporter
from gateway.store import SQLDocumentStore, make_engine, upgrade_database


def _env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    files = dev_pki().pki.files()
    for name in ("root.pem", "apca.pem", "pop000001.key.pem", "pop000001.cert.pem"):
        (tmp_path / name).write_bytes(files[name])
    url = f"sqlite:///{tmp_path / 'gw.db'}"
    for key, value in {
        "GATEWAY_DATABASE__URL": url,
        "GATEWAY_KEYSTORE__PATH": str(tmp_path / "pop000001.key.pem"),
        "GATEWAY_KEYSTORE__CERT_PATH": str(tmp_path / "pop000001.cert.pem"),
        "GATEWAY_TRUSTSTORE__PATHS": json.dumps([str(tmp_path / "root.pem"), str(tmp_path / "apca.pem")]),
        "GATEWAY_TRUSTSTORE__STAGE": "development",
        "GATEWAY_AS4__MESSAGE_ID_DOMAIN": "reporting.test",
    }.items():
        monkeypatch.setenv(key, value)
    return url


def _lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_create_stores_the_month_and_queues_only_to_a_test_receiver(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = _env(tmp_path, monkeypatch)
    assert main(["reporting", "create", "--month", "2026-10"]) == 0
    first = _lines(capsys)
    # Development stage + OpenPeppol's receiver (the default): stored, never sent.
    assert [(r["kind"], r["status"], r["fatal"]) for r in first] == [
        ("tsr", "stored", []),
        ("eusr", "stored", []),
    ]
    assert main(["reporting", "create", "--month", "2026-10"]) == 0
    assert [r["id"] for r in _lines(capsys)] == [r["id"] for r in first]  # idempotent
    monkeypatch.setenv("GATEWAY_REPORTING__RECEIVER", "0208:0000000097")
    assert main(["reporting", "create", "--month", "2026-11"]) == 0
    queued = _lines(capsys)
    assert [r["status"] for r in queued] == ["queued", "queued"]
    store = SQLDocumentStore(make_engine(url))
    try:
        with store.unit_of_work(read_only=True) as uow:
            document = uow.outbound.get(str(queued[0]["outbound_document_id"]))
    finally:
        store.close()
    assert document is not None
    assert str(document.receiver) == "0208:0000000097"
    assert str(document.sender) == "0242:000001"  # our SPID, from the Seat ID POP000001


def test_a_malformed_month_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _env(tmp_path, monkeypatch)
    with pytest.raises(SystemExit) as exited:
        main(["reporting", "create", "--month", "2026-13"])
    assert exited.value.code == 2
    assert "YYYY-MM" in capsys.readouterr().err


def test_remake_remakes_an_invalid_report_and_refuses_one_stored_by_design(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = _env(tmp_path, monkeypatch)
    upgrade_database(url)
    invalid = StoredReport(
        id="00000000-0000-4000-9000-000000000001",
        month=ReportMonth(2026, 10),
        kind=ReportKind.TSR,
        xml=b"<broken/>",
        validation_report={"valid": False, "issues": [{"rule": "SCH-TSR-20", "severity": "fatal"}]},
        status=ReportStatus.INVALID,
        created_at=datetime(2026, 11, 2, tzinfo=UTC),
    )
    store = SQLDocumentStore(make_engine(url))
    try:
        with store.unit_of_work() as uow:
            uow.reporting.add_report(invalid)
            uow.commit()
    finally:
        store.close()
    assert main(["reporting", "create", "--month", "2026-10"]) == 1  # the missing EUSR; the TSR kept
    assert [(r["kind"], r["status"]) for r in _lines(capsys)] == [("tsr", "invalid"), ("eusr", "stored")]
    assert main(["reporting", "create", "--month", "2026-10", "--remake"]) == 0
    out = capsys.readouterr()
    remade = [json.loads(line) for line in out.out.splitlines()]
    assert [(r["id"], r["kind"], r["status"], r["fatal"]) for r in remade] == [
        (invalid.id, "tsr", "stored", [])
    ]
    assert "kept the EUSR" in out.err
    assert "not sent by design" in out.err
    assert "are not processed by OpenPeppol" in out.err  # remade after day 15 of November
    # Both now stored and not sent by design: nothing to remake, refused.
    assert main(["reporting", "create", "--month", "2026-10", "--remake", "--kind", "tsr"]) == 2
    refused = capsys.readouterr()
    assert refused.out == ""
    assert "no report of 2026-10 may be remade" in refused.err
    assert main(["reporting", "create", "--month", "2026-10", "--kind", "tsr"]) == 2
    assert "--kind goes with --remake" in capsys.readouterr().err


def test_remake_prints_what_it_remade_and_fails_for_a_kind_whose_remake_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = _env(tmp_path, monkeypatch)
    upgrade_database(url)
    invalid = {
        kind: StoredReport(
            id=f"00000000-0000-4000-9000-00000000000{n}",
            month=ReportMonth(2026, 10),
            kind=kind,
            xml=b"<broken/>",
            validation_report={"valid": False, "issues": [{"rule": "SCH-20", "severity": "fatal"}]},
            status=ReportStatus.INVALID,
            created_at=datetime(2026, 11, 2, tzinfo=UTC),
        )
        for n, kind in enumerate(ReportKind, start=1)
    }
    store = SQLDocumentStore(make_engine(url))
    try:
        with store.unit_of_work() as uow:
            for report in invalid.values():
                uow.reporting.add_report(report)
            uow.commit()
    finally:
        store.close()
    remake = PeppolReporter.remake

    def tsr_store_down(self: PeppolReporter, report_id: str) -> StoredReport:
        if report_id == invalid[ReportKind.TSR].id:
            raise StoreError("database unavailable")
        return remake(self, report_id)

    monkeypatch.setattr(PeppolReporter, "remake", tsr_store_down)
    assert main(["reporting", "create", "--month", "2026-10", "--remake"]) == 2
    out = capsys.readouterr()
    remade = [json.loads(line) for line in out.out.splitlines()]
    assert [(r["id"], r["kind"], r["status"]) for r in remade] == [
        (invalid[ReportKind.EUSR].id, "eusr", "stored")
    ]
    assert "gateway: remaking the TSR failed: database unavailable" in out.err

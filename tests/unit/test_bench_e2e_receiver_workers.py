"""``gateway bench e2e --receiver-workers N``: the receiver runs with ``GATEWAY_AS4__AFTER_RECEIPT=worker``
and N workers; and, in every cell, when the receiver had recorded the verdict of the saturation burst's
last document (so that a mode pushing work past the sender's figures shows it). No gateway process starts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from gateway.bench import e2e
from gateway.bench.e2e_report import E2EParameters, E2EResult, format_figures
from gateway.cli.main import main
from gateway.model import BIS_BILLING_PROCESS, BIS_INVOICE, ParticipantID
from gateway.model.message import VALIDATION_PENDING, DocumentContent, InboundDocument, InboundStatus
from gateway.store import SQLDocumentStore, make_engine, upgrade_database

START = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def test_receiver_workers_set_the_after_receipt_mode_and_the_worker_count() -> None:
    plain, mls = E2EParameters(), E2EParameters(mls=True)
    assert (e2e.receiver_settings(plain), e2e.receiver_worker_count(plain)) == ({}, 0)
    assert (e2e.receiver_settings(mls), e2e.receiver_worker_count(mls)) == ({}, 1)
    two = E2EParameters(receiver_workers=2)
    settings = e2e.receiver_settings(two)
    assert settings["GATEWAY_AS4__AFTER_RECEIPT"] == "worker"
    assert settings["GATEWAY_WORKER__POLL_INTERVAL_SECONDS"] == str(two.poll_interval)
    assert e2e.receiver_worker_count(two) == 2
    assert e2e.receiver_worker_count(E2EParameters(mls=True, receiver_workers=2)) == 2


def test_the_flag_reaches_the_cells_parameters(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    seen: list[E2EParameters] = []

    def run_e2e(*, database: str, workers: int, params: E2EParameters, **_: Any) -> E2EResult:
        seen.append(params)
        return E2EResult(database=database, workers=workers, wall_seconds=1.0)

    monkeypatch.setattr(e2e, "run_e2e", run_e2e)
    main(
        [
            "bench",
            "e2e",
            "--db",
            "sqlite",
            "--workers",
            "1",
            "--receiver-workers",
            "1",
            "--workdir",
            str(tmp_path),
        ]
    )
    assert [params.receiver_workers for params in seen] == [1]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--receiver-workers", "1", "--receiver", "shared"], "need the receiver in its own process"),
        (["--receiver-workers", "-1"], "--receiver-workers must not be negative"),
    ],
)
def test_unusable_receiver_workers_are_refused_before_anything_runs(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    extra: list[str],
    message: str,
) -> None:
    monkeypatch.setattr(e2e, "run_e2e", lambda **_: pytest.fail("a cell ran"))
    assert main(["bench", "e2e", "--db", "sqlite", "--workers", "1", *extra, "--workdir", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err


def test_the_receiver_done_figure_is_printed_per_cell() -> None:
    result = E2EResult(database="sqlite", workers=1)
    e2e.set_receiver_done(result, (200, START + timedelta(seconds=5)), START)
    assert (result.receiver_done, result.receiver_done_seconds, result.receiver_done_throughput) == (
        200,
        5.0,
        40.0,
    )
    lines = format_figures([result], E2EParameters(receiver_workers=1))
    assert "  sqlite, 1 worker(s): 200 verdicts after 5.00 s = 40.0 docs/s" in lines
    assert any("recv wkr" in line for line in lines)  # the receiver's workers' CPU has its column
    assert not any(
        "Receiver done" in line for line in format_figures([E2EResult("sqlite", 1)], E2EParameters())
    )


def _document(number: int, received_at: datetime) -> InboundDocument:
    return InboundDocument(
        id=f"doc-{number}",
        as4_message_id=f"msg-{number}",
        sender=ParticipantID.parse("0208:0123456789"),
        receiver=ParticipantID.parse("0208:0739484052"),
        document_type=BIS_INVOICE,
        process=BIS_BILLING_PROCESS,
        status=InboundStatus.RECEIVED,
        received_at=received_at,
        updated_at=received_at,
        status_reason=VALIDATION_PENDING,
    )


def test_the_receiver_done_figure_counts_the_bursts_verdicts_and_dates_the_last(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'receiver.db'}"
    upgrade_database(url)
    store = SQLDocumentStore(make_engine(url))
    try:
        with store.unit_of_work() as uow:
            for number, received_at in enumerate(
                (START - timedelta(seconds=1), START, START + timedelta(seconds=1))
            ):
                uow.inbound.add(_document(number, received_at), DocumentContent(b"<Invoice/>", None))
            uow.commit()
        with store.unit_of_work() as uow:  # the one before the burst and one of it have their verdict
            for number, at in ((0, START), (1, START + timedelta(seconds=4))):
                uow.inbound.record_validation(
                    f"doc-{number}", status=InboundStatus.VALID, report=None, reason=None, at=at
                )
            uow.commit()
        # The burst's other document is still pending: waited for up to the timeout, then counted as it is.
        assert e2e.wait_receiver_done(url, START, 2, 0.2) == (1, START + timedelta(seconds=4))
        with store.unit_of_work() as uow:
            uow.inbound.record_validation(
                "doc-2",
                status=InboundStatus.INVALID,
                report=None,
                reason="x",
                at=START + timedelta(seconds=6),
            )
            uow.commit()
        assert e2e.wait_receiver_done(url, START, 2, 30) == (2, START + timedelta(seconds=6))
    finally:
        store.close()

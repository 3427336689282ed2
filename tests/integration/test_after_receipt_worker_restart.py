"""Review 27: with GATEWAY_AS4__AFTER_RECEIPT=worker every received document is pending until a worker
claims it, so the start-up recovery of ``gateway serve`` (``_recover_pending_inbound``, no age threshold)
takes the workers' whole backlog: a restart of serve validates every fresh document itself, before it
answers any request, and beside the workers (no claim)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from gateway.model.message import InboundStatus
from gateway.validation import ValidationEngine
from tests.integration.test_after_receipt_in_worker import counting
from tests.integration.test_as4_endpoint import (  # noqa: F401 - fixtures
    FlakyStore,
    inbound_documents,
    make_app,
    make_message,
    official_example,
    sbd_of,
    settings_for,
    sql_store,
    store,
)


def test_a_restart_of_serve_in_worker_mode_leaves_fresh_documents_to_the_workers(
    store: FlakyStore,  # noqa: F811 - the imported fixture
    artefacts_dir: Path,
    validation_engine: ValidationEngine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = settings_for(
        artefacts_dir, tmp_path, after_receipt="worker", pending_sweep_interval_seconds=3600
    )
    app = make_app(settings, store, validation_engine)
    msg = make_message(sbd_of(official_example(artefacts_dir)))
    with TestClient(app) as client:
        assert client.post("/as4", content=msg.body, headers=dict(msg.headers)).status_code == 200
    calls = counting(validation_engine, monkeypatch)
    with TestClient(app):  # serve restarts (a deploy): the document was received a moment ago
        pass
    [document] = inbound_documents(store)
    assert calls == [], "serve's start-up validated a document that waits for a worker"
    assert document.status is InboundStatus.RECEIVED

"""How the API spares its event loop: dependencies without thread hand-offs, at most
``SUBMISSION_CONCURRENCY`` submissions worked on at once (the others wait in front, and all are answered),
and a start-up heap the garbage collector no longer scans."""

from __future__ import annotations

import gc
import json
import threading
import time
from pathlib import Path
from typing import Any

import fastapi.dependencies.utils
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from gateway.api.app import create_app
from gateway.api.routes.outbound import SUBMISSION_CONCURRENCY
from gateway.bootstrap import Services
from gateway.config import Settings
from gateway.store import SQLDocumentStore, upgrade_database
from gateway.validation import ValidationEngine, ValidationReport
from tests.integration.document_api import (  # noqa: F401 - fixtures
    DocumentAPI,
    _document_apis,
    _postgres_url,
    _sqlite_url,
    docs_fixture,
)
from tests.unit.model.model_builders import invoice_data


def _body(number: str) -> bytes:
    return json.dumps(invoice_data(number=number)).encode()


def test_a_submission_runs_no_dependency_in_the_threadpool(
    docs: DocumentAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    handed_off: list[str] = []
    original = fastapi.dependencies.utils.run_in_threadpool

    async def recording(call: Any, *args: Any, **kwargs: Any) -> Any:
        handed_off.append(getattr(call, "__qualname__", repr(call)))
        return await original(call, *args, **kwargs)

    monkeypatch.setattr(fastapi.dependencies.utils, "run_in_threadpool", recording)
    assert docs.client.post("/v1/outbound/invoices", content=_body("T-1")).status_code == 202
    anonymous = docs.client.post("/v1/outbound/invoices", content=b"{}", headers={"Authorization": ""})
    assert anonymous.status_code == 401
    assert handed_off == []


class _CountingValidation:
    """Wraps the engine's validate: counts the validations running at once, each taking a while."""

    def __init__(self, validate: Any) -> None:
        self._validate = validate
        self._lock = threading.Lock()
        self.running = 0
        self.most = 0

    def __call__(self, ubl: bytes, *, rule_set: str | None = None) -> ValidationReport:
        with self._lock:
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            time.sleep(0.05)
            report: ValidationReport = self._validate(ubl, rule_set=rule_set)
            return report
        finally:
            with self._lock:
                self.running -= 1


def test_parallel_submissions_are_worked_on_at_most_two_at_a_time(
    docs: DocumentAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = docs.services.validation
    counting = _CountingValidation(engine.validate)
    monkeypatch.setattr(engine, "validate", counting)
    posts = 6
    statuses: list[int] = []
    barrier = threading.Barrier(posts)

    def post(number: str) -> None:
        barrier.wait()
        statuses.append(docs.client.post("/v1/outbound/invoices", content=_body(number)).status_code)

    threads = [threading.Thread(target=post, args=(f"P-{i}",)) for i in range(posts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [202] * posts  # the waiting ones are answered too, none refused
    assert counting.most == SUBMISSION_CONCURRENCY == 2


def _start(app: FastAPI) -> None:
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200


def test_a_warm_start_freezes_the_start_up_heap(
    api_settings: Settings, validation_engine: ValidationEngine, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'api.db'}"
    upgrade_database(url)
    services = Services(
        settings=api_settings, validation=validation_engine, store=SQLDocumentStore.from_url(url)
    )
    try:
        gc.unfreeze()
        _start(create_app(api_settings, services=services, warm=False))
        assert gc.get_freeze_count() == 0  # tests (warm=False) leave the collector as it is
        _start(create_app(api_settings, services=services))
        assert gc.get_freeze_count() > 10_000  # the modules, the compiled rule set, the schemas
    finally:
        gc.unfreeze()
        services.close()

"""GET /metrics: Prometheus text with store gauges read at scrape time (SQLite and PostgreSQL), HTTP
request counters and latency, a request id per request, process metrics, one registry per app."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.engine import URL

from gateway.api.routes import health, metrics
from gateway.api.routes.metrics import GatewayMetrics, install_metrics
from gateway.errors import StoreError
from gateway.model.message import DeliveryEvent, InboundStatus
from gateway.services.ports import DocumentStore, UnitOfWork
from gateway.store import SQLDocumentStore, make_engine, upgrade_database
from tests.contract.store_builders import at, content, inbound, outbound, webhook
from tests.contract.store_databases import BACKENDS, migrated_postgres_database

NOW = at(60)
LEASE = timedelta(minutes=5)


class FixedClock:
    def now(self) -> datetime:
        return NOW


@pytest.fixture(scope="module")
def postgres_database() -> Iterator[URL]:
    with migrated_postgres_database() as url:
        yield url


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SQLDocumentStore]:
    if request.param == "postgresql":
        url: str | URL = request.getfixturevalue("postgres_database")
    else:
        url = f"sqlite:///{tmp_path / 'gateway.db'}"
        upgrade_database(url)
    store = SQLDocumentStore(make_engine(url))
    yield store
    store.close()


def seed(store: SQLDocumentStore) -> None:
    """3 accepted (1 queued due, 1 scheduled), 1 sending (leased), 1 failed; 2 valid + 1 invalid inbound;
    webhooks: 2 pending (one of them leased), 1 delivered, 1 failed."""
    docs = [outbound() for _ in range(5)]
    hooks = [webhook(created_at=at(i / 10)) for i in range(4)]  # leased in this order
    with store.unit_of_work() as uow:
        for doc in docs:
            uow.outbound.add(doc, content())
        uow.jobs.enqueue(docs[0].id, due_at=at(10))  # due
        uow.jobs.enqueue(docs[1].id, due_at=at(120))  # scheduled
        uow.jobs.enqueue(docs[3].id, due_at=at(5))
        uow.outbound.transition(
            docs[4].id, DeliveryEvent.PERMANENT_FAILURE, at=at(1), reason="unknown receiver"
        )
        for document in (inbound(), inbound(), inbound(status=InboundStatus.INVALID)):
            uow.inbound.add(document, content())
        for hook in hooks:
            uow.outbox.add(hook)
        uow.commit()
    with store.unit_of_work() as uow:
        # docs[3] is being sent by a worker right now.
        (lease,) = uow.jobs.lease(now=at(6), limit=1, lease_for=timedelta(hours=2), token="worker-1")
        assert lease.document_id == docs[3].id
        uow.outbound.transition(docs[3].id, DeliveryEvent.SEND_STARTED, at=at(6))
        taken = uow.outbox.lease(now=at(1), limit=3, lease_for=LEASE, token="hooks")
        assert [t.message.id for t in taken] == [hook.id for hook in hooks[:3]]
        uow.outbox.mark_delivered(hooks[0].id, "hooks", at=at(2))
        uow.outbox.fail(hooks[1].id, "hooks", at=at(2), error="HTTP 410")
        # hooks[2] stays leased (the lease expires before NOW; either way it is pending)
        uow.commit()


def make_app(store: DocumentStore) -> FastAPI:
    app = FastAPI()
    install_metrics(app, store=store, clock=FixedClock())
    app.include_router(health.router)
    app.include_router(metrics.router)
    return app


def scrape(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def test_store_gauges(store: SQLDocumentStore) -> None:
    seed(store)
    with TestClient(make_app(store)) as client:
        samples = scrape(client)
    assert samples[("gateway_store_up", ())] == 1
    outbound = {
        status: samples[("gateway_outbound_documents", (("status", status),))]
        for status in ("accepted", "sending", "delivered", "retrying", "failed")
    }
    assert outbound == {"accepted": 3, "sending": 1, "delivered": 0, "retrying": 0, "failed": 1}
    queue = {
        state: samples[("gateway_delivery_queue_jobs", (("state", state),))]
        for state in ("due", "scheduled", "leased")
    }
    assert queue == {"due": 1, "scheduled": 1, "leased": 1}
    inbound = {
        status: samples[("gateway_inbound_documents", (("status", status),))]
        for status in ("received", "valid", "invalid")
    }
    assert inbound == {"received": 0, "valid": 2, "invalid": 1}
    assert samples[("gateway_webhook_outbox_messages", (("state", "pending"),))] == 2
    assert samples[("gateway_webhook_outbox_messages", (("state", "failed"),))] == 1


def test_http_metrics_and_request_ids(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'gateway.db'}"
    upgrade_database(url)
    store = SQLDocumentStore.from_url(url)
    try:
        with TestClient(make_app(store)) as client:
            first = client.get("/healthz")
            client.get("/healthz", headers={"X-Request-ID": "erp-batch-42"})
            client.get("/no/such/path/3f1c")
            spoofed = client.get("/healthz", headers={"X-Request-ID": "bad id\twith\x7f junk"})
            samples = scrape(client)
    finally:
        store.close()
    assert len(first.headers["x-request-id"]) == 36  # generated (UUID)
    assert spoofed.headers["x-request-id"] != "bad id\twith\x7f junk"
    healthz = (("method", "GET"), ("route", "/healthz"), ("status", "200"))
    assert samples[("gateway_http_requests_total", healthz)] == 3
    # unknown paths share one series: probes cannot create series
    assert (
        samples[
            ("gateway_http_requests_total", (("method", "GET"), ("route", "<unmatched>"), ("status", "404")))
        ]
        == 1
    )
    assert (
        samples[("gateway_http_request_duration_seconds_count", (("method", "GET"), ("route", "/healthz")))]
        == 3
    )
    assert (
        "gateway_http_request_duration_seconds_bucket",
        (("le", "+Inf"), ("method", "GET"), ("route", "/healthz")),
    ) in samples
    assert any(name == "process_resident_memory_bytes" for name, _ in samples)
    assert any(name == "python_info" for name, _ in samples)
    # the scrape itself is counted only after it is answered: it is not in its own response
    assert not any(dict(labels).get("route") == "/metrics" for _, labels in samples)


def test_request_id_header_is_echoed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'gateway.db'}"
    upgrade_database(url)
    store = SQLDocumentStore.from_url(url)
    try:
        with TestClient(make_app(store)) as client:
            response = client.get("/healthz", headers={"X-Request-ID": "erp-batch-42"})
    finally:
        store.close()
    assert response.headers["x-request-id"] == "erp-batch-42"


class BrokenStore:
    def unit_of_work(self, *, read_only: bool = False) -> UnitOfWork:
        raise StoreError("database is down")

    def close(self) -> None:
        pass


def test_unreadable_store_reports_store_down_but_still_answers() -> None:
    with TestClient(make_app(BrokenStore())) as client:
        samples = scrape(client)
    assert samples[("gateway_store_up", ())] == 0
    assert not any(name.startswith("gateway_outbound_documents") for name, _ in samples)
    assert any(name == "process_resident_memory_bytes" for name, _ in samples)


def test_each_app_has_its_own_registry() -> None:
    # A module-level registry would refuse the second registration of the same metric names.
    first = GatewayMetrics(BrokenStore(), FixedClock())
    second = GatewayMetrics(BrokenStore(), FixedClock())
    first.http.requests.labels("GET", "/healthz", "200").inc()
    assert b'gateway_http_requests_total{method="GET",route="/healthz",status="200"} 1.0' in first.render()[0]
    assert b"gateway_http_requests_total{" not in second.render()[0]


def test_openmetrics_is_served_when_the_scraper_asks_for_it() -> None:
    with TestClient(make_app(BrokenStore())) as client:
        response = client.get("/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    assert response.text.rstrip().endswith("# EOF")


def test_a_scrape_never_waits_for_the_sqlite_write_lock(tmp_path: Path) -> None:
    # A writer holds the write lock (uncommitted); the scrape reads beside it in WAL mode instead of
    # queueing behind it (BEGIN IMMEDIATE would wait the busy timeout and then fail).
    url = f"sqlite:///{tmp_path / 'gateway.db'}"
    upgrade_database(url)
    store = SQLDocumentStore(make_engine(url, busy_timeout=0.2))
    try:
        seed(store)
        with store.unit_of_work() as writer, TestClient(make_app(store)) as client:
            writer.outbox.add(webhook(created_at=at(3)))  # takes the write lock
            samples = scrape(client)
    finally:
        store.close()
    assert samples[("gateway_store_up", ())] == 1
    assert samples[("gateway_webhook_outbox_messages", (("state", "pending"),))] == 2  # committed rows only
    assert samples[("gateway_inbound_documents", (("status", "valid"),))] == 2


def test_invented_methods_and_raw_paths_do_not_grow_the_series(tmp_path: Path) -> None:
    app = make_app(BrokenStore())

    @app.get("/items/{item_id}")
    def item(item_id: str) -> dict[str, str]:
        return {"id": item_id}

    with TestClient(app) as client:
        before = len(client.get("/metrics").content)
        for n in range(300):
            client.request(f"X{n}METHOD", "/healthz")
            client.get(f"/items/{n}")
        samples = scrape(client)
        after = len(client.get("/metrics").content)
    counted = [dict(labels) for name, labels in samples if name == "gateway_http_requests_total"]
    methods = {labels["method"] for labels in counted}
    assert methods <= {"GET", "other"}
    routes = {labels["route"] for labels in counted}
    assert routes == {"/healthz", "/items/{item_id}", "/metrics"}
    assert after - before < 8_000  # a handful of new series, not 300

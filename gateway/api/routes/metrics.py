"""GET /metrics in the Prometheus text format: documents per status, queue and outbox sizes, the triaged
expenses whose first Invoice Response is overdue (read from the store at scrape time, one query each), HTTP
request counters and latency, process metrics. One registry per app."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from fastapi import APIRouter, FastAPI, Request, Response
from prometheus_client import (
    CollectorRegistry,
    GCCollector,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from gateway.api.metrics_middleware import HTTPMetrics, ObservabilityMiddleware
from gateway.crypto.lifecycle import WatchedCertificate, expiries
from gateway.errors import GatewayError
from gateway.model.first_response import overdue_if_received_before
from gateway.model.message import DeliveryStatus, InboundStatus
from gateway.services.ports import Clock, DocumentStore, OutboxCounts, QueueCounts

log = logging.getLogger("gateway.api.metrics")

router = APIRouter(tags=["operations"])


@dataclass(frozen=True, slots=True)
class StoreSnapshot:
    """What the store holds at one instant, for one scrape."""

    outbound: Mapping[DeliveryStatus, int]
    inbound: Mapping[InboundStatus, int]
    queue: QueueCounts
    outbox: OutboxCounts
    first_response_overdue: int


def read_store_snapshot(store: DocumentStore, now: datetime) -> StoreSnapshot:
    """Read the counts for one scrape in one read-only unit of work (on SQLite a deferred transaction:
    a scrape never takes the write lock, so it never waits for, or delays, a writer).

    Raises:
        StoreError: the database cannot be read.
    """
    with store.unit_of_work(read_only=True) as uow:
        return StoreSnapshot(
            outbound=uow.outbound.count_by_status(),
            inbound=uow.inbound.count_by_status(),
            queue=uow.jobs.counts(now=now),
            outbox=uow.outbox.counts(now=now),
            first_response_overdue=uow.expenses.count_in_triage_received_before(
                overdue_if_received_before(now)
            ),
        )


class StoreCollector(Collector):
    """Collects the store gauges at scrape time. A failing database yields ``gateway_store_up 0`` and
    no store series, rather than a failed scrape (the process metrics still arrive)."""

    def __init__(self, store: DocumentStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    def describe(self) -> list[Metric]:
        return []  # no collect() at registration time: that would query the database

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("gateway_store_up", "1 when the store answered this scrape, else 0.")
        try:
            snapshot = read_store_snapshot(self._store, self._clock.now())
        except GatewayError:
            log.warning("metrics: store unreadable", exc_info=True)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        outbound = GaugeMetricFamily(
            "gateway_outbound_documents", "Outbound documents by delivery status.", labels=["status"]
        )
        for status in DeliveryStatus:
            outbound.add_metric([status.value], snapshot.outbound.get(status, 0))
        yield outbound
        queue = GaugeMetricFamily(
            "gateway_delivery_queue_jobs",
            "Delivery jobs: due (may be leased now), scheduled (future retry), leased (being sent).",
            labels=["state"],
        )
        queue.add_metric(["due"], snapshot.queue.due)
        queue.add_metric(["scheduled"], snapshot.queue.scheduled)
        queue.add_metric(["leased"], snapshot.queue.leased)
        yield queue
        inbound = GaugeMetricFamily(
            "gateway_inbound_documents", "Received documents by status.", labels=["status"]
        )
        for inbound_status in InboundStatus:
            inbound.add_metric([inbound_status.value], snapshot.inbound.get(inbound_status, 0))
        yield inbound
        outbox = GaugeMetricFamily(
            "gateway_webhook_outbox_messages",
            "Webhooks: pending (not yet delivered, includes retries) and failed (given up).",
            labels=["state"],
        )
        outbox.add_metric(["pending"], snapshot.outbox.pending)
        outbox.add_metric(["failed"], snapshot.outbox.failed)
        yield outbox
        overdue = GaugeMetricFamily(
            "gateway_expenses_first_response_overdue",
            "Expenses in triage whose supplier's first Invoice Response (AB, sent at the assignment to a "
            "unit) is overdue: due by the end of the third Belgian working day after receipt.",
        )
        overdue.add_metric([], snapshot.first_response_overdue)
        yield overdue


class CertificateCollector(Collector):
    """``gateway_certificate_expiry_days{role, name}``: days until each watched certificate expires.

    The labels are bounded: the certificates are fixed at start-up (our AP certificate and the configured
    trust anchors), and ``name`` is the certificate CN.
    """

    def __init__(self, certificates: Sequence[WatchedCertificate], clock: Clock) -> None:
        self._certificates = tuple(certificates)
        self._clock = clock

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        gauge = GaugeMetricFamily(
            "gateway_certificate_expiry_days",
            "Days until the certificate expires (negative once expired): our AP certificate (role ap) and "
            "every AP and SMP trust anchor.",
            labels=["role", "name"],
        )
        for expiry in expiries(self._certificates, self._clock.now()):
            gauge.add_metric([expiry.role.value, expiry.name], round(expiry.days_left, 3))
        yield gauge


class GatewayMetrics:
    """Everything /metrics shows for one app: its own registry (no global state), the HTTP metrics,
    the store collector and the process, platform and GC collectors.

    Args:
        store: the document store read at scrape time.
        clock: the time source for the queue counts.
    """

    def __init__(
        self, store: DocumentStore, clock: Clock, certificates: Sequence[WatchedCertificate] = ()
    ) -> None:
        self.registry = CollectorRegistry()
        self.http = HTTPMetrics(self.registry)
        self.registry.register(StoreCollector(store, clock))
        self.registry.register(CertificateCollector(certificates, clock))
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)

    def render(self, accept: str = "") -> tuple[bytes, str]:
        """The exposition and its media type, in the format the scraper's Accept header asks for:
        Prometheus text 0.0.4 by default, OpenMetrics or text 1.0.0 when requested."""
        encode, media_type = choose_encoder(accept)
        return encode(self.registry), media_type


def install_metrics(
    app: FastAPI,
    *,
    store: DocumentStore,
    clock: Clock,
    certificates: Sequence[WatchedCertificate] = (),
) -> GatewayMetrics:
    """Create the app's metrics (``app.state.metrics``, read by the /metrics route) and add the
    observability middleware. Call once in ``create_app``; include ``router`` there as well.
    """
    metrics = GatewayMetrics(store, clock, certificates)
    app.state.metrics = metrics
    app.add_middleware(ObservabilityMiddleware, metrics=metrics.http)
    return metrics


@router.get("/metrics", response_class=Response, include_in_schema=False)
def get_metrics(request: Request) -> Response:
    """Prometheus metrics; behind an API key unless ``server.open_operations`` (see ``operations_guard``)."""
    metrics: GatewayMetrics = request.app.state.metrics
    # A sync route: FastAPI runs it in the thread pool, so the store queries do not block the event loop.
    body, media_type = metrics.render(request.headers.get("accept", ""))
    return Response(content=body, headers={"Content-Type": media_type})

"""``HTTPMetrics.record`` keeps each label set's children: every request is counted and observed under its
own method, route and status, as ``labels`` on every call counted it, and in the registry's own children."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from gateway.api.metrics_middleware import HTTPMetrics


def _count(registry: CollectorRegistry, method: str, route: str, status: str) -> float | None:
    labels = {"method": method, "route": route, "status": status}
    return registry.get_sample_value("gateway_http_requests_total", labels)


def test_each_label_set_is_counted_and_observed_on_its_own() -> None:
    registry = CollectorRegistry()
    metrics = HTTPMetrics(registry)
    route = "/v1/outbound/invoices"
    for status, seconds in [("202", 0.02), ("401", 0.001), ("202", 0.3), ("422", 0.04), ("202", 7.0)]:
        metrics.record("POST", route, status, seconds)
    metrics.record("GET", route, "405", 0.002)

    assert _count(registry, "POST", route, "202") == 3
    assert _count(registry, "POST", route, "401") == 1
    assert _count(registry, "POST", route, "422") == 1
    assert _count(registry, "GET", route, "405") == 1
    post = {"method": "POST", "route": route}
    assert registry.get_sample_value("gateway_http_request_duration_seconds_count", post) == 5
    assert registry.get_sample_value("gateway_http_request_duration_seconds_sum", post) == pytest.approx(
        7.361
    )
    assert (
        registry.get_sample_value("gateway_http_request_duration_seconds_bucket", {**post, "le": "0.05"}) == 3
    )
    assert (
        registry.get_sample_value("gateway_http_request_duration_seconds_bucket", {**post, "le": "5.0"}) == 4
    )
    get = {"method": "GET", "route": route}
    assert registry.get_sample_value("gateway_http_request_duration_seconds_count", get) == 1


def test_the_kept_children_are_the_registry_s() -> None:
    registry = CollectorRegistry()
    metrics = HTTPMetrics(registry)
    metrics.record("GET", "/healthz", "200", 0.001)
    metrics.requests.labels("GET", "/healthz", "200").inc()
    metrics.record("GET", "/healthz", "200", 0.001)
    assert _count(registry, "GET", "/healthz", "200") == 3

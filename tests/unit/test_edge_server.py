"""The log rate limits of ``gateway serve`` (issue 13): repeated server lines are dropped and counted."""

from __future__ import annotations

import logging

import pytest
from uvicorn.protocols.http.h11_impl import H11Protocol

from gateway.api.edge_server import RATE_LIMITED_LOGGERS, install_log_rate_limits, server_config
from gateway.api.read_deadline import BodyDeadline
from gateway.config import ServerSettings
from gateway.observability import RateLimitFilter


def _record(message: str) -> logging.LogRecord:
    return logging.LogRecord("uvicorn.error", logging.WARNING, __file__, 1, message, None, None)


def test_one_line_per_template_and_interval_then_the_count(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [100.0]
    monkeypatch.setattr("gateway.observability.time.monotonic", lambda: clock[0])
    limit = RateLimitFilter(interval=10)
    passed = [limit.filter(_record("Invalid HTTP request received.")) for _ in range(1000)]
    assert passed.count(True) == 1
    assert limit.filter(_record("Exceeded concurrency limit."))  # another template has its own budget
    clock[0] += 11
    later = _record("Invalid HTTP request received.")
    assert limit.filter(later)
    assert "999 more" in later.getMessage()


def test_installed_once_on_the_server_loggers() -> None:
    install_log_rate_limits()
    install_log_rate_limits()
    for name in RATE_LIMITED_LOGGERS:
        assert sum(isinstance(f, RateLimitFilter) for f in logging.getLogger(name).filters) == 1


def test_client_failures_share_the_server_lines_rate_limit(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # One rate limiter for every repeated line (observability.RateLimitFilter), the body deadline's too.
    clock = [50.0]
    monkeypatch.setattr("gateway.observability.time.monotonic", lambda: clock[0])
    clients = logging.getLogger("gateway.api.clients")
    for existing in [f for f in clients.filters if isinstance(f, RateLimitFilter)]:
        clients.removeFilter(existing)
    BodyDeadline(object(), idle_timeout=1, total_timeout=1)  # type: ignore[arg-type]
    BodyDeadline(object(), idle_timeout=1, total_timeout=1)  # type: ignore[arg-type]
    assert sum(isinstance(f, RateLimitFilter) for f in clients.filters) == 1
    with caplog.at_level(logging.INFO, logger="gateway.api.clients"):
        for _ in range(50):
            clients.info("client %s went away", "127.0.0.1")
        clock[0] += 10
        clients.info("client %s went away", "127.0.0.1")
    assert [r.getMessage() for r in caplog.records] == [
        "client 127.0.0.1 went away",
        "client 127.0.0.1 went away (and 49 more like it in the last 10 s)",
    ]


def test_server_config_carries_the_limits() -> None:
    limits = ServerSettings(
        max_connections=7,
        limit_concurrency=9,
        backlog=11,
        timeout_keep_alive_seconds=3,
        max_header_bytes=4096,
    )
    config = server_config(object(), limits, host="127.0.0.1", port=1, log_level="info")
    assert (config.limit_concurrency, config.backlog, config.timeout_keep_alive) == (9, 11, 3)
    assert config.h11_max_incomplete_event_size == 4096
    assert isinstance(config.http, type)
    assert issubclass(config.http, H11Protocol)
    assert ServerSettings().limit_concurrency > ServerSettings().max_connections  # /healthz never gets 503


def test_asyncio_lines_are_grouped_by_their_first_line() -> None:
    limit = RateLimitFilter(interval=10)
    template = "socket.accept() out of system resource\nsocket: fd={}"
    lines = [
        logging.LogRecord("asyncio", logging.ERROR, __file__, 1, template.format(n), None, None)
        for n in range(100)
    ]
    assert [limit.filter(r) for r in lines].count(True) == 1

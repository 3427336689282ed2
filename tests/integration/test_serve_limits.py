"""``gateway serve`` under slow and half-open clients (issue 13), over real loopback HTTP with the uvicorn
configuration of ``gateway serve``: request heads and bodies have deadlines, connections are capped with
the oldest half-open one evicted, /healthz keeps answering, and clients that go away are logged as one
rate-limited INFO line, not as ERROR tracebacks."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn

from gateway.api.app import create_app
from gateway.api.edge_server import server_config
from gateway.bootstrap import Services
from gateway.config import Settings
from gateway.observability import RateLimitFilter
from gateway.store import SQLDocumentStore, upgrade_database
from gateway.validation import ValidationEngine
from tests.integration.conftest import SENDER_KEY

LIMITS = {
    "max_connections": 20,
    "header_timeout_seconds": 0.5,
    "body_idle_timeout_seconds": 0.5,
    "body_timeout_seconds": 2.0,
}


@contextmanager
def running(settings: Settings, engine: ValidationEngine, tmp_path: Path) -> Iterator[int]:
    """``gateway serve``'s uvicorn configuration on 127.0.0.1 (ephemeral port) in a thread."""
    url = f"sqlite:///{tmp_path / 'serve.db'}"
    upgrade_database(url)
    services = Services(settings=settings, validation=engine, store=SQLDocumentStore.from_url(url))
    app = create_app(settings, services=services, warm=False)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = server_config(app, settings.server, host="127.0.0.1", port=port, log_level="info")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        for _ in range(500):
            if server.started:
                break
            time.sleep(0.01)
        assert server.started, "uvicorn did not start"
        yield port
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
        services.close()


@pytest.fixture
def settings(api_settings: Settings) -> Settings:
    server = api_settings.server.model_copy(update=LIMITS)
    return api_settings.model_copy(update={"server": server})


def _partial(port: int, data: bytes) -> socket.socket:
    client = socket.create_connection(("127.0.0.1", port), timeout=5)
    client.sendall(data)
    return client


def _closed_by_server(client: socket.socket, within: float) -> bool:
    client.settimeout(within)
    try:
        while chunk := client.recv(4096):
            if b"HTTP/1.1" in chunk and b" 408 " not in chunk:
                return False
        return True
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def _healthz_seconds(port: int) -> float:
    started = time.perf_counter()
    response = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
    assert response.status_code == 200
    return time.perf_counter() - started


def test_half_open_clients_are_cut_off_and_healthz_keeps_answering(
    settings: Settings, validation_engine: ValidationEngine, tmp_path: Path
) -> None:
    with running(settings, validation_engine, tmp_path) as port:
        # Three times the connection cap of half-sent request heads.
        clients = [_partial(port, b"POST /v1/validate HTTP/1.1\r\nHost: x\r\n") for _ in range(60)]
        try:
            assert _healthz_seconds(port) < 1.0  # evicts the oldest half-open connection
            assert all(_closed_by_server(c, within=3.0) for c in clients)
            assert _healthz_seconds(port) < 1.0
        finally:
            for client in clients:
                client.close()


def test_a_body_sent_too_slowly_gets_408(
    settings: Settings, validation_engine: ValidationEngine, tmp_path: Path
) -> None:
    with running(settings, validation_engine, tmp_path) as port:
        head = (
            "POST /v1/validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/xml\r\n"
            f"Authorization: Bearer {SENDER_KEY}\r\nContent-Length: 1000\r\n\r\n<Invoice"
        )
        client = _partial(port, head.encode())
        try:
            client.settimeout(5)
            answer = client.recv(4096)
        finally:
            client.close()
    assert answer.startswith(b"HTTP/1.1 408 ")


def test_aborted_uploads_are_one_info_line_not_error_tracebacks(
    settings: Settings, validation_engine: ValidationEngine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    # The client-failure limiter is per logger, process-wide: start from a fresh one so an earlier test's
    # line within the interval does not swallow this test's.
    clients = logging.getLogger("gateway.api.clients")
    for stale in [f for f in clients.filters if isinstance(f, RateLimitFilter)]:
        clients.removeFilter(stale)
    with running(settings, validation_engine, tmp_path) as port:
        head = (
            "POST /v1/validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/xml\r\n"
            f"Authorization: Bearer {SENDER_KEY}\r\nContent-Length: 100000\r\n\r\n<Invoice"
        )
        for _ in range(5):
            _partial(port, head.encode()).close()
        time.sleep(0.5)
        assert _healthz_seconds(port) < 1.0
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", headers={"X-API-Key": SENDER_KEY}).text
    assert 'route="/v1/validate",status="499"} 5.0' in metrics  # not counted as server errors
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == []
    noted = [r for r in caplog.records if r.name == "gateway.api.clients"]
    assert len(noted) == 1
    assert noted[0].levelno == logging.INFO
    assert noted[0].exc_info is None

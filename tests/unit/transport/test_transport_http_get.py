"""The bounded GET behind the artefact and CRL downloads, against a loopback server."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from gateway.errors import TransportError
from gateway.transport.artefacts_http import HTTPArtefactFetcher
from gateway.transport.crl_http import HTTPCRLFetcher
from gateway.transport.http_get import get_bounded

ROUTES = {"/ok": (200, b"x" * 100), "/big": (200, b"y" * 5000), "/missing": (404, b""), "/down": (503, b"")}


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status, body = ROUTES[self.path]
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_returns_the_body(base: str) -> None:
    assert get_bounded(f"{base}/ok", timeout=5, max_bytes=1000, follow_redirects=False) == b"x" * 100


def test_refuses_a_body_over_the_cap(base: str) -> None:
    with pytest.raises(TransportError, match="more than 1000 bytes") as info:
        get_bounded(f"{base}/big", timeout=5, max_bytes=1000, follow_redirects=False)
    assert info.value.retryable is False


@pytest.mark.parametrize(("path", "retryable"), [("/missing", False), ("/down", True)])
def test_maps_http_errors_with_a_retry_hint(base: str, path: str, retryable: bool) -> None:
    with pytest.raises(TransportError, match="answered HTTP") as info:
        get_bounded(f"{base}{path}", timeout=5, max_bytes=1000, follow_redirects=False)
    assert info.value.retryable is retryable


def test_maps_a_refused_connection() -> None:
    with pytest.raises(TransportError, match="failed"):
        get_bounded("http://127.0.0.1:9/x", timeout=2, max_bytes=10, follow_redirects=False)


def test_fetchers_keep_their_scheme_rules(base: str) -> None:
    assert HTTPCRLFetcher(max_bytes=1000)(f"{base}/ok") == b"x" * 100
    with pytest.raises(TransportError, match="only https"):
        HTTPArtefactFetcher()(f"{base}/ok")
    with pytest.raises(TransportError, match="not http"):
        HTTPCRLFetcher()("ftp://example/crl")

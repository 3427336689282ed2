"""One HTTP server serving in a daemon thread on loopback: the transport of the dev SMP and OCSP responder."""

from __future__ import annotations

import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class BackgroundHTTPServer:
    """A ``ThreadingHTTPServer`` bound at construction and served in a daemon thread by ``start()``.

    Args:
        address: (host, port); port 0 picks a free one.
        handler: the request handler class.
        name: the serving thread's name.
        tls: serve HTTPS with this server context; None serves plain HTTP.
    """

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        *,
        name: str,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self._server = ThreadingHTTPServer(address, handler)
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name=name, daemon=True
        )

    @property
    def port(self) -> int:
        """The bound port."""
        return int(self._server.server_address[1])

    def start(self) -> BackgroundHTTPServer:
        """Serve in the daemon thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket (idempotent)."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()

"""The development SMP: Peppol SMP 1.x REST over HTTP on loopback, metadata signed by the dev SMP certificate.

``GET /{participant}`` answers the ServiceGroup, ``GET /{participant}/services/{document type}`` the
SignedServiceMetadata (or a signed Redirect). Test switches reproduce what real SMPs get wrong: a
tampered signature, an HTTP redirect, a server error.
"""

from __future__ import annotations

import logging
import ssl
import threading
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler
from urllib.parse import unquote

from cryptography import x509

from gateway.crypto import DevIdentity
from gateway.devnet.documents import (
    DevService,
    service_group_xml,
    service_metadata_element,
    sign_metadata,
    tamper,
)
from gateway.devnet.serving import BackgroundHTTPServer
from gateway.errors import InvalidIdentifier
from gateway.model.identifiers import DocumentTypeID, ParticipantID

log = logging.getLogger(__name__)


class DevSMPServer:
    """An SMP serving registered participants; every answer is built and signed per request.

    Args:
        signer: the SMP signing identity (``DevPKI.smp``).
        chain: certificates to add to ``X509Data`` after the signer (normally none).
        host: the address to bind (loopback).
        port: the TCP port; 0 = any free port (see :attr:`url` after :meth:`start`).
        tls: a server SSL context (``gateway.devnet.tls``) to serve HTTPS; None = plain HTTP.
    """

    def __init__(
        self,
        signer: DevIdentity,
        *,
        chain: Iterable[x509.Certificate] = (),
        host: str = "127.0.0.1",
        port: int = 0,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self._tls = tls
        self.signer = signer
        self.chain = tuple(chain)
        self.host = host
        self._requested_port = port
        self._services: dict[ParticipantID, dict[tuple[str, str], DevService]] = {}
        self._lock = threading.Lock()
        self._server: BackgroundHTTPServer | None = None
        #: Participants whose metadata is altered after signing.
        self.tampered: set[ParticipantID] = set()
        #: When set, every request is answered with this HTTP status (e.g. 500, or 302 to :attr:`location`).
        self.fail_status: int | None = None
        self.location = "https://elsewhere.example/"
        #: When set, the ParticipantIdentifier in metadata is written with this text (case tests).
        self.participant_text: str | None = None
        #: Number of requests served (tests check caching with it).
        self.requests = 0

    @property
    def url(self) -> str:
        """The base URL, ``http://127.0.0.1:<port>``."""
        if self._server is None:
            raise RuntimeError("the SMP server is not started")
        scheme = "https" if self._tls is not None else "http"
        return f"{scheme}://{self.host}:{self._server.port}"

    def register(self, participant: ParticipantID, services: Iterable[DevService]) -> None:
        """Publish (or replace) the services of ``participant``."""
        with self._lock:
            self._services[participant] = {
                (s.document_type.scheme.lower(), s.document_type.value): s for s in services
            }

    def unregister(self, participant: ParticipantID) -> None:
        """Remove a participant (its service group becomes 404)."""
        with self._lock:
            self._services.pop(participant, None)

    def start(self) -> DevSMPServer:
        """Bind and serve in a daemon thread."""
        self._server = BackgroundHTTPServer(
            (self.host, self._requested_port), _handler(self), name="devnet-smp", tls=self._tls
        ).start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        if self._server is not None:
            self._server.stop()

    def __enter__(self) -> DevSMPServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def respond(self, path: str) -> tuple[int, bytes, dict[str, str]]:
        """(status, body, headers) for a GET of ``path`` (the request line's path, percent-encoded)."""
        self.requests += 1
        if self.fail_status is not None:
            headers = {"Location": self.location} if 300 <= self.fail_status < 400 else {}
            return self.fail_status, b"", headers
        segments = [unquote(s) for s in path.split("?", 1)[0].strip("/").split("/")]
        try:
            participant = ParticipantID.parse(segments[0])
            document_type = DocumentTypeID.parse(segments[2]) if len(segments) == 3 else None
        except (InvalidIdentifier, IndexError):
            return 400, b"bad identifier", {}
        if len(segments) not in (1, 3) or (len(segments) == 3 and segments[1] != "services"):
            return 404, b"", {}
        with self._lock:
            services = self._services.get(participant)
        if services is None:
            return 404, b"", {}
        if document_type is None:
            body = service_group_xml(self.url, participant, (s.document_type for s in services.values()))
            return 200, body, {}
        service = services.get((document_type.scheme.lower(), document_type.value))
        if service is None:
            return 404, b"", {}
        element = service_metadata_element(participant, service, participant_case=self.participant_text)
        signed = sign_metadata(element, self.signer, chain=self.chain)
        if participant in self.tampered:
            signed = tamper(signed)
        return 200, signed, {}


def _handler(smp: DevSMPServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, body, headers = smp.respond(self.path)
            self.send_response(status)
            self.send_header("Content-Type", "text/xml; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            log.debug("devnet SMP: " + format, *args)

    return Handler

"""The development OCSP responder: RFC 6960 over HTTP POST on loopback, answers signed by the issuing CA.

Each certificate's status is set by serial number (``good`` by default, ``revoked`` or ``unknown``);
``fail_status`` makes it answer an HTTP error (an unreachable responder) and ``unauthorized`` the OCSP
``unauthorized`` status (a wrong chain or stage, oxalis#691).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from gateway.crypto import DevIdentity
from gateway.devnet.serving import BackgroundHTTPServer

log = logging.getLogger(__name__)

Status = Literal["good", "revoked", "unknown"]
_MAX_REQUEST_BYTES = 16 * 1024


class DevOCSPResponder:
    """Answers OCSP requests about certificates issued by ``issuer``.

    Args:
        issuer: the CA identity that signs the answers (and issued the certificates asked about).
        certificates: the certificates it knows (the answer needs the certificate itself), by serial.
        host / port: where to listen (loopback, 0 = a free port; see :attr:`url`).
        validity: nextUpdate - thisUpdate of each answer.
    """

    def __init__(
        self,
        issuer: DevIdentity,
        certificates: list[x509.Certificate] | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        validity: timedelta = timedelta(hours=1),
    ) -> None:
        self.issuer = issuer
        self.host = host
        self._port = port
        self.validity = validity
        self.statuses: dict[int, Status] = {}
        self.certificates = {c.serial_number: c for c in certificates or ()}
        self.fail_status: int | None = None
        self.unauthorized = False
        self.requests = 0
        self.now: datetime | None = None  # the responder's clock; None = the real time
        self._server: BackgroundHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "start() first"
        return f"http://{self.host}:{self._server.port}/ocsp"

    def answer(self, request_der: bytes) -> tuple[int, bytes]:
        """(HTTP status, DER OCSP response) for one request."""
        self.requests += 1
        if self.fail_status is not None:
            return self.fail_status, b""
        try:
            request = ocsp.load_der_ocsp_request(request_der)
        except ValueError:
            return 200, ocsp.OCSPResponseBuilder.build_unsuccessful(
                ocsp.OCSPResponseStatus.MALFORMED_REQUEST
            ).public_bytes(serialization.Encoding.DER)
        certificate = self.certificates.get(request.serial_number)
        if self.unauthorized or certificate is None:
            return 200, ocsp.OCSPResponseBuilder.build_unsuccessful(
                ocsp.OCSPResponseStatus.UNAUTHORIZED
            ).public_bytes(serialization.Encoding.DER)
        now = self.now or datetime.now(UTC)
        status = self.statuses.get(request.serial_number, "good")
        cert_status = {
            "good": ocsp.OCSPCertStatus.GOOD,
            "revoked": ocsp.OCSPCertStatus.REVOKED,
            "unknown": ocsp.OCSPCertStatus.UNKNOWN,
        }[status]
        revoked = status == "revoked"
        builder = ocsp.OCSPResponseBuilder().add_response(
            cert=certificate,
            issuer=self.issuer.certificate,
            algorithm=request.hash_algorithm,
            cert_status=cert_status,
            this_update=now - timedelta(minutes=1),
            next_update=now + self.validity,
            revocation_time=now - timedelta(days=1) if revoked else None,
            revocation_reason=x509.ReasonFlags.key_compromise if revoked else None,
        )
        response = builder.responder_id(ocsp.OCSPResponderEncoding.HASH, self.issuer.certificate).sign(
            self.issuer.key, hashes.SHA256()
        )
        return 200, response.public_bytes(serialization.Encoding.DER)

    def start(self) -> DevOCSPResponder:
        self._server = BackgroundHTTPServer(
            (self.host, self._port), _handler(self), name="devnet-ocsp"
        ).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()

    def __enter__(self) -> DevOCSPResponder:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _handler(responder: DevOCSPResponder) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > _MAX_REQUEST_BYTES:
                self.send_response(413)
                self.end_headers()
                return
            status, body = responder.answer(self.rfile.read(length))
            self.send_response(status)
            self.send_header("Content-Type", "application/ocsp-response")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            log.debug("devnet OCSP: " + format, *args)

    return Handler

"""The SMTP adapter against a real aiosmtpd server on loopback: STARTTLS then AUTH, refused credentials,
a relay without STARTTLS, and the reply classes (4xx retryable, 5xx not; RFC 5321 §4.2.1). Also: the
relay's own log lines stay out of the test run's output."""

from __future__ import annotations

import asyncio
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address
from pathlib import Path

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gateway.bench.loopback import listening_socket
from gateway.errors import MailError
from gateway.transport.smtp import SMTPMailer, SMTPSettings
from tests.mail_support import HeldSocketController, serving

MESSAGE = b"From: a@coop.test\r\nTo: b@buyer.test\r\nSubject: t\r\nMessage-ID: <1@gw.test>\r\n\r\nhello\r\n"


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(IPv4Address("127.0.0.1"))]), critical=False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("smtp-tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_file, key_file


class _Handler:
    def __init__(self) -> None:
        self.received: list[bytes] = []
        self.reply = "250 2.0.0 ok"

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        self.received.append(envelope.content)  # type: ignore[attr-defined]
        return self.reply


def _authenticator(
    server: object, session: object, envelope: object, mechanism: str, data: object
) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"gateway", b"s3cret")
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def tls_relay(tls_files: tuple[Path, Path]) -> Iterator[tuple[_Handler, int]]:
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(*tls_files)
    handler = _Handler()
    with serving(
        handler,
        tls_context=server_context,
        require_starttls=True,
        authenticator=_authenticator,
        auth_required=True,
    ) as port:
        yield handler, port


def _client_context(tls_files: tuple[Path, Path]) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(tls_files[0]))


def _send(settings: SMTPSettings) -> str:
    return asyncio.run(SMTPMailer(settings).send(MESSAGE, sender="a@coop.test", recipients=["b@buyer.test"]))


def test_starttls_then_auth_delivers(tls_relay: tuple[_Handler, int], tls_files: tuple[Path, Path]) -> None:
    handler, port = tls_relay
    settings = SMTPSettings(
        "127.0.0.1", port, username="gateway", password="s3cret", tls_context=_client_context(tls_files)
    )
    assert _send(settings).startswith("250")
    assert handler.received == [MESSAGE]


def test_wrong_credentials_fail_permanently(
    tls_relay: tuple[_Handler, int], tls_files: tuple[Path, Path]
) -> None:
    _, port = tls_relay
    settings = SMTPSettings(
        "127.0.0.1", port, username="gateway", password="wrong", tls_context=_client_context(tls_files)
    )
    with pytest.raises(MailError) as caught:
        _send(settings)
    assert caught.value.reason.startswith("535")
    assert not caught.value.retryable


def test_the_relay_serves_on_the_socket_held_for_it() -> None:
    """The relay's port is taken before aiosmtpd starts, so no other pytest-xdist worker can take it between
    a port found free and aiosmtpd binding it again: aiosmtpd serves on the listening socket itself."""
    handler = _Handler()
    with listening_socket() as sock:
        controller = HeldSocketController(handler, sock)
        controller.start()
        try:
            assert controller.port == sock.getsockname()[1]
            settings = SMTPSettings(*sock.getsockname(), starttls=False)
            assert _send(settings).startswith("250")
        finally:
            controller.stop()
    assert handler.received == [MESSAGE]


def test_a_relay_not_reached_is_a_temporary_failure() -> None:
    # A port bound but not listening, held for the test: connecting is refused, and no other process
    # (another pytest-xdist worker's server) can start listening there meanwhile.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        with pytest.raises(MailError) as caught:
            _send(SMTPSettings("127.0.0.1", sock.getsockname()[1], starttls=False, timeout=2.0))
    assert caught.value.retryable


@pytest.mark.parametrize(("reply", "retryable"), [("452 4.3.1 full", True), ("554 5.6.0 refused", False)])
def test_reply_classes(reply: str, retryable: bool) -> None:
    handler = _Handler()
    handler.reply = reply
    with serving(handler) as port, pytest.raises(MailError) as caught:
        _send(SMTPSettings("127.0.0.1", port, starttls=False))
    assert caught.value.reason == reply
    assert caught.value.retryable is retryable


def test_a_relay_without_starttls_is_refused_when_starttls_is_required() -> None:
    handler = _Handler()
    with serving(handler) as port, pytest.raises(MailError) as caught:
        _send(SMTPSettings("127.0.0.1", port, starttls=True))
    assert not caught.value.retryable
    assert handler.received == []


#: Two tests run by an inner pytest session (with this suite's conftest): the first configures the gateway's
#: logging as the CLI does (a handler on pytest's captured stderr, the root at INFO), the second sends a
#: mail through the relay fixture, whose aiosmtpd thread logs "connection lost" at INFO for every session.
LEAKING_THEN_MAILING = """
import smtplib

from gateway.observability import configure_logging
from tests.mail_support import relay_fixture  # noqa: F401 - the fixture


def test_configures_logging_like_the_cli():
    configure_logging("INFO", json=False)


def test_sends_a_mail(relay):
    with smtplib.SMTP("127.0.0.1", relay[1], timeout=10) as client:
        client.sendmail("a@coop.test", ["b@buyer.test"], b"Subject: t\\r\\n\\r\\nhello\\r\\n")
    assert relay[0].received
"""


def test_the_relays_session_logs_do_not_reach_the_output_after_a_test_that_configured_logging(
    tmp_path: Path,
) -> None:
    # A handler left behind by an earlier test (at INFO, on a stream pytest has closed) printed aiosmtpd's
    # "connection lost" lines, or a "--- Logging error ---" traceback for each, into the run's output.
    module = tmp_path / "test_leak.py"
    module.write_text(LEAKING_THEN_MAILING)
    root = Path(__file__).resolve().parents[2]
    command = [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", "-p", "tests.conftest"]
    run = subprocess.run(
        [*command, "--rootdir", str(tmp_path), str(module)],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert "2 passed" in output
    assert "connection lost" not in output.lower()
    assert "Logging error" not in output


@pytest.mark.parametrize("recipient", ["josé@buyer.test", "b@buyer.test\r\nRCPT TO:<c@evil.test>"])
def test_an_address_smtp_cannot_carry_is_a_permanent_failure(recipient: str) -> None:
    """A non-ASCII local part (no SMTPUTF8 here) raised UnicodeEncodeError out of the adapter, a line break
    ValueError: the delivery crashed instead of failing with a reason."""
    handler = _Handler()
    with serving(handler) as port:
        mailer = SMTPMailer(SMTPSettings("127.0.0.1", port, starttls=False))
        with pytest.raises(MailError) as caught:
            asyncio.run(mailer.send(MESSAGE, sender="a@coop.test", recipients=[recipient]))
    assert not caught.value.retryable
    assert handler.received == []

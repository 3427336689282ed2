"""SMTP adapter of the ``Mailer`` port: smtplib in a worker thread, STARTTLS and AUTH when configured.

Reply classes follow RFC 5321 §4.2.1: 4yz is a transient negative completion (try again later), 5yz a
permanent one. A connection that cannot be made or breaks counts as transient.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass

import anyio.to_thread

from gateway.errors import MailError


@dataclass(frozen=True, slots=True)
class SMTPSettings:
    """Where and how to hand messages over.

    Attributes:
        host / port: the relay (587 submission with STARTTLS by default).
        starttls: upgrade with STARTTLS (RFC 3207) before AUTH and MAIL; a relay that does not offer it fails.
        username / password: AUTH credentials, or None.
        timeout: seconds for the connection and each reply.
        tls_context: the TLS context (system trust by default; tests pass their own CA).
    """

    host: str
    port: int = 587
    starttls: bool = True
    username: str | None = None
    password: str | None = None
    timeout: float = 30.0
    tls_context: ssl.SSLContext | None = None


def _reply(code: int, text: bytes | str) -> str:
    return f"{code} {text.decode('utf-8', 'replace') if isinstance(text, bytes) else text}".strip()


def _checked(reply: tuple[int, bytes], expected: int) -> str:
    code, text = reply
    if code != expected:
        raise MailError(_reply(code, text), retryable=400 <= code < 500 or code < 200)
    return _reply(code, text)


def _transaction(client: smtplib.SMTP, message: bytes, sender: str, recipients: list[str]) -> str:
    """MAIL, RCPT and DATA step by step (RFC 5321 §3.3), so that the reply to DATA is the one kept."""
    _checked(client.mail(sender), 250)
    for recipient in recipients:
        code, text = client.rcpt(recipient)
        if code not in (250, 251):
            client.rset()
            raise MailError(_reply(code, text), retryable=400 <= code < 500)
    return _checked(client.data(message), 250)


class SMTPMailer:
    """Sends one message per connection (the fallback is rare; no pooled connections to go stale)."""

    def __init__(self, settings: SMTPSettings) -> None:
        self._settings = settings

    async def send(self, message: bytes, *, sender: str, recipients: Sequence[str]) -> str:
        """Send ``message``; see ``gateway.services.ports.Mailer.send``."""
        return await anyio.to_thread.run_sync(self._send, message, sender, list(recipients))

    def _send(self, message: bytes, sender: str, recipients: list[str]) -> str:
        s = self._settings
        for address in (sender, *recipients):
            # smtplib writes the address into MAIL/RCPT as given: a line break in it would start another SMTP
            # command, a non-ASCII one raised UnicodeEncodeError (this adapter does not speak SMTPUTF8).
            if not address.isascii() or not address.isprintable() or any(c in address for c in "<> "):
                raise MailError(
                    f"{address!r} cannot be given to the relay (ASCII addr-spec only)", retryable=False
                )
        try:
            with smtplib.SMTP(s.host, s.port, timeout=s.timeout) as client:
                client.ehlo()
                if s.starttls:
                    client.starttls(context=s.tls_context or ssl.create_default_context())
                    client.ehlo()
                if s.username is not None:
                    client.login(s.username, s.password or "")
                return _transaction(client, message, sender, recipients)
        except smtplib.SMTPResponseException as exc:
            raise MailError(
                _reply(exc.smtp_code, exc.smtp_error), retryable=400 <= exc.smtp_code < 500
            ) from exc
        except smtplib.SMTPNotSupportedError as exc:
            raise MailError(f"the relay does not support it: {exc}", retryable=False) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise MailError(f"smtp connection failed: {exc}", retryable=True) from exc

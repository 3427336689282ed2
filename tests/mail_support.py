"""A real SMTP relay on loopback for the e-mail tests (aiosmtpd): it keeps what it accepted and can answer
DATA from a script first (a 451, a 550), and a helper that reads a received message back."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default

import pytest
from aiosmtpd.controller import Controller


@dataclass
class MailRelay:
    """An aiosmtpd handler that keeps what it accepted and answers DATA from a script (then 250)."""

    script: list[str] = field(default_factory=list)
    received: list[tuple[str, list[str], bytes]] = field(default_factory=list)

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        if self.script:
            return self.script.pop(0)
        content = envelope.content  # type: ignore[attr-defined]
        assert isinstance(content, bytes)
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), content))  # type: ignore[attr-defined]
        return "250 2.0.0 queued as T1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(name="relay")
def relay_fixture() -> Iterator[tuple[MailRelay, int]]:
    """A relay on 127.0.0.1 and its port, for one test."""
    handler = MailRelay()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def parse_mail(mime: bytes) -> EmailMessage:
    """A received or stored message, parsed (modern policy: ``get_body``, ``iter_attachments``)."""
    parsed = message_from_bytes(mime, policy=default)
    assert isinstance(parsed, EmailMessage)
    return parsed

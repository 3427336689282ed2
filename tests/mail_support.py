"""A real SMTP relay on loopback for the e-mail tests (aiosmtpd): it keeps what it accepted and can answer
DATA from a script first (a 451, a 550), and a helper that reads a received message back. The relay serves on
a socket bound and listening before aiosmtpd starts (``serving``), as the HTTP servers of the tests do."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default

import pytest
from aiosmtpd.controller import Controller

from gateway.bench.loopback import listening_socket


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


class HeldSocketController(Controller):
    """aiosmtpd's threaded controller serving on a socket already listening, not on a port it binds itself:
    a port found free, released and bound again by aiosmtpd could meanwhile go to another pytest-xdist
    worker's server."""

    def __init__(self, handler: object, sock: socket.socket, **kwargs: object) -> None:
        self._sock = sock
        super().__init__(handler, hostname="127.0.0.1", port=int(sock.getsockname()[1]), **kwargs)

    def _create_server(self) -> Awaitable[asyncio.AbstractServer]:
        return self.loop.create_server(self._factory_invoker, sock=self._sock, ssl=self.ssl_context)


@contextmanager
def serving(handler: object, **kwargs: object) -> Iterator[int]:
    """aiosmtpd serving ``handler`` on 127.0.0.1 (``kwargs`` for its ``Controller``); yields the port."""
    with listening_socket() as sock:
        controller = HeldSocketController(handler, sock, **kwargs)
        controller.start()
        try:
            yield controller.port
        finally:
            controller.stop()


@pytest.fixture(name="relay")
def relay_fixture() -> Iterator[tuple[MailRelay, int]]:
    """A relay on 127.0.0.1 and its port, for one test."""
    handler = MailRelay()
    with serving(handler) as port:
        yield handler, port


def parse_mail(mime: bytes) -> EmailMessage:
    """A received or stored message, parsed (modern policy: ``get_body``, ``iter_attachments``)."""
    parsed = message_from_bytes(mime, policy=default)
    assert isinstance(parsed, EmailMessage)
    return parsed

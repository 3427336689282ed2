"""The mail port: hand one ready MIME message to an SMTP relay (adapter: ``transport.smtp``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol


class Mailer(Protocol):
    """Sends one e-mail exactly as given (the e-mail fallback stores these bytes as evidence first)."""

    async def send(self, message: bytes, *, sender: str, recipients: Sequence[str]) -> str:
        """Send ``message`` (RFC 5322 bytes, CRLF line ends) from ``sender`` to ``recipients``.

        Returns:
            The relay's final reply to DATA (e.g. ``250 2.0.0 queued as 4F3A``), kept in the timeline.

        Raises:
            MailError: the relay refused it (``retryable`` for 4xx replies and network failures).
        """
        ...


PDFRenderer = Callable[[bytes, str], bytes]
"""Renders UBL bytes as a PDF in a language (``fr``, ``nl``, ``en``); the adapter is ``gateway.render``'s
``render_document``, injected by the composition root so that the core imports neither Jinja2 nor WeasyPrint.
Raises any ``GatewayError`` when the document cannot be rendered (the e-mail then carries the UBL alone)."""

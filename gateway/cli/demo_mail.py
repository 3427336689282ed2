"""The buyers of ``gateway demo`` reached by e-mail: an SMTP relay on loopback (aiosmtpd) that the
cooperative's worker delivers to (``GATEWAY_MAIL__HOST``), and the check of what it received for a private
person (a buyer without any Peppol id, e-mailed without an SML/SMP lookup).

aiosmtpd is a development dependency (``pip install -e '.[dev]'``, which ``make demo`` runs): it is imported
only when the demo starts the relay.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from typing import Any

MAIL_FROM = "invoices@coop.example"


@dataclass
class MailBox:
    """What the demo's relay accepted: (envelope sender, recipients, the message as received)."""

    port: int = 0
    received: list[tuple[str, list[str], bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
        """aiosmtpd's DATA hook: keep the message, answer 250."""
        with self.lock:
            self.received.append((envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content)))
        return "250 2.0.0 kept by the demo relay"

    def env(self) -> dict[str, str]:
        """The cooperative's settings for this relay (plain SMTP on loopback, no login)."""
        return {
            "GATEWAY_MAIL__HOST": "127.0.0.1",
            "GATEWAY_MAIL__PORT": str(self.port),
            "GATEWAY_MAIL__STARTTLS": "false",
            "GATEWAY_MAIL__FROM": MAIL_FROM,
        }

    def messages_to(self, address: str) -> list[EmailMessage]:
        """The messages received for ``address``, parsed."""
        with self.lock:
            raw = [content for _, rcpt, content in self.received if address in rcpt]
        parsed = [message_from_bytes(content, policy=default) for content in raw]
        return [m for m in parsed if isinstance(m, EmailMessage)]


@contextmanager
def mail_relay() -> Iterator[MailBox]:
    """An SMTP relay on 127.0.0.1 (a free port) for the duration of the demo."""
    try:
        from aiosmtpd.controller import Controller
    except ImportError as exc:  # a production install without the dev extras
        raise SystemExit("gateway demo needs aiosmtpd for its e-mail relay: pip install -e '.[dev]'") from exc
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every SMTP command at INFO
    box = MailBox()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        box.port = int(sock.getsockname()[1])
    controller = Controller(box, hostname="127.0.0.1", port=box.port)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


def show_emailed(name: str, state: dict[str, Any], box: MailBox) -> bool:
    """Print how a private person's document went and the e-mail the relay received; True when it was
    e-mailed once without any SML/SMP lookup, to the address of its BT-49 (``EM:…``), with the PDF and the
    UBL attached."""
    receiver = str(state.get("receiver", ""))
    address = receiver.removeprefix("EM:")
    mails = box.messages_to(address)
    started = [e.get("detail") or {} for e in state.get("timeline", []) if e.get("event") == "send-started"]
    # The worker says why Peppol was not used: never looked up (a lookup would say its outcome instead).
    unlooked = bool(started) and all(str(d.get("discovery", "")).startswith("not looked up") for d in started)
    lookup = "no SML/SMP lookup" if unlooked else "LOOKED UP in the SML/SMP"
    status = state.get("status")
    print(f"demo: private person ({name}, receiver {receiver}, no Peppol id): {status}, {lookup}")
    for mail in mails:
        text = mail.get_body(("plain",))
        files = ", ".join(
            f"{part.get_filename()} ({part.get_content_type()})" for part in mail.iter_attachments()
        )
        language = text["Content-Language"] if text is not None else "?"
        print(f"      e-mail to {mail['To']}: {mail['Subject']!r} in {language}, attached {files}")
    if len(mails) != 1:
        return False
    attached = {part.get_content_type() for part in mails[0].iter_attachments()}
    return (
        status == "delivered_by_email"
        and unlooked
        and receiver.startswith("EM:")
        and attached == {"application/pdf", "application/xml"}
        and mails[0]["Message-ID"] == f"<{state.get('as4_message_id')}>"
    )

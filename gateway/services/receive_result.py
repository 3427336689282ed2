"""What one POST /as4 ended with (``ReceiveOutcome``, ``ReceiveResult``) and the identifier widths the
receive path enforces before anything reaches the store."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from gateway.as4 import SIGNAL_CONTENT_TYPE, EbmsError
from gateway.model.message import HTTPHeaders, InboundStatus

#: Longest eb:MessageId / SBDH InstanceIdentifier we store (the store's key width); longer ids are refused
#: with an ebMS error rather than failing the insert (which would be a 5xx and an endless resend).
MAX_ID_LENGTH: Final = 255
#: Longest document type / process identifier we store, with its scheme (the store's column width); a
#: longer one is refused with EBMS:0004 for the same reason (PostgreSQL refuses the insert, SQLite would not).
MAX_IDENTIFIER_LENGTH: Final = 500
#: The HTTP header fields of every signal we answer with.
SIGNAL_HEADERS: Final[HTTPHeaders] = (("Content-Type", SIGNAL_CONTENT_TYPE),)


class ReceiveOutcome(StrEnum):
    """How one POST /as4 ended (all answered HTTP 200 with ``ReceiveResult.signal``)."""

    ACCEPTED = "accepted"
    """New message: Receipt sent, inbound document stored and validated."""
    DUPLICATE_MESSAGE = "duplicate-message"
    """eb:MessageId seen and accepted before: the original Receipt is returned again, nothing re-processed."""
    DUPLICATE_DOCUMENT = "duplicate-document"
    """New MessageId, but the same SBDH InstanceIdentifier and business document as an accepted message
    (application-level resend): Receipt sent, evidence stored and linked to the original document; no
    second inbound document."""
    REJECTED = "rejected"
    """Protocol failure: a signed ebMS Error was sent; the raw request is stored as evidence."""


@dataclass(frozen=True, slots=True)
class ReceiveResult:
    """The answer to one request and what was stored.

    Attributes:
        outcome: what happened.
        signal: the signed signal to send back (Receipt or Error), byte-exact as stored.
        record_key: the key of the evidence record (AS4 message id, or ``rejected-<uuid>``).
        message_id: the eb:MessageId (None when it could not be read).
        document_id: the inbound document (for duplicates: the original one).
        status: the inbound document's status, when known.
        ebms: the ebMS error sent (REJECTED only).
        content_type: the HTTP Content-Type of ``signal``.
    """

    outcome: ReceiveOutcome
    signal: bytes
    record_key: str
    message_id: str | None = None
    document_id: str | None = None
    status: InboundStatus | None = None
    ebms: EbmsError | None = None
    content_type: str = SIGNAL_CONTENT_TYPE

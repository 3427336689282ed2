"""Listing queries and keyset pages of the document store."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from gateway.model.document_number import NumberSearch
from gateway.model.identifiers import ParticipantID, Receiver
from gateway.model.message import DeliveryStatus, InboundStatus

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500


@dataclass(frozen=True, slots=True)
class PageCursor:
    """Keyset position for newest-first listings: the (timestamp, id) of the last item shown.

    The next page holds items strictly older than the cursor, with the id breaking ties; a page therefore
    never repeats or skips an item when rows are added meanwhile. Its text form for the API is
    ``gateway.api.cursor``'s business, not the store's.
    """

    at: datetime
    id: str


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a newest-first listing.

    Attributes:
        items: the items, newest first.
        next_cursor: where the next page starts; None on the last page.
    """

    items: tuple[T, ...]
    next_cursor: PageCursor | None


@dataclass(frozen=True, slots=True)
class OutboundQuery:
    """Filters for support staff; every filter given must match (AND). Newest first.

    Attributes:
        status: only this status.
        receiver: only this receiver (case-insensitive, per Peppol identifier policy; ``EM:<address>`` too).
        number: only this document number (exact).
        seller_id: only this seller reference.
        since: only documents created at or after this time.
        limit: page size, 1..MAX_PAGE_SIZE.
        after: continue after this cursor.
    """

    status: DeliveryStatus | None = None
    receiver: Receiver | None = None
    number: str | None = None
    seller_id: str | None = None
    since: datetime | None = None
    limit: int = DEFAULT_PAGE_SIZE
    after: PageCursor | None = None


@dataclass(frozen=True, slots=True)
class InboundQuery:
    """Filters for received documents (AND), newest ``received_at`` first.

    Attributes:
        status: only this status.
        sender: only this sender (case-insensitive).
        receiver: only this receiver (case-insensitive).
        number: only documents with this number (BT-1, an ApplicationResponse's cbc:ID), ignoring case, or
            whose number starts with it.
        since: only documents received at or after this time.
        limit: page size, 1..MAX_PAGE_SIZE.
        after: continue after this cursor.
    """

    status: InboundStatus | None = None
    sender: ParticipantID | None = None
    receiver: ParticipantID | None = None
    number: NumberSearch | None = None
    since: datetime | None = None
    limit: int = DEFAULT_PAGE_SIZE
    after: PageCursor | None = None

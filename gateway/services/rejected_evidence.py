"""Evidence of rejected AS4 requests (issue 13): what a request refused at ``/as4`` may cost in storage, and
its own retention.

A request rejected before its signer is authenticated is anonymous traffic: it keeps a short prefix of its
body, its SHA-256 and length, its header fields up to a budget and the error code and reason; the signed
ebMS Error sent back is not kept (it proves nothing about an unknown sender). Credential headers (meant
for someone else: an API key, a proxy's) are never stored. Rejected-request records live under keys
``rejected-<uuid>`` and are purged after their retention period in small batches, so a purge never holds
a long write transaction.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Protocol, runtime_checkable

from gateway.model.message import HTTPHeaders, JSONObject, RawHTTPMessage
from gateway.services.ports import DocumentStore

#: Key prefix of evidence records for rejected requests.
REJECTED_KEY_PREFIX: Final = "rejected-"
#: Bytes of a request rejected after its signer was authenticated kept as evidence; the rest is summarised
#: by length + SHA-256.
DEFAULT_MAX_REJECTED_EVIDENCE_BYTES: Final = 256 * 1024
#: Bytes of the body and of the header fields of a request rejected before its signer was authenticated.
#: Small on purpose: anonymous traffic must not fill the disk with "evidence" (under 2 KB per request).
DEFAULT_UNAUTHENTICATED_EVIDENCE_BYTES: Final = 256
DEFAULT_UNAUTHENTICATED_HEADER_BYTES: Final = 384
#: Characters of the internal rejection reason kept for such a request (the log line has all of it).
ANONYMOUS_REASON_CHARS: Final = 120
_SIGNAL_FACTS: Final = frozenset({"signalMessageId"})
#: Request header fields never stored (lower case).
CREDENTIAL_HEADERS: Final = frozenset({"authorization", "x-api-key", "cookie", "proxy-authorization"})


def without_credentials(headers: HTTPHeaders) -> HTTPHeaders:
    """The header fields minus the credential headers (``CREDENTIAL_HEADERS``), in wire order."""
    return tuple((name, value) for name, value in headers if name.lower() not in CREDENTIAL_HEADERS)


def bounded_headers(headers: HTTPHeaders, budget: int) -> tuple[HTTPHeaders, bool]:
    """(fields, truncated): the header fields in wire order until ``budget`` bytes of names and values."""
    kept: list[tuple[str, str]] = []
    for name, value in headers:
        room = budget - len(name)
        if room <= 0:
            return tuple(kept), True
        kept.append((name, value[:room]))
        budget = room - len(value)
        if budget < 0:
            return tuple(kept), True
    return tuple(kept), False


@dataclass(frozen=True, slots=True)
class EvidenceLimits:
    """What a rejected request keeps.

    Attributes:
        authenticated_body: body bytes kept when the signer was authenticated.
        anonymous_body: body bytes kept when it was not.
        anonymous_headers: header bytes kept when it was not.
    """

    authenticated_body: int = DEFAULT_MAX_REJECTED_EVIDENCE_BYTES
    anonymous_body: int = DEFAULT_UNAUTHENTICATED_EVIDENCE_BYTES
    anonymous_headers: int = DEFAULT_UNAUTHENTICATED_HEADER_BYTES


@dataclass(frozen=True, slots=True)
class RejectedEvidence:
    """The parts of one rejected request and of its answer that are stored.

    Attributes:
        headers: the request header fields kept.
        body: the request body prefix kept.
        signal: the signed Error kept (without header fields and bytes when only its hash is).
        summary: the error facts, length and SHA-256 of the whole body (and signal), what was truncated.
    """

    headers: HTTPHeaders
    body: bytes
    signal: RawHTTPMessage
    summary: JSONObject


def rejected_evidence(
    headers: HTTPHeaders,
    body: bytes,
    signal: RawHTTPMessage,
    limits: EvidenceLimits,
    *,
    facts: JSONObject,
    authenticated: bool,
    truncated: bool = False,
    received_bytes: int | None = None,
) -> RejectedEvidence:
    """What to store of a rejected request ``headers``/``body`` answered with ``signal``.

    Args:
        headers: the request header fields (credentials are dropped here as well).
        body: the request body as read (possibly only its start, see ``truncated``).
        signal: the signed ebMS Error answered.
        limits: the evidence limits.
        facts: what the error was (error code, reason, message ids), the start of the summary.
        authenticated: whether the signer was authenticated before the rejection.
        truncated: the body was not read completely.
        received_bytes: the body bytes received in all (default ``len(body)``).
    """
    keep = limits.authenticated_body if authenticated else limits.anonymous_body
    kept_headers, headers_truncated = without_credentials(headers), False
    if not authenticated:
        kept_headers, headers_truncated = bounded_headers(kept_headers, limits.anonymous_headers)
    summary: JSONObject = {
        **facts,
        "bodyBytes": len(body) if received_bytes is None else received_bytes,
        "bodySha256": hashlib.sha256(body).hexdigest(),
        "truncated": truncated or len(body) > keep,
        "authenticated": authenticated,
    }
    if headers_truncated:
        summary["headersTruncated"] = True
    if authenticated:
        return RejectedEvidence(kept_headers, body[:keep], signal, summary)
    # The signed Error to an anonymous request proves nothing worth its bytes: not kept (so no signal
    # history row either), and a compact summary (no signal id, no empty facts, a short reason).
    compact = {
        name: value for name, value in summary.items() if value is not None and name not in _SIGNAL_FACTS
    }
    reason = compact.get("reason")
    if isinstance(reason, str):
        compact["reason"] = reason[:ANONYMOUS_REASON_CHARS]
    return RejectedEvidence(kept_headers, body[:keep], RawHTTPMessage((), b""), compact)


@runtime_checkable
class RejectedEvidencePurge(Protocol):
    """A message repository that can delete rejected-request evidence (the SQL store's can)."""

    def purge_rejected(self, key_prefix: str, before: datetime, limit: int) -> int:
        """Delete at most ``limit`` records keyed ``key_prefix…`` created before ``before``; their count."""
        ...


def purge_rejected_evidence(
    store: DocumentStore, *, before: datetime, batch_size: int = 200, max_batches: int = 50
) -> int:
    """Delete rejected-request evidence created before ``before``, ``batch_size`` records per transaction.

    Returns:
        The number of records deleted (0 when the store cannot purge).

    Raises:
        StoreError: the store failed (what was committed stays deleted).
    """
    total = 0
    for _ in range(max_batches):
        with store.unit_of_work() as uow:
            repository = uow.messages
            if not isinstance(repository, RejectedEvidencePurge):
                return total
            deleted = repository.purge_rejected(REJECTED_KEY_PREFIX, before, batch_size)
            uow.commit()
        total += deleted
        if deleted < batch_size:
            break
    return total

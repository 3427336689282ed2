"""The webhook signature: HMAC-SHA256 over a timestamp and the exact body, sent in one header.

Scheme (what receivers implement; README documents it for the invoicing system)::

    X-Gateway-Signature: t=1772443800,v1=5f0c...e9

* ``t`` is the Unix time (seconds, UTC) at which this attempt was signed; every retry is signed anew.
* ``v1`` is ``hex(HMAC-SHA256(secret, "<t>." + body))``: the decimal timestamp, one ASCII full stop, then
  the raw request body bytes exactly as received (verify before parsing or re-serialising the JSON).
* During a secret rotation the sender may put several ``v1=`` entries in one header; a receiver accepts
  the request when any of them matches its secret. Unknown ``<scheme>=`` entries are ignored, so a later
  ``v2`` can be added without breaking receivers.

Receiver checklist (replay protection):

1. Recompute the HMAC with the shared secret and compare in constant time (``hmac.compare_digest``).
2. Refuse a timestamp further than a tolerance from your clock, in either direction (default five
   minutes): a captured request cannot be replayed later, because ``t`` is covered by the MAC.
3. Within the tolerance a replay is still possible; drop duplicates by the ``X-Gateway-Event-Id``
   header (the outbox event id, stable across retries), which also absorbs our own at-least-once retries.

Pure functions: the time is a parameter.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

from gateway.errors import SignatureInvalid

SIGNATURE_HEADER: Final = "X-Gateway-Signature"
EVENT_ID_HEADER: Final = "X-Gateway-Event-Id"
ATTEMPT_HEADER: Final = "X-Gateway-Delivery-Attempt"
SIGNATURE_SCHEME: Final = "v1"
DEFAULT_TOLERANCE: Final = timedelta(minutes=5)
_MAX_HEADER = 4096  # a header this long is not ours; don't spend effort on it


class SignatureCheck(StrEnum):
    """The verdict on a signature header (data, so callers and tests can tell the cases apart)."""

    VALID = "valid"
    MALFORMED = "malformed"
    """No ``t=`` or no ``v1=`` entry, a non-numeric timestamp or a non-hex signature."""
    MISMATCH = "mismatch"
    """Well-formed, but no ``v1`` matches: wrong secret, or body or timestamp altered."""
    STALE = "stale"
    """The MAC matches but ``t`` is outside the tolerance: possibly a replay."""


def _mac(secret: bytes, timestamp: int, body: bytes) -> str:
    return hmac.new(secret, f"{timestamp}.".encode("ascii") + body, hashlib.sha256).hexdigest()


def sign_webhook(body: bytes, *, secrets: bytes | tuple[bytes, ...], timestamp: int) -> str:
    """The ``X-Gateway-Signature`` header value for ``body`` signed at ``timestamp``.

    Args:
        body: the exact request body.
        secrets: the shared secret, or several (current first) while a rotation is under way.
        timestamp: Unix seconds of the attempt.

    Raises:
        ValueError: no secret, an empty secret or a negative timestamp.
    """
    keys = (secrets,) if isinstance(secrets, bytes) else secrets
    if not keys or any(not key for key in keys):
        raise ValueError("a webhook secret must not be empty")
    if timestamp < 0:
        raise ValueError("the timestamp must not be negative")
    return ",".join([f"t={timestamp}", *(f"{SIGNATURE_SCHEME}={_mac(key, timestamp, body)}" for key in keys)])


def _parse(header: str) -> tuple[int, list[str]] | None:
    if len(header) > _MAX_HEADER:
        return None
    timestamp: int | None = None
    signatures: list[str] = []
    for item in header.split(","):
        name, sep, value = item.strip().partition("=")
        if not sep:
            return None
        if name == "t":
            if timestamp is not None or not value.isascii() or not value.isdigit():
                return None
            timestamp = int(value)
        elif name == SIGNATURE_SCHEME:
            if len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
                return None
            signatures.append(value)
    if timestamp is None or not signatures:
        return None
    return timestamp, signatures


def check_webhook_signature(
    body: bytes,
    header: str | None,
    *,
    secret: bytes,
    now: datetime,
    tolerance: timedelta = DEFAULT_TOLERANCE,
) -> SignatureCheck:
    """Check a received ``X-Gateway-Signature`` header.

    Args:
        body: the raw request body as received.
        header: the header value (None when absent: MALFORMED).
        secret: the shared secret.
        now: the receiver's current time, timezone-aware.
        tolerance: the largest accepted distance between ``t`` and ``now``, either way.

    Returns:
        VALID only when a ``v1`` matches and ``t`` is within the tolerance.
    """
    parsed = _parse(header) if header else None
    if parsed is None:
        return SignatureCheck.MALFORMED
    timestamp, signatures = parsed
    expected = _mac(secret, timestamp, body)
    matched = False
    for candidate in signatures:  # no early exit: the time taken does not depend on which one matched
        matched |= hmac.compare_digest(candidate, expected)
    if not matched:
        return SignatureCheck.MISMATCH
    # Checked after the MAC: an unauthenticated timestamp tells nothing, a stale authentic one is a replay.
    if abs(now.timestamp() - timestamp) > tolerance.total_seconds():
        return SignatureCheck.STALE
    return SignatureCheck.VALID


def verify_webhook_signature(
    body: bytes,
    header: str | None,
    *,
    secret: bytes,
    now: datetime,
    tolerance: timedelta = DEFAULT_TOLERANCE,
) -> None:
    """``check_webhook_signature()`` that raises unless the verdict is VALID.

    Raises:
        SignatureInvalid: the header is missing, malformed, does not match, or is stale; the message
            names the SignatureCheck verdict.
    """
    verdict = check_webhook_signature(body, header, secret=secret, now=now, tolerance=tolerance)
    if verdict is not SignatureCheck.VALID:
        raise SignatureInvalid(f"webhook signature {verdict.value}")

"""A bounded, time-limited memory of AP certificate paths that validated, so that a sender's certificate
chain is not verified again (its signatures, names and constraints) for every message it sends.

What is kept: for (the certificate's SHA-256 fingerprint, the trust store), the path that validated and
the window in which the verdict holds: from the latest notBefore of the path to the earliest notAfter,
and never longer than ``max_age`` after it was reached. A rejection is not kept (judged again each time).
Revocation is never kept here: on every use the path's certificates are put to the revocation checker
again, whose own cache (CRL until nextUpdate / its ``max_age``, OCSP until nextUpdate) decides how long
an answer holds; so a revocation bites as soon as the checker sees it, expiry as soon as it is reached.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from gateway.crypto.certs import RevocationChecker, TrustStore, check_revocation, validate_ap_certificate

#: Distinct (certificate, trust store) verdicts kept (the Peppol network has a few hundred APs).
DEFAULT_MAX_ENTRIES: Final = 1024
#: Longest time a verdict is used before the path is verified again.
DEFAULT_MAX_AGE: Final = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class _Verdict:
    path: tuple[x509.Certificate, ...]
    reached_at: datetime
    valid_from: datetime
    valid_until: datetime


class CertificateVerdicts:
    """:func:`~gateway.crypto.validate_ap_certificate` with a memory of the paths that validated.

    Thread-safe (a lock guards the entries; a path is verified outside it). Least recently used entries
    go first when ``max_entries`` is reached.
    """

    def __init__(
        self, *, max_entries: int = DEFAULT_MAX_ENTRIES, max_age: timedelta = DEFAULT_MAX_AGE
    ) -> None:
        if max_entries < 1 or max_age <= timedelta(0):
            raise ValueError("max_entries and max_age must be positive")
        self._max_entries = max_entries
        self._max_age = max_age
        self._entries: OrderedDict[tuple[bytes, TrustStore], _Verdict] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def validate_ap_certificate(
        self,
        cert: x509.Certificate,
        trust: TrustStore,
        *,
        at: datetime,
        revocation: RevocationChecker | None = None,
    ) -> tuple[x509.Certificate, ...]:
        """Like :func:`~gateway.crypto.validate_ap_certificate` (same verdicts, same exceptions).

        Raises:
            CertificateRejected: with ``reason`` a :class:`~gateway.crypto.CertRejection`.
        """
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        key = (cert.fingerprint(hashes.SHA256()), trust)
        with self._lock:
            verdict = self._entries.get(key)
            if verdict is not None:
                if verdict.reached_at <= at <= verdict.reached_at + self._max_age and (
                    verdict.valid_from <= at <= verdict.valid_until
                ):
                    self._entries.move_to_end(key)
                else:
                    del self._entries[key]
                    verdict = None
        if verdict is not None:
            if revocation is not None:
                check_revocation(verdict.path, revocation, at)
            return verdict.path
        path = validate_ap_certificate(cert, trust, at=at, revocation=revocation)
        verdict = _Verdict(
            path,
            at,
            max(c.not_valid_before_utc for c in path),
            min(c.not_valid_after_utc for c in path),
        )
        with self._lock:
            self._entries[key] = verdict
            self._entries.move_to_end(key)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)
        return path

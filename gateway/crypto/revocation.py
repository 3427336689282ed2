"""CRL revocation checking, sans-IO: the caller supplies ``fetch_crl(url) -> bytes``; this module picks the
URLs, verifies and caches the CRLs and answers :class:`RevocationChecker` (peppol-as4.md §10.2 item 4: CRL,
hard fail, cached; soft fail only as an explicit opt-in).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

from gateway.crypto.certs import RevocationStatus

#: ``fetch_crl(url) -> CRL bytes`` (DER or PEM). Any exception means "unavailable" (the transport layer
#: raises e.g. ``TransportError``; its own timeout bounds the wait).
FetchCRL = Callable[[str], bytes]

#: phase4's default CRL cache lifetime (peppol-as4.md §10.2: cached, 6 h), also bounded by nextUpdate.
DEFAULT_MAX_AGE: Final = timedelta(hours=6)
#: After a failed fetch, the URL is not asked again for this long (an unreachable CRL server must not be
#: hit once per incoming message).
DEFAULT_RETRY_AFTER: Final = timedelta(minutes=5)
#: Largest CRL accepted (the Peppol G3 CA CRLs are a few KiB; a hostile or broken server is cut off).
DEFAULT_MAX_CRL_BYTES: Final = 10 * 1024 * 1024


def crl_urls(certificate: x509.Certificate) -> tuple[str, ...]:
    """The http(s) full-name URIs of the certificate's CRL distribution points, in order."""
    try:
        points = certificate.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    except x509.ExtensionNotFound:
        return ()
    urls: list[str] = []
    for point in points:
        for name in point.full_name or ():
            if isinstance(name, x509.UniformResourceIdentifier) and name.value.lower().startswith(
                ("http://", "https://")
            ):
                urls.append(name.value)
    return tuple(urls)


@dataclass(frozen=True, slots=True)
class _Cached:
    crl: x509.CertificateRevocationList
    valid_until: datetime


class CRLRevocationChecker:
    """A :class:`RevocationChecker` over CRLs fetched by the caller, cached until nextUpdate / ``max_age``.

    For each (certificate, issuer) pair: take the certificate's CRL distribution points, use a cached CRL
    or fetch one, check that it is issued and signed by ``issuer`` and current at ``at``, then look the
    serial number up. Indirect and delta CRLs are not supported (Peppol CAs publish neither).

    Outcomes: REVOKED when the serial is listed with a revocation date at or before ``at``; GOOD when a
    current, correctly signed CRL does not list it; otherwise (no distribution point, URL not allowed,
    fetch failed, unparsable, wrongly signed or stale CRL) UNKNOWN - which ``validate_ap_certificate``
    turns into a rejection - or GOOD when ``soft_fail`` is set.

    Thread-safe: the cache is guarded by a lock (the fetch itself runs outside it).
    """

    def __init__(
        self,
        fetch_crl: FetchCRL,
        *,
        soft_fail: bool = False,
        allowed_url_prefixes: Sequence[str] = (),
        max_age: timedelta = DEFAULT_MAX_AGE,
        retry_after: timedelta = DEFAULT_RETRY_AFTER,
        max_crl_bytes: int = DEFAULT_MAX_CRL_BYTES,
    ) -> None:
        """Configure the checker.

        Args:
            fetch_crl: downloads one CRL (I/O lives with the caller, e.g. ``transport/``).
            soft_fail: answer GOOD instead of UNKNOWN when no usable CRL is available (explicit opt-in).
            allowed_url_prefixes: when given, only URLs starting with one of these are fetched (phase4 only
                fetches below ``http://crl.one.nl.digicert.com/``); others count as unavailable.
            max_age: longest time a fetched CRL is used, even when its nextUpdate is later.
            retry_after: how long a URL whose fetch failed is not asked again.
            max_crl_bytes: larger answers are refused unparsed.
        """
        self._fetch = fetch_crl
        self._soft_fail = soft_fail
        self._prefixes = tuple(allowed_url_prefixes)
        self._max_age = max_age
        self._retry_after = retry_after
        self._max_bytes = max_crl_bytes
        self._cache: dict[tuple[str, bytes], _Cached] = {}
        self._failed: dict[str, datetime] = {}
        self._lock = threading.Lock()

    def check(
        self, certificate: x509.Certificate, issuer: x509.Certificate, at: datetime
    ) -> RevocationStatus:
        """Revocation status of ``certificate`` (issued by ``issuer``) at time ``at``."""
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        for url in crl_urls(certificate):
            crl = self._crl(url, issuer, at)
            if crl is None:
                continue
            entry = crl.get_revoked_certificate_by_serial_number(certificate.serial_number)
            if entry is not None and entry.revocation_date_utc <= at:
                return RevocationStatus.REVOKED
            return RevocationStatus.GOOD
        return RevocationStatus.GOOD if self._soft_fail else RevocationStatus.UNKNOWN

    def _crl(self, url: str, issuer: x509.Certificate, at: datetime) -> x509.CertificateRevocationList | None:
        """A current CRL of ``issuer`` from ``url`` (cache first), or None when unavailable."""
        # The cache key includes the issuer: one URL answering for two CAs must not mix their CRLs.
        key = (url, issuer.fingerprint(hashes.SHA256()))
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None and at < cached.valid_until and _current(cached.crl, at):
                return cached.crl
            failed_at = self._failed.get(url)
            if failed_at is not None and failed_at <= at < failed_at + self._retry_after:
                return None
        if self._prefixes and not url.startswith(self._prefixes):
            return None
        crl = self._download(url, issuer, at)
        with self._lock:
            if crl is None:
                self._failed[url] = at
                return None
            self._failed.pop(url, None)
            next_update = crl.next_update_utc
            limit = at + self._max_age
            self._cache[key] = _Cached(crl, min(limit, next_update) if next_update else limit)
        return crl

    def _download(
        self, url: str, issuer: x509.Certificate, at: datetime
    ) -> x509.CertificateRevocationList | None:
        try:
            data = self._fetch(url)
        except Exception:  # the fetcher's failure, whatever its type, means "unavailable" (hard fail)
            return None
        if not isinstance(data, bytes | bytearray) or len(data) > self._max_bytes:
            return None
        try:
            raw = bytes(data)
            crl = (
                x509.load_pem_x509_crl(raw)
                if raw.lstrip().startswith(b"-----")
                else x509.load_der_x509_crl(raw)
            )
            if crl.issuer != issuer.subject or not _signed_by(crl, issuer):
                return None
        except ValueError:
            return None
        return crl if _current(crl, at) else None


def _current(crl: x509.CertificateRevocationList, at: datetime) -> bool:
    """thisUpdate <= at < nextUpdate (a CRL without nextUpdate never counts as current, RFC 5280 §5.1.2.5)."""
    next_update = crl.next_update_utc
    return next_update is not None and crl.last_update_utc <= at < next_update


def _signed_by(crl: x509.CertificateRevocationList, issuer: x509.Certificate) -> bool:
    key = issuer.public_key()
    if not isinstance(
        key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | ed448.Ed448PublicKey
    ):
        return False
    return crl.is_signature_valid(key)

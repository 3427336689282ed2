"""Download of certificate revocation lists for ``gateway.crypto.CRLRevocationChecker``.

Synchronous: revocation checks run inside the (threaded) message verification, never on the event loop.
CRLs are served over plain HTTP by design (they are signed); the checker restricts the allowed URL prefixes.
"""

from __future__ import annotations

from gateway.errors import TransportError
from gateway.transport.http_get import get_bounded

DEFAULT_MAX_CRL_BYTES = 10 * 1024 * 1024


class HTTPCRLFetcher:
    """A ``fetch_crl(url) -> bytes`` callable with a timeout, a size cap and no redirects."""

    def __init__(self, *, timeout: float = 10.0, max_bytes: int = DEFAULT_MAX_CRL_BYTES) -> None:
        self._timeout = timeout
        self._max_bytes = max_bytes

    def __call__(self, url: str) -> bytes:
        if not url.startswith(("http://", "https://")):
            raise TransportError(f"refusing to fetch the CRL {url!r}: not http(s)", retryable=False)
        return get_bounded(url, timeout=self._timeout, max_bytes=self._max_bytes, follow_redirects=False)

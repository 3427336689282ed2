"""Download of certificate revocation lists for ``gateway.crypto.CRLRevocationChecker``.

Synchronous: revocation checks run inside the (threaded) message verification, never on the event loop.
CRLs are served over plain HTTP by design (they are signed); the checker restricts the allowed URL prefixes.
"""

from __future__ import annotations

import httpx

from gateway.errors import TransportError

DEFAULT_MAX_CRL_BYTES = 10 * 1024 * 1024


class HTTPCRLFetcher:
    """A ``fetch_crl(url) -> bytes`` callable with a timeout, a size cap and no redirects."""

    def __init__(self, *, timeout: float = 10.0, max_bytes: int = DEFAULT_MAX_CRL_BYTES) -> None:
        self._timeout = timeout
        self._max_bytes = max_bytes

    def __call__(self, url: str) -> bytes:
        if not url.startswith(("http://", "https://")):
            raise TransportError(f"refusing to fetch the CRL {url!r}: not http(s)", retryable=False)
        try:
            with httpx.Client(timeout=self._timeout) as client, client.stream("GET", url) as response:
                if response.status_code != 200:
                    raise TransportError(f"GET {url} answered HTTP {response.status_code}")
                data = bytearray()
                for chunk in response.iter_bytes():
                    data += chunk
                    if len(data) > self._max_bytes:
                        raise TransportError(f"GET {url}: CRL larger than {self._max_bytes} bytes")
                return bytes(data)
        except httpx.HTTPError as exc:
            raise TransportError(f"GET {url} failed: {exc}") from exc

"""OCSP over HTTP POST (RFC 6960 Appendix A.1) for ``gateway.crypto.ocsp.OCSPRevocationChecker``.

Synchronous like the CRL fetcher: revocation checks run inside the (threaded) certificate validation.
Answers are signed, so plain HTTP is normal; the checker restricts the responder URLs.
"""

from __future__ import annotations

import httpx

from gateway.errors import TransportError

DEFAULT_MAX_OCSP_BYTES = 64 * 1024


class HTTPOCSPPoster:
    """A ``post_ocsp(url, request) -> response`` callable with a timeout, a size cap and no redirects."""

    def __init__(self, *, timeout: float = 10.0, max_bytes: int = DEFAULT_MAX_OCSP_BYTES) -> None:
        self._timeout = timeout
        self._max_bytes = max_bytes

    def __call__(self, url: str, request: bytes) -> bytes:
        if not url.startswith(("http://", "https://")):
            raise TransportError(f"refusing OCSP responder {url!r}: not http(s)", retryable=False)
        try:
            with (
                httpx.Client(timeout=self._timeout, follow_redirects=False) as client,
                client.stream(
                    "POST", url, content=request, headers={"Content-Type": "application/ocsp-request"}
                ) as response,
            ):
                if response.status_code != 200:
                    raise TransportError(f"OCSP {url} answered HTTP {response.status_code}")
                data = bytearray()
                for chunk in response.iter_bytes():
                    data += chunk
                    if len(data) > self._max_bytes:
                        raise TransportError(
                            f"OCSP {url}: more than {self._max_bytes} bytes", retryable=False
                        )
                return bytes(data)
        except httpx.HTTPError as exc:
            raise TransportError(f"OCSP {url} failed: {exc}") from exc

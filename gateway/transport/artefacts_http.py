"""Download of validation artefacts from their upstream URL (the checksum is checked by the caller).

This adapter is synchronous on purpose: artefacts are resolved at start-up, before any event loop runs.
"""

from __future__ import annotations

import httpx

from gateway.errors import TransportError

DEFAULT_MAX_ARTEFACT_BYTES = 64 * 1024 * 1024


class HTTPArtefactFetcher:
    """A ``fetch(url) -> bytes`` callable over HTTPS with a size cap and no redirects to other schemes."""

    def __init__(self, *, timeout: float = 30.0, max_bytes: int = DEFAULT_MAX_ARTEFACT_BYTES) -> None:
        self._timeout = timeout
        self._max_bytes = max_bytes

    def __call__(self, url: str) -> bytes:
        if not url.startswith("https://"):
            raise TransportError(f"refusing to fetch {url!r}: only https:// is allowed", retryable=False)
        try:
            with (
                httpx.Client(timeout=self._timeout, follow_redirects=True) as client,
                client.stream("GET", url) as response,
            ):
                if response.status_code != 200:
                    raise TransportError(
                        f"GET {url} answered HTTP {response.status_code}",
                        retryable=response.status_code >= 500,
                    )
                chunks: list[bytes] = []
                size = 0
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > self._max_bytes:
                        raise TransportError(f"GET {url}: more than {self._max_bytes} bytes", retryable=False)
                    chunks.append(chunk)
                return b"".join(chunks)
        except httpx.HTTPError as exc:
            raise TransportError(f"GET {url} failed: {exc}") from exc

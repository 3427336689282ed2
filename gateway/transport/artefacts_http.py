"""Download of validation artefacts from their upstream URL (the checksum is checked by the caller).

This adapter is synchronous on purpose: artefacts are resolved at start-up, before any event loop runs.
"""

from __future__ import annotations

from gateway.errors import TransportError
from gateway.transport.http_get import get_bounded

DEFAULT_MAX_ARTEFACT_BYTES = 64 * 1024 * 1024


class HTTPArtefactFetcher:
    """A ``fetch(url) -> bytes`` callable over HTTPS with a size cap; redirects are followed, because
    what arrives is trusted only once its SHA-256 matches the manifest."""

    def __init__(self, *, timeout: float = 30.0, max_bytes: int = DEFAULT_MAX_ARTEFACT_BYTES) -> None:
        self._timeout = timeout
        self._max_bytes = max_bytes

    def __call__(self, url: str) -> bytes:
        if not url.startswith("https://"):
            raise TransportError(f"refusing to fetch {url!r}: only https:// is allowed", retryable=False)
        return get_bounded(url, timeout=self._timeout, max_bytes=self._max_bytes, follow_redirects=True)

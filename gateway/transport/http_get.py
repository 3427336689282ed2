"""A bounded HTTP GET shared by the download adapters (artefacts, CRLs): size cap and error mapping."""

from __future__ import annotations

import httpx

from gateway.errors import TransportError


def get_bounded(url: str, *, timeout: float, max_bytes: int, follow_redirects: bool) -> bytes:
    """GET ``url`` and return its body, refusing more than ``max_bytes`` without buffering past the cap.

    Raises:
        TransportError: a non-200 answer (retryable when 5xx), an oversized body or a network failure.
    """
    try:
        with (
            httpx.Client(timeout=timeout, follow_redirects=follow_redirects) as client,
            client.stream("GET", url) as response,
        ):
            if response.status_code != 200:
                raise TransportError(
                    f"GET {url} answered HTTP {response.status_code}", retryable=response.status_code >= 500
                )
            data = bytearray()
            for chunk in response.iter_bytes():
                data += chunk
                if len(data) > max_bytes:
                    raise TransportError(f"GET {url}: more than {max_bytes} bytes", retryable=False)
            return bytes(data)
    except httpx.HTTPError as exc:
        raise TransportError(f"GET {url} failed: {exc}") from exc

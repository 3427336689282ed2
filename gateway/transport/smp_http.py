"""The SMP adapter: one bounded HTTP GET, redirects NOT followed, errors mapped to discovery errors.

peppol-commons 12.3.1 stopped following HTTP redirects for SMP reads; a 3xx is handed back as it is and
judged in ``gateway.smp.responses``. TLS trust for SMP HTTPS is the system's CA store or a configured
bundle: SMPs use ordinary public CAs (peppol-as4.md §9.3), unlike AS4 message trust.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Final

import httpx

from gateway.smp import MAX_SMP_RESPONSE_BYTES, LookupOutcome, SMPHTTPResponse

DEFAULT_SMP_TIMEOUT_SECONDS: Final = 10.0


class HTTPSMPFetcher:
    """GETs SMP resources with httpx.

    Args:
        timeout: connect/read timeout in seconds.
        ca_bundle: PEM bundle of CAs for SMP HTTPS; None = the system's.
        max_bytes: refuse larger answers (they are remote input).
        transport: an httpx transport for tests; None = the network.
    """

    def __init__(
        self,
        *,
        timeout: float = DEFAULT_SMP_TIMEOUT_SECONDS,
        ca_bundle: Path | None = None,
        max_bytes: int = MAX_SMP_RESPONSE_BYTES,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._timeout = timeout
        self._verify: ssl.SSLContext | bool = (
            ssl.create_default_context(cafile=str(ca_bundle)) if ca_bundle is not None else True
        )
        self._max_bytes = max_bytes
        self._transport = transport

    async def get(self, url: str) -> SMPHTTPResponse:
        """GET ``url``; any status comes back as data.

        Raises:
            DiscoveryUnavailable: connection failure, timeout, TLS failure (outcome ``smp-unreachable``).
            SMPResponseInvalid: an answer larger than ``max_bytes``.
        """
        try:
            async with (
                httpx.AsyncClient(
                    timeout=self._timeout,
                    verify=self._verify,
                    follow_redirects=False,
                    transport=self._transport,
                ) as client,
                client.stream("GET", url, headers={"Accept": "application/xml, text/xml"}) as response,
            ):
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > self._max_bytes:
                        raise LookupOutcome.BAD_SMP_RESPONSE.error(
                            f"the SMP answer for {url} is larger than {self._max_bytes} bytes"
                        )
                return SMPHTTPResponse(url, response.status_code, bytes(body))
        except httpx.HTTPError as exc:
            raise LookupOutcome.SMP_UNREACHABLE.error(f"SMP GET {url} failed: {exc!r}") from exc

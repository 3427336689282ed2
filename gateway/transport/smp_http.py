"""The SMP adapter: one bounded HTTP GET, redirects NOT followed, errors mapped to discovery errors.

peppol-commons 12.3.1 stopped following HTTP redirects for SMP reads; a 3xx is handed back as it is and
judged in ``gateway.smp.responses``. TLS trust for SMP HTTPS is the system's CA store or a configured
bundle: SMPs use ordinary public CAs (peppol-as4.md §9.3), unlike AS4 message trust.
"""

from __future__ import annotations

import ssl
import zlib
from pathlib import Path
from typing import Final

import anyio
import httpx

from gateway.as4.mime import content_codings
from gateway.errors import DiscoveryError, PeerAddressRefused
from gateway.smp import MAX_SMP_RESPONSE_BYTES, LookupOutcome, SMPHTTPResponse
from gateway.transport.peers import GuardedHTTPTransport, PeerPolicy

DEFAULT_SMP_TIMEOUT_SECONDS: Final = 10.0
#: Upper bound of one whole GET (connect, headers and body), as a multiple of the per-read ``timeout``:
#: httpx's timeouts bound each read only, so an SMP dripping a byte at a time would otherwise hold the
#: lookup (and the API request) for ever.
DEADLINE_TIMEOUTS: Final = 3
#: The content codings we decode ourselves, each with a bound on the decoded size (a 500-byte gzip of a
#: gzip decodes to hundreds of megabytes in one step inside httpx).
_DECODABLE: Final = frozenset({"identity", "gzip", "x-gzip", "deflate"})


class _BoundedDecoder:
    """Decodes one content coding incrementally, never producing more than ``budget`` bytes in total."""

    def __init__(self, coding: str, budget: int, url: str) -> None:
        self._coding = coding
        self._budget = budget
        self._url = url
        # 32 + 15: a gzip or zlib header, detected; a "deflate" that turns out raw is retried below.
        self._inflate = None if coding == "identity" else zlib.decompressobj(32 + zlib.MAX_WBITS)
        self._started = False

    def too_large(self) -> DiscoveryError:
        return LookupOutcome.BAD_SMP_RESPONSE.error(
            f"the SMP answer for {self._url} is larger than {self._budget} bytes"
        )

    def feed(self, data: bytes, produced: int) -> bytes:
        if self._inflate is None:
            return data
        room = self._budget - produced + 1
        try:
            out = self._inflate.decompress(data, room)
        except zlib.error as exc:
            if self._coding == "deflate" and not self._started:  # raw deflate, as some servers send it
                self._inflate = zlib.decompressobj(-zlib.MAX_WBITS)
                self._started = True
                return self.feed(data, produced)
            raise LookupOutcome.BAD_SMP_RESPONSE.error(
                f"the SMP answer for {self._url} is not valid {self._coding}: {exc}"
            ) from exc
        self._started = True
        if len(out) >= room or self._inflate.unconsumed_tail:
            raise self.too_large()
        return out


class HTTPSMPFetcher:
    """GETs SMP resources with httpx.

    Args:
        timeout: connect/read timeout in seconds.
        ca_bundle: PEM bundle of CAs for SMP HTTPS; None = the system's.
        max_bytes: refuse larger answers, counted after decoding (they are remote input).
        transport: an httpx transport for tests; None = the network.
        deadline: upper bound of one whole GET in seconds, body included; None = ``DEADLINE_TIMEOUTS``
            times ``timeout``.
        peers: connect only to the addresses this policy permits, checked at connect time (the production
            stage: an SMP host resolving to an internal address is ``bad-smp-response``); None = any.
    """

    def __init__(
        self,
        *,
        timeout: float = DEFAULT_SMP_TIMEOUT_SECONDS,
        ca_bundle: Path | None = None,
        max_bytes: int = MAX_SMP_RESPONSE_BYTES,
        transport: httpx.AsyncBaseTransport | None = None,
        deadline: float | None = None,
        peers: PeerPolicy | None = None,
    ) -> None:
        self._timeout = timeout
        self._deadline = deadline if deadline is not None else DEADLINE_TIMEOUTS * timeout
        # Made once: loading a CA bundle takes tens of milliseconds, on the event loop (``verify=True`` made
        # a context for every GET's client). httpx's bundle, or SSL_CERT_FILE/SSL_CERT_DIR as it reads them.
        self._verify: ssl.SSLContext = (
            ssl.create_default_context(cafile=str(ca_bundle))
            if ca_bundle is not None
            else httpx.create_ssl_context(True)
        )
        self._max_bytes = max_bytes
        self._transport = transport
        self._peers = peers

    async def get(self, url: str) -> SMPHTTPResponse:
        """GET ``url``; any status comes back as data.

        Raises:
            DiscoveryUnavailable: connection failure, timeout (``deadline`` for the whole GET), TLS failure
                (outcome ``smp-unreachable``).
            SMPResponseInvalid: an answer larger than ``max_bytes`` (decoded), a content coding other than
                gzip or deflate, a URL httpx cannot use (e.g. a host name that is not valid IDNA), or a host
                that resolves to no address ``peers`` permits.
        """
        try:
            with anyio.fail_after(self._deadline):
                return await self._get(url)
        except TimeoutError as exc:
            raise LookupOutcome.SMP_UNREACHABLE.error(
                f"SMP GET {url}: no complete answer within {self._deadline:g} s"
            ) from exc
        except DiscoveryError:
            raise
        except PeerAddressRefused as exc:
            raise LookupOutcome.BAD_SMP_RESPONSE.error(f"SMP GET {url} refused: {exc}") from exc
        except httpx.HTTPError as exc:
            raise LookupOutcome.SMP_UNREACHABLE.error(f"SMP GET {url} failed: {exc!r}") from exc
        except (httpx.InvalidURL, UnicodeError, ValueError) as exc:
            # A NAPTR regexp or a Redirect href is remote input: a host like "xn--zz" fails IDNA in httpx.
            raise LookupOutcome.BAD_SMP_RESPONSE.error(f"SMP URL {url!r} cannot be used: {exc}") from exc

    async def _get(self, url: str) -> SMPHTTPResponse:
        transport = self._transport
        if transport is None and self._peers is not None:
            transport = GuardedHTTPTransport(self._peers, verify=self._verify)
        async with (
            httpx.AsyncClient(
                timeout=self._timeout,
                verify=self._verify,
                follow_redirects=False,
                transport=transport,
            ) as client,
            client.stream(
                "GET",
                url,
                headers={"Accept": "application/xml, text/xml", "Accept-Encoding": "gzip, deflate"},
            ) as response,
        ):
            # httpx joins a field sent more than once with ", ": one list, as RFC 9110 reads it.
            codings = content_codings(response.headers.get("content-encoding", "")) or ["identity"]
            if len(codings) > 1 or codings[0] not in _DECODABLE:
                raise LookupOutcome.BAD_SMP_RESPONSE.error(
                    f"the SMP answer for {url} has content coding {', '.join(codings)!r};"
                    " only one of gzip or deflate is accepted"
                )
            decoder = _BoundedDecoder(codings[0], self._max_bytes, url)
            body = bytearray()
            async for chunk in response.aiter_raw():  # decoded here, within the bound
                body += decoder.feed(chunk, len(body))
                if len(body) > self._max_bytes:
                    raise decoder.too_large()
            return SMPHTTPResponse(url, response.status_code, bytes(body))

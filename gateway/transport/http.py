"""The AS4 HTTP transport: POST the stored request bytes with httpx and hand back the raw response.

Only this module catches httpx exceptions; ``map_httpx_errors`` turns them into ``TransportError`` with a
``retryable`` flag (the httpx ``map_httpcore_exceptions`` pattern). Timeouts follow phase4 and the Peppol
SLA: connect 10 s, a receiver must answer within 120 s (peppol-as4.md §5).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Final, Self
from urllib.parse import urlsplit

import httpx

from gateway.errors import TransportError
from gateway.services.ports import HTTPResponse
from gateway.smp.urls import is_loopback_host
from gateway.transport.peers import GuardedHTTPTransport, PeerPolicy

DEFAULT_CONNECT_TIMEOUT: Final = 10.0
DEFAULT_SEND_TIMEOUT: Final = 120.0
#: Signals are a few kB; anything this large is not an answer we could use.
DEFAULT_MAX_RESPONSE_BYTES: Final = 16 * 1024 * 1024
USER_AGENT: Final = "peppol-gateway"

# Failures after which the same request may well succeed later: no answer, a dropped or reset connection,
# a garbled response. Everything else (bad URL, unsupported scheme, our own protocol misuse) is final.
_RETRYABLE: Final = (
    httpx.TimeoutException,
    httpx.NetworkError,  # ConnectError, ReadError, WriteError, CloseError
    httpx.RemoteProtocolError,  # e.g. "Server disconnected without sending a response"
    httpx.DecodingError,
    httpx.ProxyError,
)
_FINAL: Final = (httpx.UnsupportedProtocol, httpx.LocalProtocolError, httpx.InvalidURL)


@contextmanager
def map_httpx_errors(url: str) -> Iterator[None]:
    """Translate httpx exceptions raised inside the block into ``TransportError``.

    Raises:
        TransportError: ``retryable`` True for timeouts, network and remote protocol errors.
    """
    try:
        yield
    except _FINAL as exc:
        raise TransportError(f"POST {url}: {type(exc).__name__}: {exc}", retryable=False) from exc
    except _RETRYABLE as exc:
        raise TransportError(f"POST {url}: {type(exc).__name__}: {exc or 'no detail'}") from exc
    except httpx.HTTPError as exc:  # any other httpx failure: assume a retry may help
        raise TransportError(f"POST {url}: {type(exc).__name__}: {exc}") from exc


class HTTPAS4Transport:
    """``AS4Transport`` over an ``httpx.AsyncClient`` (connection pooling, no redirects, bounded answers).

    Use as an async context manager or call ``aclose()``.

    Args:
        connect_timeout: seconds to establish the connection (TCP + TLS).
        send_timeout: seconds for the whole exchange once connected: upload and the receiver's answer.
        max_response_bytes: larger responses are dropped (retryable: the answer was unusable).
        client: an existing client (tests); otherwise one is created and closed with the transport.
        plain_loopback: plain http to a loopback host is allowed (development, the demonstration, tests);
            False in the production stage, where only https is sent to (a participant directory entry, or
            an address an SMP answered before a stage check, cannot make us send in clear).
        peers: connect only to the addresses this policy permits, checked at connect time (the production
            stage: an endpoint host resolving to an internal address ends in ``PeerAddressRefused``);
            None = any address (development, tests).
    """

    def __init__(
        self,
        *,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        send_timeout: float = DEFAULT_SEND_TIMEOUT,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        client: httpx.AsyncClient | None = None,
        plain_loopback: bool = True,
        peers: PeerPolicy | None = None,
    ) -> None:
        self.connect_timeout = connect_timeout
        self._plain_loopback = plain_loopback
        self.send_timeout = send_timeout
        self._max_response_bytes = max_response_bytes
        self._own_client = client is None
        self._client = client or httpx.AsyncClient(
            timeout=httpx.Timeout(send_timeout, connect=connect_timeout, pool=connect_timeout),
            follow_redirects=False,  # an AS4 endpoint answers itself; a redirect is not an answer
            headers={"User-Agent": USER_AGENT},
            trust_env=False,  # no proxy or CA override from the environment
            transport=GuardedHTTPTransport(peers) if peers is not None else None,
        )

    @property
    def max_exchange_seconds(self) -> float:
        """Upper bound of one ``post`` call: a lease must outlast it."""
        return self.connect_timeout + self.send_timeout

    async def post(self, url: str, *, headers: Mapping[str, str], body: bytes) -> HTTPResponse:
        """POST ``body`` as is and return the response whatever its status.

        Raises:
            TransportError: no usable response; ``retryable`` says whether a later retry may help.
        """
        parts = urlsplit(url)
        # Peppol AS4 is HTTPS only (peppol-as4.md §5); plain HTTP to loopback for development, the
        # self-contained demonstration and tests, never in the production stage.
        plain = self._plain_loopback and parts.scheme == "http" and is_loopback_host(parts.hostname)
        if parts.scheme != "https" and not plain:
            raise TransportError(
                f"refusing to send to {url!r}: AS4 endpoints must use https", retryable=False
            )
        try:
            # httpx timeouts bound each phase; this deadline bounds the whole exchange (a slow trickle of
            # bytes would otherwise keep resetting the read timeout).
            async with asyncio.timeout(self.max_exchange_seconds):
                return await self._exchange(url, headers, body)
        except TimeoutError as exc:
            raise TransportError(
                f"POST {url}: no complete answer within {self.max_exchange_seconds:g} s"
            ) from exc

    async def _exchange(self, url: str, headers: Mapping[str, str], body: bytes) -> HTTPResponse:
        with map_httpx_errors(url):
            async with self._client.stream("POST", url, headers=dict(headers), content=body) as response:
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.aiter_bytes():  # decoded if the receiver gzips
                    size += len(chunk)
                    if size > self._max_response_bytes:
                        raise TransportError(
                            f"POST {url}: response larger than {self._max_response_bytes} bytes"
                        )
                    chunks.append(chunk)
                return HTTPResponse(
                    response.status_code, tuple(response.headers.multi_items()), b"".join(chunks)
                )

    async def aclose(self) -> None:
        """Close the client if this transport created it."""
        if self._own_client:
            await self._client.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

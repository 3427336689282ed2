"""The webhook HTTP adapter: POST over an httpx AsyncClient with timeouts; httpx errors become
TransportError (retryable unless retrying cannot help). Implements ``services.webhooks.WebhookSender``."""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Self

import httpx

from gateway.errors import TransportError

if TYPE_CHECKING:
    from gateway.services.ports import WebhookSender


class HTTPWebhookSender:
    """POSTs webhooks. Redirects are not followed (the signed body must not travel to another host) and
    the response body is never read (the status is all that matters; a huge body costs nothing).

    Args:
        timeout: seconds for connecting, writing and waiting for the response head.
        client: an AsyncClient to use (tests pass one with a MockTransport); owned by the caller then.
    """

    def __init__(self, *, timeout: float = 10.0, client: httpx.AsyncClient | None = None) -> None:
        self._owned = client is None
        self._client = client or httpx.AsyncClient(
            timeout=httpx.Timeout(timeout),
            follow_redirects=False,
            limits=httpx.Limits(max_connections=20, max_keepalive_connections=5),
            trust_env=False,  # no proxy from the environment: the URL is configured explicitly
        )

    async def post(self, url: str, *, body: bytes, headers: Mapping[str, str]) -> int:
        """POST ``body`` and return the status code.

        Raises:
            TransportError: timeout, connection failure or protocol error (retryable); a URL that is not
                http(s) or is malformed (not retryable).
        """
        if not url.startswith(("https://", "http://")):
            raise TransportError(f"webhook URL scheme not supported: {url[:40]!r}", retryable=False)
        try:
            async with self._client.stream("POST", url, content=body, headers=dict(headers)) as response:
                return response.status_code
        except httpx.TimeoutException as exc:
            raise TransportError(f"webhook POST timed out ({type(exc).__name__})") from exc
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            raise TransportError(f"webhook URL unusable: {exc}", retryable=False) from exc
        except httpx.HTTPError as exc:
            raise TransportError(f"webhook POST failed: {type(exc).__name__}: {exc}") from exc

    async def aclose(self) -> None:
        """Close the client if this sender created it."""
        if self._owned:
            await self._client.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


if TYPE_CHECKING:

    def _implements_port() -> WebhookSender:
        # mypy checks structurally that the adapter satisfies the port.
        return HTTPWebhookSender()

"""The AS4 transport port: POST one AS4 request, get the HTTP response (adapter: ``transport.http``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from gateway.model.message import HTTPHeaders


@dataclass(frozen=True, slots=True)
class HTTPResponse:
    """An HTTP response as received, whatever its status.

    Attributes:
        status: the HTTP status code.
        headers: header fields in wire order.
        body: the body bytes.
    """

    status: int
    headers: HTTPHeaders
    body: bytes


class AS4Transport(Protocol):
    """Posts one AS4 request (the adapter is ``gateway.transport.http.HTTPAS4Transport``)."""

    async def post(self, url: str, *, headers: Mapping[str, str], body: bytes) -> HTTPResponse:
        """POST ``body`` with ``headers`` and return the response whatever its status.

        Raises:
            TransportError: no response (timeout, refused, reset, TLS or protocol error); ``retryable``
                says whether resending later may help.
        """
        ...

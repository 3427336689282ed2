"""The httpx AS4 transport: error mapping (retryable or not), HTTPS only (plain http to loopback outside the
production stage), bounded answers (MockTransport)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest

from gateway.bootstrap.delivery import build_as4_transport
from gateway.config import Settings
from gateway.errors import TransportError
from gateway.services.ports import HTTPResponse
from gateway.transport.http import HTTPAS4Transport, map_httpx_errors

URL = "https://ap.receiver.test/as4"


def post(handler: Callable[[httpx.Request], object], url: str = URL, **kw: float) -> HTTPResponse:
    async def go() -> HTTPResponse:
        client = httpx.AsyncClient(transport=httpx.MockTransport(handler))  # type: ignore[arg-type]
        async with client, HTTPAS4Transport(client=client, **kw) as transport:  # type: ignore[arg-type]
            return await transport.post(url, headers={"Content-Type": "multipart/related"}, body=b"payload")

    return asyncio.run(go())


def raising(exc: Exception) -> Callable[[httpx.Request], object]:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    return handler


def test_the_response_is_returned_whatever_its_status() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(500, headers={"Content-Type": "application/soap+xml"}, content=b"<fault/>")

    response = post(handler)
    assert (response.status, response.body) == (500, b"<fault/>")
    assert ("content-type", "application/soap+xml") in response.headers
    assert seen[0].content == b"payload"  # sent as is
    assert seen[0].headers["Content-Type"] == "multipart/related"


@pytest.mark.parametrize(
    "exc",
    [
        httpx.ConnectError("connection refused"),
        httpx.ConnectTimeout("connect timed out"),
        httpx.ReadTimeout("read timed out"),
        httpx.ReadError("connection reset by peer"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
    ],
    ids=type,
)
def test_network_failures_are_retryable(exc: Exception) -> None:
    with pytest.raises(TransportError) as caught:
        post(raising(exc))
    assert caught.value.retryable is True
    assert isinstance(caught.value.__cause__, httpx.HTTPError)


@pytest.mark.parametrize(
    "exc", [httpx.LocalProtocolError("illegal header"), httpx.UnsupportedProtocol("ftp")], ids=type
)
def test_our_own_mistakes_are_not_retryable(exc: Exception) -> None:
    with pytest.raises(TransportError) as caught:
        post(raising(exc))
    assert caught.value.retryable is False


def test_the_mapping_leaves_other_exceptions_alone() -> None:
    with pytest.raises(KeyError), map_httpx_errors(URL):
        raise KeyError("not ours to translate")


@pytest.mark.parametrize(
    "url", ["http://ap.receiver.test/as4", "ftp://ap.receiver.test/as4", "http://10.0.0.1/as4"]
)
def test_plain_http_is_refused_off_loopback(url: str) -> None:
    with pytest.raises(TransportError) as caught:
        post(lambda request: httpx.Response(200), url)
    assert caught.value.retryable is False
    assert "https" in str(caught.value)


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/as4", "http://localhost/as4", "http://[::1]/as4"])
def test_plain_http_is_allowed_on_loopback(url: str) -> None:
    assert post(lambda request: httpx.Response(200, content=b"ok"), url).body == b"ok"


def test_an_oversized_answer_is_dropped_as_retryable() -> None:
    with pytest.raises(TransportError) as caught:
        post(lambda request: httpx.Response(200, content=b"x" * 2048), max_response_bytes=1024)
    assert caught.value.retryable is True
    assert "larger than 1024" in str(caught.value)


def test_the_whole_exchange_has_a_deadline() -> None:
    async def stalls(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5)
        return httpx.Response(200)

    with pytest.raises(TransportError) as caught:
        post(stalls, connect_timeout=0.05, send_timeout=0.05)
    assert caught.value.retryable is True
    assert "no complete answer within 0.1 s" in str(caught.value)


def test_plain_http_to_loopback_is_refused_when_not_allowed() -> None:
    async def go() -> None:
        async with HTTPAS4Transport(plain_loopback=False) as transport:
            await transport.post("http://127.0.0.1:1/as4", headers={}, body=b"payload")

    with pytest.raises(TransportError, match="must use https") as caught:
        asyncio.run(go())
    assert caught.value.retryable is False


@pytest.mark.parametrize(
    ("stage", "refused"), [("production", True), ("test", False), ("development", False)]
)
def test_the_worker_sends_in_clear_to_loopback_outside_production_only(stage: str, refused: bool) -> None:
    transport = build_as4_transport(Settings.model_validate({"truststore": {"stage": stage}}))

    async def go() -> None:
        async with transport:  # nothing listens on port 1: refused before or by the connection
            await transport.post("http://127.0.0.1:1/as4", headers={}, body=b"payload")

    with pytest.raises(TransportError) as caught:
        asyncio.run(go())
    assert ("must use https" in str(caught.value)) is refused

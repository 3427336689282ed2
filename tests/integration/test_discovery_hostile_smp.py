"""A hostile SMP on loopback: answers that drip, bomb or name unusable hosts must end in a typed outcome,
within bounded time and memory (the SMP asked is chosen by whoever registered the participant)."""

from __future__ import annotations

import asyncio
import gzip
import socket
import threading
import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterator

import pytest

from gateway.errors import DiscoveryUnavailable, SMPResponseInvalid
from gateway.smp import SMPHTTPResponse
from gateway.transport.smp_http import HTTPSMPFetcher

Handler = Callable[[socket.socket], None]


@pytest.fixture
def serve() -> Iterator[Callable[[Handler], str]]:
    sockets: list[socket.socket] = []

    def start(handler: Handler) -> str:
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        sockets.append(listener)

        def accept() -> None:
            while True:
                try:
                    conn, _ = listener.accept()
                except OSError:
                    return
                conn.recv(65536)
                threading.Thread(target=_guarded, args=(handler, conn), daemon=True).start()

        threading.Thread(target=accept, daemon=True).start()
        return f"http://127.0.0.1:{listener.getsockname()[1]}/smp"

    yield start
    for listener in sockets:
        listener.close()


def _guarded(handler: Handler, conn: socket.socket) -> None:
    try:
        handler(conn)
    except OSError:
        pass
    finally:
        conn.close()


def _answer(body: bytes, *headers: str) -> Handler:
    head = "".join(f"{h}\r\n" for h in (*headers, f"Content-Length: {len(body)}"))
    return lambda conn: conn.sendall(f"HTTP/1.1 200 OK\r\n{head}\r\n".encode() + body)


def _get(fetcher: HTTPSMPFetcher, url: str) -> SMPHTTPResponse:
    return asyncio.run(fetcher.get(url))


def test_a_dripping_answer_ends_at_the_deadline(serve: Callable[[Handler], str]) -> None:
    def drip(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
        for _ in range(200):  # one byte every 0.2 s: each read is well within the read timeout
            conn.sendall(b"<")
            time.sleep(0.2)

    url = serve(drip)
    started = time.monotonic()
    with pytest.raises(DiscoveryUnavailable, match="no complete answer"):
        _get(HTTPSMPFetcher(timeout=1.0, deadline=2.0), url)
    assert time.monotonic() - started < 6
    started = time.monotonic()
    with pytest.raises(DiscoveryUnavailable, match=r"within 1\.5 s"):  # by default, three read timeouts
        _get(HTTPSMPFetcher(timeout=0.5), url)
    assert time.monotonic() - started < 5


def test_a_nested_gzip_bomb_is_refused_without_inflating_it(serve: Callable[[Handler], str]) -> None:
    inner = gzip.compress(b"\0" * (96 * 1024 * 1024), 9)
    bomb = gzip.compress(inner, 9)  # about 500 bytes on the wire, 96 MiB decoded
    url = serve(_answer(bomb, "Content-Encoding: gzip, gzip"))
    tracemalloc.start()
    try:
        with pytest.raises(SMPResponseInvalid):
            _get(HTTPSMPFetcher(timeout=5.0, max_bytes=1024 * 1024), url)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * 1024 * 1024


def test_a_gzip_bomb_is_refused_at_the_size_limit(serve: Callable[[Handler], str]) -> None:
    bomb = gzip.compress(b"\0" * (64 * 1024 * 1024), 9)
    url = serve(_answer(bomb, "Content-Encoding: gzip"))
    tracemalloc.start()
    try:
        with pytest.raises(SMPResponseInvalid, match="larger than"):
            _get(HTTPSMPFetcher(timeout=5.0, max_bytes=1024 * 1024), url)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * 1024 * 1024


_BODY = b"<ServiceGroup/>" * 100


def _raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


@pytest.mark.parametrize(
    ("coding", "payload"),
    [("gzip", gzip.compress(_BODY)), ("deflate", zlib.compress(_BODY)), ("deflate", _raw_deflate(_BODY))],
    ids=["gzip", "deflate-zlib", "deflate-raw"],
)
def test_compressed_answers_within_the_limit_are_decoded(
    serve: Callable[[Handler], str], coding: str, payload: bytes
) -> None:
    response = _get(HTTPSMPFetcher(timeout=5.0), serve(_answer(payload, f"Content-Encoding: {coding}")))
    assert response.body == _BODY


def test_an_unknown_content_coding_is_refused(serve: Callable[[Handler], str]) -> None:
    url = serve(_answer(b"\x00garbage", "Content-Encoding: compress"))
    with pytest.raises(SMPResponseInvalid, match="content coding"):
        _get(HTTPSMPFetcher(timeout=5.0), url)


def test_a_host_name_httpx_cannot_encode_is_a_bad_smp_response() -> None:
    # A NAPTR regexp of a hostile SML entry or a Redirect href can name any host; IDNA errors are not httpx's.
    with pytest.raises(SMPResponseInvalid, match="cannot be used"):
        _get(HTTPSMPFetcher(timeout=2.0), "https://xn--zz.example/smp")

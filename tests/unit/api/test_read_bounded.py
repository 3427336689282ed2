"""``read_bounded``: the request body read in chunks into one buffer, with the limit and the kept prefix."""

from __future__ import annotations

import tracemalloc
from collections.abc import AsyncIterator

import anyio
import pytest

from gateway.api.deps import read_bounded


class _Request:
    """What ``read_bounded`` uses of a Starlette request: ``stream()``, recording what was pulled."""

    def __init__(self, chunks: list[bytes]) -> None:
        self._chunks = chunks
        self.pulled = 0

    async def stream(self) -> AsyncIterator[bytes]:
        for chunk in self._chunks:
            self.pulled += 1
            yield chunk


def _read(chunks: list[bytes], limit: int, keep: int = 0) -> tuple[tuple[bytes, bool, int], int]:
    request = _Request(chunks)
    result = anyio.run(lambda: read_bounded(request, limit, keep_on_overflow=keep))  # type: ignore[arg-type]
    return result, request.pulled


def test_a_body_within_the_limit_is_returned_whole_in_order() -> None:
    chunks = [bytes([i]) * 1000 for i in range(1, 6)]
    (body, complete, received), pulled = _read(chunks, limit=5000)
    assert (body, complete, received, pulled) == (b"".join(chunks), True, 5000, 5)


def test_an_empty_body() -> None:
    assert _read([], limit=10) == ((b"", True, 0), 0)


def test_reading_stops_at_the_first_chunk_past_the_limit() -> None:
    (body, complete, received), pulled = _read([b"a" * 600, b"b" * 600, b"c" * 600], limit=1000)
    assert (body, complete, received, pulled) == (b"", False, 1200, 2)


@pytest.mark.parametrize(
    ("keep", "expected"),
    [
        (100, b"a" * 100),  # within what was buffered
        (800, b"a" * 600 + b"b" * 200),  # runs into the chunk that overflowed
        (5000, b"a" * 600 + b"b" * 600),  # more than arrived: all of it
    ],
)
def test_on_overflow_only_the_prefix_asked_for_is_kept(keep: int, expected: bytes) -> None:
    (body, complete, received), _ = _read([b"a" * 600, b"b" * 600, b"c" * 600], limit=1000, keep=keep)
    assert (body, complete, received) == (expected, False, 1200)


class _FreshChunks(_Request):
    """A stream whose chunks exist only while ``read_bounded`` holds them (as a server's do)."""

    def __init__(self, count: int, size: int) -> None:
        super().__init__([])
        self._count, self._size = count, size

    async def stream(self) -> AsyncIterator[bytes]:
        for i in range(self._count):
            self.pulled += 1
            yield bytes([i % 251]) * self._size


def test_the_body_is_held_once_while_it_is_read() -> None:
    """Joining a list of the chunks at the end held the body twice (2x its size at the peak)."""
    count, size = 32, 256 * 1024

    async def read() -> tuple[bytes, bool, int]:
        tracemalloc.start()
        try:
            body, complete, _ = await read_bounded(_FreshChunks(count, size), count * size)  # type: ignore[arg-type]
            return body, complete, tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    body, complete, peak = anyio.run(read)
    assert complete
    assert len(body) == count * size
    assert body[-1] == (count - 1) % 251
    assert peak < 1.5 * count * size, f"peak {peak / (count * size):.2f}x the body"

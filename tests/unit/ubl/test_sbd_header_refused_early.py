"""A header past ``MAX_HEADER_NODES`` is refused as soon as its node past the limit is read: neither the
rest of the header nor the business document is fed to the pull parser (``sbd_stream``), however large.
A 21 MB header of ``<x/>`` took ≈ 5 s of CPU to refuse when the SBD was read through first (BENCHMARKS.md,
*Hostile payloads on receipt*)."""

from __future__ import annotations

import pytest
from lxml import etree

from gateway.errors import MappingError
from gateway.ubl import sbd_stream
from gateway.ubl.sbd_read import read_sbd
from gateway.ubl.sbd_stream import stream_sbd
from gateway.ubl.sbdh import HEADER_NODES_REFUSAL, MAX_HEADER_NODES
from tests.unit.ubl.sbd_support import wrap

INV = b"urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
LINES = 200_000  # a business document of ~3 MB after the header
BODY = b'<Invoice xmlns="' + INV + b'"><ID>1</ID>' + b"<Note>x</Note>" * LINES + b"</Invoice>"
MAX = 50_000_000


def _padded(pad: bytes, count: int, *, prefixed: bool = False) -> bytes:
    sbd = wrap(BODY).replace(b"HeaderVersion>1.0", b"HeaderVersion>1.0" + pad * count, 1)
    if prefixed:  # outside the plain layout: the fast path leaves it to the stream at once
        sbd = sbd.replace(
            b"<StandardBusinessDocument xmlns=", b"<StandardBusinessDocument xmlns:q='u' xmlns="
        )
    return sbd


@pytest.fixture
def fed(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The bytes each ``feed`` of the stream's pull parser is given."""
    sizes: list[int] = []

    class Counting(etree.XMLPullParser):
        def feed(self, data: bytes) -> None:  # type: ignore[override]
            sizes.append(len(data))
            super().feed(data)

    monkeypatch.setattr(etree, "XMLPullParser", Counting)
    return sizes


@pytest.mark.parametrize("prefixed", [False, True], ids=["plain", "declaring"])
@pytest.mark.parametrize(("pad", "count"), [(b"<x/>", MAX_HEADER_NODES + 1), (b"<x/>", 1_000_000)])
def test_a_header_past_the_limit_is_refused_before_the_rest_is_read(
    fed: list[int], pad: bytes, count: int, prefixed: bool
) -> None:
    sbd = _padded(pad, count, prefixed=prefixed)
    limit_at = sbd.index(b"HeaderVersion>1.0") + len(pad) * (MAX_HEADER_NODES + 1)  # past it by then
    for read in (stream_sbd, read_sbd):
        fed.clear()
        with pytest.raises(MappingError, match=HEADER_NODES_REFUSAL):
            read(sbd, max_bytes=MAX)
        assert sum(fed) <= limit_at + sbd_stream.CHUNK < len(sbd) // 3, read


def test_a_header_at_the_limit_is_read_through(fed: list[int]) -> None:
    sbd = wrap(BODY)
    nodes = sum(1 + len(n.attrib) for n in etree.fromstring(sbd)[0].iter())  # no comment nor PI in it
    at_limit = sbd.replace(
        b"HeaderVersion>1.0", b"HeaderVersion>1.0" + b"<x/>" * (MAX_HEADER_NODES - nodes), 1
    )
    assert stream_sbd(at_limit, max_bytes=MAX) is not None
    assert sum(fed) >= len(at_limit)  # read through (the stream's feeds and any other parser's)

"""The payload gzip (as4/compression.py): one RFC 1952 member any receiver reads, deflated at the fast
level for XML and Huffman-coded for what does not compress (an embedded PDF's base64)."""

from __future__ import annotations

import base64
import gzip
import random
import zlib

from gateway.as4.compression import choose_strategy, gzip_payload, sample

XML = (
    b"<Invoice>"
    + b"".join(b"<Line><ID>%d</ID><Qty>%d</Qty></Line>" % (i, i % 7) for i in range(40_000))
    + b"</Invoice>"
)
PDF_BASE64 = base64.b64encode(random.Random(3).randbytes(600_000))


def test_xml_is_deflated_and_base64_is_huffman_coded() -> None:
    assert choose_strategy(XML) == zlib.Z_DEFAULT_STRATEGY
    assert choose_strategy(PDF_BASE64) == zlib.Z_HUFFMAN_ONLY
    assert choose_strategy(b"") == zlib.Z_DEFAULT_STRATEGY


def test_output_is_one_gzip_member_with_mtime_zero() -> None:
    for data in (XML, PDF_BASE64, b"", b"x"):
        packed = gzip_payload(data)
        assert gzip.decompress(packed) == data
        assert packed[:4] == b"\x1f\x8b\x08\x00"  # gzip, deflate, no name
        assert packed[4:8] == b"\0\0\0\0"  # mtime 0
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        d.decompress(packed)
        assert d.eof
        assert d.unused_data == b""


def test_ratios() -> None:
    assert len(gzip_payload(XML)) * 10 < len(XML)
    assert len(gzip_payload(PDF_BASE64)) * 1.3 < len(PDF_BASE64)  # as good as deflate on base64


def test_sample_is_bounded_and_spread() -> None:
    data = bytes(range(256)) * 10_000
    probe = sample(data)
    assert len(probe) == 4 * 8 * 1024
    assert probe[: 8 * 1024] == data[: 8 * 1024]
    assert probe[-8 * 1024 :] == data[-8 * 1024 :]
    assert sample(b"abc") == b"abc"

"""Tolerant multipart/related parsing (peppol-as4.md §14 item 3) and byte-exact round trips."""

from __future__ import annotations

import base64
import re

import pytest

from gateway.as4.mime import (
    MimeError,
    _delimiters,
    build_multipart,
    content_codings,
    normalise_cid,
    parse_multipart,
    split_raw_message,
)


def test_round_trip_binary() -> None:
    payload = bytes(range(256)) * 4 + b"\r\n--not-the-boundary\r\n"
    ct, body = build_multipart(
        [({"Content-Type": "application/soap+xml"}, b"<a/>"), ({"Content-ID": "<p@x>"}, payload)],
        boundary="B1",
        root_type="application/soap+xml",
    )
    parts, root = parse_multipart(ct, body)
    assert root.body == b"<a/>"
    assert parts[1].body == payload
    assert parts[1].content_id == "p@x"


def test_preamble_lf_base64_quoted_boundary_and_start() -> None:
    att = b"\x00\x01binary\xff"
    body = (
        b'Content-Type: multipart/related; boundary="=_b 1"\nMIME-Version: 1.0\n\n'
        b"--=_b 1\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n"
        b"Content-ID: <a%40b>\n\n"
        + base64.encodebytes(att)
        + b"\n--=_b 1\nContent-Type: application/soap+xml\nContent-ID: <root>\n"
        b"Content-Transfer-Encoding: 7bit\n\n<e/>\n"
        b"--=_b 1--\nepilogue"
    )
    parts, root = parse_multipart(
        'multipart/related; type="application/soap+xml"; boundary="=_b 1"; start="<root>"', body
    )
    assert root.body == b"<e/>"
    assert parts[0].body == att
    assert parts[0].content_id == "a@b"


def test_quoted_printable() -> None:
    body = b"--b\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\na=3Db=\r\nc\r\n--b--"
    parts, _ = parse_multipart("multipart/related; boundary=b", body)
    assert parts[0].body == b"a=bc"


@pytest.mark.parametrize(
    ("ct", "body"),
    [
        ("text/xml", b"<a/>"),
        ("multipart/related", b"--b\r\n\r\nx\r\n--b--"),
        ("multipart/related; boundary=b", b"no delimiter"),
        ("multipart/related; boundary=b", b"--b\r\n\r\nx\r\n"),  # truncated: no close delimiter
        ("multipart/related; boundary=b; start=<zz>", b"--b\r\n\r\nx\r\n--b--"),
        ("multipart/related; boundary=b", b"--b\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!\r\n--b--"),
        ("multipart/related; boundary=b", b"--b\r\nContent-Transfer-Encoding: x-uue\r\n\r\nx\r\n--b--"),
        # A parameter named twice (RFC 6838 §4.3: an error): readers taking the first and the last differ.
        ("multipart/related; boundary=zz; boundary=b", b"--b\r\n\r\nx\r\n--b--"),
        ("multipart/related; Boundary=b; boundary=b", b"--b\r\n\r\nx\r\n--b--"),
        (
            'multipart/related; boundary=b; type="text/xml"; type="application/soap+xml"',
            b"--b\r\n\r\nx\r\n--b--",
        ),
        ("multipart/related; boundary=b; start=<zz>; start=<a>", b"--b\r\nContent-ID: <a>\r\n\r\nx\r\n--b--"),
    ],
)
def test_broken_mime(ct: str, body: bytes) -> None:
    with pytest.raises(MimeError):
        parse_multipart(ct, body)


def test_cid_normalisation_and_raw_dump() -> None:
    assert normalise_cid("cid:abc%40def") == normalise_cid("<abc@def>") == "abc@def"
    headers, body = split_raw_message(b"POST /as4 HTTP/1.1\r\nContent-Type: a/b\r\nX: y\r\n\r\nBODY")
    assert headers == {"content-type": "a/b", "x": "y"}
    assert body == b"BODY"


def _regex_delimiters(body: bytes, boundary: bytes) -> list[tuple[int, int, bool]]:
    """The delimiter rule as one regex (the previous implementation): the oracle for the bytes.find scan."""
    pattern = re.compile(rb"(?:^|\r?\n)" + re.escape(b"--" + boundary) + rb"(--)?[ \t]*(?:\r?\n|$)")
    return [(m.start(), m.end(), bool(m.group(1))) for m in pattern.finditer(body)]


@pytest.mark.parametrize(
    "body",
    [
        b"--B\r\nA: b\r\n\r\nx\r\n--B--\r\n",
        b"--B\nA: b\n\nx\n--B--",  # LF only, close at the very end
        b"--B \t\r\n\r\nx\r\n--B--  \r\nepilogue",  # transport padding
        b"preamble --B\r\n--B\r\n\r\nx--B\r\n\r\n--B--",  # --B not at a line start is content
        b"--B\r\n--B\r\n\r\nx\r\n--B--",  # back to back: the second shares the first one's line break
        b"--B\r\n\r\n--Bx\r\n--B-\r\n--B--x\r\n--B--",  # delimiter-like lines that are not delimiters
        b"\r\n--B\r\n\r\nx\r\n--B--\r",  # CR at the very end: not a line end
        b"--B--",
        b"--B\r\n\r\n" + b"\r\n--B-x" * 50 + b"\r\n--B--",
    ],
)
def test_delimiter_scan_agrees_with_the_rfc_2046_regex(body: bytes) -> None:
    assert list(_delimiters(body, b"--B")) == _regex_delimiters(body, b"B")


def test_delimiter_scan_is_linear_on_many_near_misses() -> None:
    # A body of delimiter prefixes that never complete a line: each occurrence is looked at once.
    body = b"--B\r\n\r\n" + b"\n--Bz" * 200_000 + b"\r\n--B--"
    parts, _ = parse_multipart("multipart/related; boundary=B", body)
    assert len(parts) == 1
    assert len(parts[0].body) == 5 * 200_000


def test_body_in_pieces_is_written_in_order_and_checked_across_the_junction() -> None:
    ct, body = build_multipart(
        [({}, b"<a/>"), ({"Content-ID": "<p@x>"}, (b"\x01\x02", b"rest"))], boundary="B1", root_type="t"
    )
    assert parse_multipart(ct, body)[0][1].body == b"\x01\x02rest"
    with pytest.raises(ValueError, match="boundary"):
        build_multipart([({}, (b"x\r\n--B", b"1 y"))], boundary="B1", root_type="t")


@pytest.mark.parametrize(
    ("value", "codings"),
    [
        ("", []),
        ("identity", []),
        (" Identity , ", []),
        ("gzip", ["gzip"]),
        ("identity, GZip ,deflate", ["gzip", "deflate"]),
        ("br,,identity,x-compress", ["br", "x-compress"]),
    ],
)
def test_content_codings_lists_the_codings_in_order_without_identity(value: str, codings: list[str]) -> None:
    assert content_codings(value) == codings

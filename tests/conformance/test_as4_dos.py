"""Pre-authentication resource bounds of the AS4 receiver (security review of the inbound path).

No test here is timed: each asserts the structural property that keeps the work bounded - a cap that
rejects with the right ebMS code, a function never reached for an untrusted signer, input fed in chunks.
"""

from __future__ import annotations

import copy
import gzip
import hashlib
import random
import re
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from as4_support import (
    NSX,
    dev_pki,
    edit_soap,
    gz,
    make_message,
    make_raw,
    make_sbd,
    receive,
    repack,
    split,
)
from lxml import etree

import gateway.as4.inbound_payload as inbound_payload
import gateway.as4.inbound_security as inbound_security
import gateway.as4.mime as mime
import gateway.as4.parser as parser
from gateway.as4 import CN_MISMATCH_ERROR, EbmsError, OutgoingMessage
from gateway.crypto import b64, exc_c14n, sign_bytes
from gateway.crypto.policy import SignatureAlgorithm
from gateway.errors import InboundMessageRejected

E = EbmsError
DS = NSX["ds"]


def rejected(
    msg: OutgoingMessage, body: bytes | None = None, *, headers: dict[str, str] | None = None
) -> InboundMessageRejected:
    with pytest.raises(InboundMessageRejected) as info:
        receive(headers or dict(msg.headers), msg.body if body is None else body)
    assert not info.value.internal, info.value.detail
    return info.value


def _spy(monkeypatch: pytest.MonkeyPatch, module: object, name: str) -> list[object]:
    """Replace ``module.name`` by a wrapper recording each call; returns the call log."""
    calls: list[object] = []
    real: Callable[..., Any] = getattr(module, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        calls.append((args, kwargs))
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapper)
    return calls


# --- 1. MIME header values and header blocks are capped (EBMS:0009) ---------------------------------------


def _with_soap_part_header(msg: OutgoingMessage, line: bytes) -> bytes:
    head, sep, rest = msg.body.partition(b"\r\n\r\n")  # the first part's header block
    assert sep
    return head + b"\r\n" + line + sep + rest


def test_part_header_value_above_cap_is_invalid_header() -> None:
    msg = make_message()
    at_cap = _with_soap_part_header(msg, b"X-Padding: " + b"a" * mime.MAX_HEADER_VALUE)
    assert receive(dict(msg.headers), at_cap).message_id == msg.message_id  # control: at the cap
    over = _with_soap_part_header(msg, b"X-Padding: " + b"a" * (mime.MAX_HEADER_VALUE + 1))
    exc = rejected(msg, over)
    assert exc.ebms is E.INVALID_HEADER
    assert "longer than" in exc.detail


def test_part_header_block_above_cap_is_invalid_header() -> None:
    msg = make_message()
    many = b"\r\n".join(b"X-H%d: %s" % (i, b"v" * 100) for i in range(mime.MAX_HEADER_BLOCK // 100))
    exc = rejected(msg, _with_soap_part_header(msg, many))
    assert exc.ebms is E.INVALID_HEADER
    assert "header block" in exc.detail


def test_http_content_type_above_cap_is_invalid_header() -> None:
    msg = make_message()
    padded = dict(msg.headers)
    padded["Content-Type"] += "; x-pad=" + "a" * mime.MAX_HEADER_VALUE
    exc = rejected(msg, headers=padded)
    assert exc.ebms is E.INVALID_HEADER
    assert "Content-Type" in exc.detail


def test_content_type_parameters_split_on_unquoted_semicolons_only() -> None:
    media, params = mime.split_content_type(
        'Multipart/Related; junk; boundary="a;b\\"c"; type=application/soap+xml ;START = "<r@x>" tail; e='
    )
    assert media == "multipart/related"
    assert params == {"boundary": 'a;b"c', "type": "application/soap+xml", "start": "<r@x>", "e": ""}
    # Pathological inputs parse to nothing instead of backtracking (linear single pass).
    assert mime.split_content_type("a/b;" + " " * 10_000 + "x") == ("a/b", {})
    assert mime.split_content_type('a/b; a="' + "\\" * 10_001) == ("a/b", {"a": "\\" * 5_000})


# --- 3. the number of MIME parts is capped, lazily --------------------------------------------------------


def _many_parts(n: int) -> bytes:
    return b"--B\r\n" + b"\r\nx\r\n--B\r\n" * (n - 1) + b"\r\nx\r\n--B--\r\n"


def test_parts_above_cap_are_refused_without_splitting_them_all(monkeypatch: pytest.MonkeyPatch) -> None:
    parts, _ = mime.parse_multipart("multipart/related; boundary=B", _many_parts(mime.MAX_PARTS))
    assert len(parts) == mime.MAX_PARTS
    calls = _spy(monkeypatch, mime, "_split_part")
    with pytest.raises(mime.MimeError, match="more than"):
        mime.parse_multipart("multipart/related; boundary=B", _many_parts(10_000))
    assert len(calls) == mime.MAX_PARTS  # stopped at the cap: the other 9,984 parts were never split


def test_message_with_too_many_parts_is_invalid_header() -> None:
    msg = make_message()
    boundary = split(msg)[0].encode()
    extra = b"".join(
        b"--%s\r\nContent-ID: <p%d@x>\r\n\r\nx\r\n" % (boundary, i) for i in range(mime.MAX_PARTS)
    )
    close = b"--" + boundary + b"--"
    exc = rejected(msg, msg.body.replace(close, extra + close))
    assert exc.ebms is E.INVALID_HEADER
    assert "parts" in exc.detail


# --- 4. gzip: member count capped, input walked in bounded chunks -----------------------------------------


def _members(data: bytes, n: int) -> bytes:
    step = -(-len(data) // n)
    return b"".join(gz(data[i : i + step]) for i in range(0, len(data), step))


def test_multi_member_gzip_within_cap_is_accepted() -> None:
    sbd = make_sbd()
    msg = make_raw(_members(sbd, 3) + b"\0\0")
    assert receive(dict(msg.headers), msg.body).sbd == sbd


def test_gzip_members_above_cap_are_decompression_failure() -> None:
    payload = _members(make_sbd(), inbound_payload.MAX_GZIP_MEMBERS + 1)
    assert gzip.decompress(payload) == make_sbd()  # a valid multi-member stream, only too many members
    exc = rejected(make_raw(payload))
    assert exc.ebms is E.DECOMPRESSION_FAILURE
    assert "members" in exc.detail


def test_gzip_input_is_fed_in_bounded_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    # Feeding the whole rest after each member made zlib copy it into unused_data once per member
    # (quadratic). Bounded chunks keep the total copied linear in the input.
    import zlib

    fed: list[int] = []

    class Recording:
        def __init__(self, wbits: int) -> None:
            self._d = zlib.decompressobj(wbits)

        def decompress(self, data: Any, max_length: int = 0) -> bytes:
            fed.append(len(data))
            return self._d.decompress(data, max_length)

        def __getattr__(self, name: str) -> Any:
            return getattr(self._d, name)

    fake = SimpleNamespace(decompressobj=Recording, MAX_WBITS=zlib.MAX_WBITS, error=zlib.error)
    monkeypatch.setattr(inbound_payload, "zlib", fake)
    plain = random.Random(0).randbytes(1 << 20)  # incompressible: the gzip input is ~1 MiB too
    data = _members(plain, 8)
    assert len(data) > 1 << 20
    assert inbound_payload.gunzip(data, 10**8) == plain
    assert max(fed) <= 64 * 1024
    assert sum(fed) <= len(data) + 8 * 64 * 1024


# --- 2. the signer is validated before any decryption or attachment digest --------------------------------


@pytest.fixture
def spies(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[object]]:
    return {
        "decrypt": _spy(monkeypatch, parser, "decrypt_attachments"),
        "digest": _spy(monkeypatch, inbound_security, "digest_bytes"),
        "gunzip": _spy(monkeypatch, inbound_payload, "gunzip"),
    }


@pytest.mark.parametrize("who", ["rogue", "expired"])
def test_untrusted_signer_causes_no_decryption_or_digest(who: str, spies: dict[str, list[object]]) -> None:
    msg = make_message(sender=getattr(dev_pki(), who))
    exc = rejected(msg)
    assert exc.ebms is E.FAILED_AUTHENTICATION
    assert "signer certificate rejected" in exc.detail
    assert all(calls == [] for calls in spies.values()), {k: len(v) for k, v in spies.items()}


def test_trusted_signer_in_another_seats_name_is_not_decrypted(spies: dict[str, list[object]]) -> None:
    msg = make_message(from_party="POP000009")  # signed by POP000001
    assert rejected(msg).ebms is CN_MISMATCH_ERROR
    assert spies["decrypt"] == []
    assert spies["gunzip"] == []


def _resign(msg: OutgoingMessage, edit: Callable[[etree._Element], None]) -> bytes:
    """Edit the SOAP part, then sign the new SignedInfo again with the (trusted) sender key."""
    _, soap, _, _ = split(msg)
    root = etree.fromstring(soap)
    edit(root)
    root = etree.fromstring(etree.tostring(root))  # c14n of the tree as the receiver will parse it
    si = root.find(f".//{{{DS}}}SignedInfo")
    value = sign_bytes(dev_pki().sender.private_key, exc_c14n(si, ("S12",)), SignatureAlgorithm.RSA_SHA256)
    root.find(f".//{{{DS}}}SignatureValue").text = b64(value)
    return repack(msg, soap=etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def _copy_reference(root: etree._Element, index: int, *, uri: str | None = None, times: int = 1) -> None:
    si = root.find(f".//{{{DS}}}SignedInfo")
    for _ in range(times):
        ref = copy.deepcopy(si.findall(f"{{{DS}}}Reference")[index])
        if uri is not None:  # a correctly digested reference to another element
            target = root.find(f".//*[@{{{NSX['wsu']}}}Id='{uri[1:]}']")
            ref.set("URI", uri)
            ref.find(f"{{{DS}}}DigestValue").text = b64(hashlib.sha256(exc_c14n(target)).digest())
        si.append(ref)


def test_control_resigned_message_is_accepted() -> None:
    msg = make_message()
    assert receive(dict(msg.headers), _resign(msg, lambda r: None)).message_id == msg.message_id


def test_reference_to_another_element_is_refused() -> None:
    # A correctly digested extra reference (here: to the BST) used to be accepted and digested.
    msg = make_message()

    def edit(root: etree._Element) -> None:
        bst_id = root.find(".//wsse:BinarySecurityToken", NSX).get(f"{{{NSX['wsu']}}}Id")
        _copy_reference(root, 1, uri="#" + bst_id)

    exc = rejected(msg, _resign(msg, edit))
    assert exc.ebms is E.FAILED_AUTHENTICATION
    assert "neither eb:Messaging nor S12:Body" in exc.detail


@pytest.mark.parametrize("index", [0, 1, 2], ids=["messaging", "body", "attachment"])
def test_repeated_reference_is_refused(index: int, spies: dict[str, list[object]]) -> None:
    msg = make_message()
    exc = rejected(msg, _resign(msg, lambda r: _copy_reference(r, index)))
    assert exc.ebms is E.FAILED_AUTHENTICATION
    assert "repeated" in exc.detail
    assert spies["digest"] == []
    assert spies["decrypt"] == []


def test_reference_count_is_capped_before_anything_is_digested(spies: dict[str, list[object]]) -> None:
    msg = make_message()
    body = _resign(msg, lambda r: _copy_reference(r, 1, times=inbound_security.MAX_REFERENCES))
    exc = rejected(msg, body)
    assert exc.ebms is E.FAILED_AUTHENTICATION
    assert "more than" in exc.detail
    assert spies["digest"] == []


# --- 2. the unsigned EncryptedData MimeType never unlocks unbounded XML parsing ---------------------------


def test_xml_attachment_is_parsed_without_huge_tree(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _spy(monkeypatch, inbound_security, "parse_xml")
    sbd = make_sbd()
    msg = make_raw(sbd, compression=None, mime_type="application/xml")
    assert receive(dict(msg.headers), msg.body).sbd == sbd
    sizes = [kw.get("max_bytes") for _, kw in calls]  # type: ignore[misc]
    assert sizes == [inbound_security.MAX_XML_ATTACHMENT_C14N_BYTES]
    assert inbound_security.MAX_XML_ATTACHMENT_C14N_BYTES <= 10_000_000  # parse_xml's huge_tree threshold


def test_xml_attachment_above_cap_is_refused_unparsed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inbound_security, "MAX_XML_ATTACHMENT_C14N_BYTES", 1000)
    calls = _spy(monkeypatch, inbound_security, "parse_xml")
    msg = make_raw(make_sbd(), compression=None, mime_type="application/xml")
    exc = rejected(msg)
    assert exc.ebms is E.FAILED_AUTHENTICATION
    assert "compressed" in exc.detail
    assert calls == []


def test_mime_type_on_encrypted_data_is_not_trusted_for_gzip(monkeypatch: pytest.MonkeyPatch) -> None:
    # Declaring a gzip payload as XML on the (unsigned) EncryptedData cannot make it parse as XML.
    msg = make_message()
    _, soap, _, _ = split(msg)
    swapped = re.sub(rb'(<xenc:EncryptedData[^>]*MimeType=")[^"]*"', rb'\1application/xml"', soap, count=1)
    assert swapped != soap
    exc = rejected(msg, repack(msg, soap=swapped))
    assert exc.ebms is E.FAILED_AUTHENTICATION


def test_edit_soap_helper_keeps_messages_valid() -> None:
    msg = make_message()
    assert receive(dict(msg.headers), edit_soap(msg, lambda r: None)).message_id == msg.message_id

"""A hostile-client campaign against the AS4 receiver, beyond the forgery and P-Mode suites: each message is
malformed in one new way and must get the exact ebMS code of the intended check, never an internal error.

Most messages are re-signed by the trusted sender (``resign``), so the signature cannot be what refuses them.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable

import pytest
from as4_support import (
    NSX,
    gz,
    make_message,
    make_raw,
    make_sbd,
    receive,
    repack,
    resign,
    split,
)
from lxml import etree

import gateway.as4.inbound_addressing as inbound_addressing
from gateway.as4 import EbmsError, OutgoingMessage
from gateway.as4.constants import MAX_SOAP_BYTES
from gateway.errors import InboundInternalError, InboundMessageRejected

E = EbmsError
EB = "{" + NSX["eb"] + "}"


def verdict(
    body: bytes, msg: OutgoingMessage, headers: dict[str, str] | None = None
) -> InboundMessageRejected:
    with pytest.raises(InboundMessageRejected) as info:
        receive(headers if headers is not None else dict(msg.headers), body)
    assert not info.value.internal, info.value.detail
    return info.value


def expect(body: bytes, msg: OutgoingMessage, code: EbmsError, why: str, **kw: dict[str, str]) -> None:
    exc = verdict(body, msg, **kw)
    assert (exc.ebms, why in exc.detail) == (code, True), (exc.ebms, exc.detail)


def _um(root: etree._Element) -> etree._Element:
    return root.find(".//eb:UserMessage", NSX)


def _add_part(msg: OutgoingMessage, body: bytes, part: bytes, head: bytes) -> bytes:
    """``body`` (a re-packed body of ``msg``) with one more MIME part before the close delimiter."""
    boundary = split(msg)[0].encode()
    close = b"--" + boundary + b"--"
    return body.replace(close, b"--" + boundary + b"\r\n" + head + b"\r\n\r\n" + part + b"\r\n" + close)


# --- every part signed before encryption is judged (CEF 1.14: sign, then encrypt) -> EBMS:0101 ----------


def test_signed_reference_to_a_detached_plaintext_copy() -> None:
    # A trusted sender signs a plaintext copy of the payload (same digest) and leaves the encrypted part
    # unsigned: the encrypted part is not covered by the signature, which is judged before encryption.
    payload = gz(make_sbd())
    msg = make_raw(payload)

    def point_at_copy(root: etree._Element) -> None:
        refs = root.iterfind(".//ds:SignedInfo/ds:Reference", NSX)
        next(r for r in refs if r.get("URI", "").startswith("cid:")).set("URI", "cid:copy@evil")

    head = b"Content-Type: application/gzip\r\nContent-ID: <copy@evil>"
    body = _add_part(msg, resign(msg, point_at_copy), payload, head)
    expect(body, msg, E.FAILED_AUTHENTICATION, "an attachment is not covered by the signature")


def test_extra_unsigned_encrypted_looking_part() -> None:
    msg = make_message()
    head = b"Content-Type: application/octet-stream\r\nContent-ID: <extra@evil>"
    body = _add_part(msg, msg.body, b"\x00" * 64, head)
    expect(body, msg, E.FAILED_AUTHENTICATION, "an attachment is not covered by the signature")


# --- header structure (ebMS3 Core §5, peppol-as4.md §13 #1) ------------------------------------------------


def _two_user_messages(root: etree._Element) -> None:
    um = _um(root)
    um.addnext(copy.deepcopy(um))


def _signal_beside(root: etree._Element) -> None:
    etree.SubElement(_um(root).getparent(), EB + "SignalMessage")


def _clear(path: str) -> Callable[[etree._Element], None]:
    def edit(root: etree._Element) -> None:
        _um(root).find(path, NSX).text = "  "

    return edit


def _remove(path: str) -> Callable[[etree._Element], None]:
    def edit(root: etree._Element) -> None:
        el = _um(root).find(path, NSX)
        el.getparent().remove(el)

    return edit


def _duplicate(path: str) -> Callable[[etree._Element], None]:
    def edit(root: etree._Element) -> None:
        el = _um(root).find(path, NSX)
        el.addnext(copy.deepcopy(el))

    return edit


def _set_attr(path: str, name: str, value: str) -> Callable[[etree._Element], None]:
    def edit(root: etree._Element) -> None:
        _um(root).find(path, NSX).set(name, value)

    return edit


def _add_ref_to(root: etree._Element) -> None:
    etree.SubElement(_um(root).find("eb:MessageInfo", NSX), EB + "RefToMessageId").text = "other@x"


def _set_compression(value: str) -> Callable[[etree._Element], None]:
    def edit(root: etree._Element) -> None:
        _um(root).find(f"{PART_PROPS}/eb:Property[@name='CompressionType']", NSX).text = value

    return edit


def _messaging_property(value: str) -> Callable[[etree._Element], None]:
    def edit(root: etree._Element) -> None:
        _um(root).find("eb:MessageProperties/eb:Property[@name='originalSender']", NSX).text = value

    return edit


PART_PROPS = "eb:PayloadInfo/eb:PartInfo/eb:PartProperties"


@pytest.mark.parametrize(
    ("edit", "code", "why"),
    [
        (_two_user_messages, E.VALUE_INCONSISTENT, "need one eb:UserMessage"),
        (_signal_beside, E.INVALID_HEADER, "SignalMessage"),
        (_clear("eb:MessageInfo/eb:MessageId"), E.INVALID_HEADER, "empty MessageId"),
        (_remove("eb:MessageInfo/eb:Timestamp"), E.INVALID_HEADER, "eb:Timestamp"),
        (_duplicate("eb:MessageInfo/eb:MessageId"), E.INVALID_HEADER, "eb:MessageId"),
        (_duplicate("eb:CollaborationInfo/eb:Service"), E.INVALID_HEADER, "eb:Service"),
        (_duplicate("eb:CollaborationInfo/eb:AgreementRef"), E.PROCESSING_MODE_MISMATCH, "AgreementRef"),
        (_duplicate("eb:PartyInfo/eb:From/eb:Role"), E.PROCESSING_MODE_MISMATCH, "From/Role"),
        (_duplicate("eb:PartyInfo/eb:From/eb:PartyId"), E.OTHER, "exactly one PartyId"),
        (_duplicate("eb:MessageProperties/eb:Property"), E.OTHER, "repeated"),
        (_remove("eb:MessageProperties"), E.OTHER, "originalSender missing"),
        (_duplicate("eb:PayloadInfo"), E.INVALID_HEADER, "more than one PayloadInfo"),
        (_remove("eb:PayloadInfo"), E.OTHER, "exactly one payload"),
        (_duplicate("eb:PayloadInfo/eb:PartInfo"), E.OTHER, "exactly one payload"),
        (_remove(PART_PROPS), E.INVALID_HEADER, "MimeType missing"),
        (_remove(f"{PART_PROPS}/eb:Property[@name='MimeType']"), E.INVALID_HEADER, "MimeType missing"),
        (
            _set_attr("eb:PayloadInfo/eb:PartInfo", "href", "cid:other@gateway"),
            E.VALUE_INCONSISTENT,
            "href names no",
        ),
        (
            _set_attr("eb:PayloadInfo/eb:PartInfo", "href", "http://evil/x"),
            E.VALUE_INCONSISTENT,
            "not a cid:",
        ),
        (_add_ref_to, E.INVALID_HEADER, "RefToMessageId"),
        (
            _set_attr(f"{PART_PROPS}/eb:Property[@name='CompressionType']", "name", "X"),
            E.OTHER,
            "SBD rejected",
        ),
        (_set_compression("application/x-bzip2"), E.DECOMPRESSION_FAILURE, "not supported"),
        (_messaging_property("evil"), E.OTHER, "originalSender"),
    ],
)
def test_header_structure(edit: Callable[[etree._Element], None], code: EbmsError, why: str) -> None:
    msg = make_message()
    expect(resign(msg, edit), msg, code, why)


# --- security header markup (not re-signed: each edit is refused before or by the signature check) --------


def _set(path: str, **attrs: str) -> Callable[[etree._Element], None]:
    def edit(root: etree._Element) -> None:
        for name, value in attrs.items():
            root.find(path, NSX).set(name, value)

    return edit


def _text(path: str, value: str) -> Callable[[etree._Element], None]:
    def edit(root: etree._Element) -> None:
        root.find(path, NSX).text = value

    return edit


def _drop(path: str) -> Callable[[etree._Element], None]:
    def edit(root: etree._Element) -> None:
        el = root.find(path, NSX)
        el.getparent().remove(el)

    return edit


def _dup(path: str) -> Callable[[etree._Element], None]:
    def edit(root: etree._Element) -> None:
        el = root.find(path, NSX)
        el.addnext(copy.deepcopy(el))

    return edit


SIG = ".//ds:Signature"
BST = ".//wsse:BinarySecurityToken[last()]"
EK = ".//xenc:EncryptedKey"
XMLDSIG_MORE = "http://www.w3.org/2001/04/xmldsig-more#"


@pytest.mark.parametrize(
    ("edit", "code", "why"),
    [
        (_set(BST, EncodingType="urn:hex"), E.POLICY_NONCOMPLIANCE, "EncodingType"),
        (_text(BST, "not base64 at all!"), E.FAILED_AUTHENTICATION, "BST certificate unreadable"),
        (_text(BST, "AAAA"), E.FAILED_AUTHENTICATION, "BST certificate unreadable"),
        (
            _set(f"{SIG}/ds:SignedInfo/ds:Reference/ds:DigestMethod", Algorithm=XMLDSIG_MORE + "sha512"),
            E.FAILED_AUTHENTICATION,
            "digest method",
        ),
        (
            _set(f"{SIG}/ds:SignedInfo/ds:SignatureMethod", Algorithm=XMLDSIG_MORE + "rsa-sha512"),
            E.FAILED_AUTHENTICATION,
            "signature method",
        ),
        (_text(f"{SIG}/ds:SignatureValue", "%%%"), E.FAILED_AUTHENTICATION, ""),
        (_dup(f"{SIG}/ds:SignatureValue"), E.FAILED_AUTHENTICATION, ""),
        (_text(f"{SIG}/ds:SignedInfo/ds:Reference/ds:DigestValue", "!!"), E.FAILED_AUTHENTICATION, ""),
        (_dup(f"{SIG}/ds:SignedInfo/ds:Reference/ds:DigestValue"), E.FAILED_AUTHENTICATION, ""),
        (_drop(f"{SIG}/ds:SignedInfo/ds:SignatureMethod"), E.FAILED_AUTHENTICATION, ""),
        (
            _set(f"{SIG}/ds:KeyInfo/wsse:SecurityTokenReference/wsse:Reference", URI="#nowhere"),
            E.POLICY_NONCOMPLIANCE,
            "does not resolve to a BST",
        ),
        (
            _set(f"{SIG}/ds:SignedInfo/ds:Reference", URI="#xpointer(/)"),
            E.FAILED_AUTHENTICATION,
            "not allowed",
        ),
        (_set(f"{SIG}/ds:SignedInfo/ds:Reference", URI=""), E.FAILED_AUTHENTICATION, "Reference without URI"),
        (_text(f"{EK}/xenc:CipherData/xenc:CipherValue", ""), E.FAILED_DECRYPTION, "key unwrap failed"),
        (_drop(f"{EK}/xenc:CipherData"), E.FAILED_DECRYPTION, "without CipherValue"),
        (
            _set(f"{EK}/xenc:ReferenceList/xenc:DataReference", URI="#nowhere"),
            E.FAILED_DECRYPTION,
            "DataReference",
        ),
        (_drop(f"{EK}/xenc:ReferenceList"), E.FAILED_DECRYPTION, "no DataReference"),
        (_dup(EK), E.FAILED_AUTHENTICATION, "duplicate id"),
        (
            _set(".//xenc:EncryptedData", Type="http://www.w3.org/2001/04/xmlenc#Content"),
            E.FAILED_DECRYPTION,
            "Attachment-Content-Only",
        ),
        (
            _set(".//xenc:EncryptedData/xenc:CipherData/xenc:CipherReference", URI="cid:nowhere"),
            E.FAILED_DECRYPTION,
            "",
        ),
        (
            _set(".//xenc:EncryptedData/xenc:CipherData/xenc:CipherReference", URI="http://evil/x"),
            E.FAILED_DECRYPTION,
            "",
        ),
    ],
)
def test_security_markup(edit: Callable[[etree._Element], None], code: EbmsError, why: str) -> None:
    from as4_support import edit_soap

    msg = make_message()
    expect(edit_soap(msg, edit), msg, code, why)


# --- MIME and SOAP packaging (peppol-as4.md §2, §13 #1) -> EBMS:0009 / 0003 / 0102 ------------------------


def _soap(msg: OutgoingMessage) -> bytes:
    return split(msg)[1]


def test_soap_part_above_the_cap() -> None:
    msg = make_message()
    big = _soap(msg).replace(b"<S12:Body", b"<!--" + b"x" * (MAX_SOAP_BYTES + 1) + b"--><S12:Body", 1)
    expect(repack(msg, soap=big), msg, E.INVALID_HEADER, "")


def test_empty_soap_part() -> None:
    msg = make_message()
    expect(repack(msg, soap=b""), msg, E.INVALID_HEADER, "")


def test_empty_attachment() -> None:
    msg = make_message()
    expect(repack(msg, attachment=b""), msg, E.FAILED_DECRYPTION, "attachment decryption failed")


def test_nested_multipart_as_root_part() -> None:
    msg = make_message()
    inner = b"--inner\r\nContent-Type: application/soap+xml\r\n\r\n" + _soap(msg) + b"\r\n--inner--"
    body = msg.body.replace(
        b"Content-Type: application/soap+xml;charset=UTF-8",
        b'Content-Type: multipart/related; boundary="inner"',
        1,
    )
    body = body.replace(_soap(msg), inner, 1)
    expect(body, msg, E.INVALID_HEADER, "not SOAP 1.2")


def test_start_parameter_names_no_part() -> None:
    msg = make_message()
    headers = {"Content-Type": msg.headers["Content-Type"] + '; start="<missing@x>"'}
    expect(msg.body, msg, E.INVALID_HEADER, "start part", headers=headers)


def test_attachment_without_content_id() -> None:
    msg = make_message()
    body = msg.body.replace(b"Content-ID: <", b"X-Was-Content-ID: <", 1)
    expect(body, msg, E.VALUE_INCONSISTENT, "Content-ID")


def test_duplicate_content_id() -> None:
    msg = make_message()
    cid = split(msg)[3].encode()
    head = b"Content-Type: application/octet-stream\r\nContent-ID: <" + cid + b">"
    expect(_add_part(msg, msg.body, b"x", head), msg, E.VALUE_INCONSISTENT, "duplicate Content-ID")


def _body_first(soap: bytes) -> bytes:
    root = etree.fromstring(soap)
    root.insert(0, root.find("S12:Body", NSX))
    return etree.tostring(root)


@pytest.mark.parametrize(
    ("edit", "why"),
    [
        (_body_first, "Header then Body"),
        (lambda s: s.replace(b"</S12:Envelope>", b"<extra/></S12:Envelope>", 1), "Header then Body"),
        (
            lambda s: s.replace(
                b"http://www.w3.org/2003/05/soap-envelope", b"http://schemas.xmlsoap.org/soap/envelope/"
            ),
            "not a SOAP 1.2 Envelope",
        ),
        (
            lambda s: s.replace(b'S12:mustUnderstand="true"', b'S12:mustUnderstand="maybe"', 1),
            "not a boolean",
        ),
        (lambda s: s[: len(s) // 2], ""),
        (lambda s: s.replace(b"?>", b"?><!-- x -->" + b"<a>" * 300 + b"</a>" * 300, 1), ""),
    ],
    ids=[
        "body-first",
        "element-after-body",
        "soap11-namespace",
        "must-understand-maybe",
        "truncated",
        "deep",
    ],
)
def test_envelope_packaging(edit: Callable[[bytes], bytes], why: str) -> None:
    msg = make_message()
    soap = _soap(msg)
    changed = edit(soap)
    assert changed != soap
    expect(repack(msg, soap=changed), msg, E.INVALID_HEADER, why)


def test_utf16_envelope_is_refused_as_an_envelope_that_cannot_be_read() -> None:
    # Its digests (over the exc-C14N form, UTF-8) would still verify, but the byte scans before the parse
    # read an ASCII-compatible encoding only (``xmlcore.encoding``): refused, as any unreadable envelope.
    msg = make_message()
    root = etree.fromstring(_soap(msg))
    utf16 = etree.tostring(root, xml_declaration=True, encoding="UTF-16")
    expect(repack(msg, soap=utf16), msg, E.INVALID_HEADER, "SOAP envelope is encoded in UTF-16")
    latin = etree.tostring(root, xml_declaration=True, encoding="ISO-8859-1")  # ASCII-compatible: received
    assert receive(dict(msg.headers), repack(msg, soap=latin)).message_id == msg.message_id


def test_base64_attachment_garbage() -> None:
    msg = make_message()
    body = msg.body.replace(
        b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary",
        b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64",
        1,
    )
    assert body != msg.body
    exc = verdict(body, msg)
    assert exc.ebms in (E.INVALID_HEADER, E.FAILED_DECRYPTION), exc.detail


# --- an unexpected exception is an internal error, logged, generic toward the peer -------------------------


def test_unexpected_exception_is_a_logged_internal_error(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise AttributeError("a bug of ours")

    monkeypatch.setattr(inbound_addressing, "read_sbd", broken)
    msg = make_message()
    with (
        caplog.at_level(logging.ERROR, logger="gateway.as4.receiver"),
        pytest.raises(InboundInternalError) as info,
    ):
        receive(dict(msg.headers), msg.body)
    exc = info.value
    assert exc.internal
    assert isinstance(exc, InboundMessageRejected)  # callers still answer a signed ebMS Error
    assert exc.ebms is E.OTHER
    assert exc.error_detail == ""  # nothing about the bug goes to the peer
    assert exc.ref_to_message_id == msg.message_id
    assert isinstance(exc.__cause__, AttributeError)
    [record] = [r for r in caplog.records if r.name == "gateway.as4.receiver"]
    assert record.levelno == logging.ERROR
    assert record.exc_info is not None
    assert record.exc_info[0] is AttributeError


def test_protocol_verdicts_are_not_internal() -> None:
    msg = make_message()
    assert not verdict(msg.body.replace(b"POP000002<", b"POP000003<", 1), msg).internal


@pytest.mark.parametrize(
    ("old", "new", "code", "why"),
    [
        (
            b"Content-Transfer-Encoding: binary",
            b"Content-Transfer-Encoding: x-evil",
            E.INVALID_HEADER,
            "x-evil",
        ),
        (
            b"Content-Transfer-Encoding: binary",
            b"Content-Transfer-Encoding: bin\x00ary",
            E.INVALID_HEADER,
            "MIME",
        ),
        (
            b"Content-Transfer-Encoding: binary",
            b"Content-Transfer-Encoding: base64",
            E.INVALID_HEADER,
            "base64",
        ),
        (b"Content-ID: <id-1@gateway>", b"Content-ID: <>", E.VALUE_INCONSISTENT, "Content-ID"),
        (
            b"Content-ID: <id-1@gateway>",
            b"Content-ID: <%id-1@gateway>",
            E.FAILED_AUTHENTICATION,
            "names no attachment",
        ),
    ],
    ids=["unknown-encoding", "nul-in-header", "base64-soap-part", "empty-content-id", "renamed-content-id"],
)
def test_part_headers(old: bytes, new: bytes, code: EbmsError, why: str) -> None:
    msg = make_message()
    assert old in msg.body
    expect(msg.body.replace(old, new, 1), msg, code, why)


@pytest.mark.parametrize(
    ("content_type", "why"),
    [
        ('multipart/related; boundary=""', "boundary"),
        ('multipart/related; boundary="b"; type=""', "multipart type"),
        ("application/json", "not multipart/related"),
        ("", "not multipart/related"),
    ],
)
def test_request_content_types(content_type: str, why: str) -> None:
    msg = make_message()
    exc = verdict(msg.body, msg, headers={"Content-Type": content_type})
    assert (exc.ebms, why in exc.detail) == (E.INVALID_HEADER, True), exc.detail


def test_a_content_type_parameter_named_twice() -> None:
    # SOAP 1.1 to a reader taking the first ``type``, SOAP 1.2 to one taking the last: refused, not guessed.
    msg = make_message()
    content_type = msg.headers["Content-Type"].replace("type=", 'type="text/xml"; type=', 1)
    exc = verdict(msg.body, msg, headers={"Content-Type": content_type})
    assert (exc.ebms, "more than once" in exc.detail) == (E.INVALID_HEADER, True), exc.detail

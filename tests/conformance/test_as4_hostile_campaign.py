"""A hostile-sender campaign at the receiver (issue 7 "Checked by"): a trusted sender re-signs markup that
breaks the Peppol profile in ways the forgery suite does not try, or packs hostile XML into a validly
signed and encrypted payload. Each must get the exact ebMS code, never an internal error, and a few
tolerated variations (peppol-as4.md §3 "be lenient on input") must still be accepted."""

from __future__ import annotations

import copy
from collections.abc import Callable

import pytest
from as4_support import NSX, gz, make_message, make_raw, make_sbd, receive, resign
from lxml import etree

from gateway.as4 import EbmsError
from gateway.errors import InboundMessageRejected

E = EbmsError
EB = f"{{{NSX['eb']}}}"
Edit = Callable[[etree._Element], None]


def _um(root: etree._Element) -> etree._Element:
    return root.find(".//eb:UserMessage", NSX)


def _one(path: str) -> Callable[[etree._Element], etree._Element]:
    return lambda root: _um(root).find(path, NSX)


def _remove(path: str) -> Edit:
    def edit(root: etree._Element) -> None:
        el = _one(path)(root)
        el.getparent().remove(el)

    return edit


def _duplicate(path: str, text: str | None = None) -> Edit:
    def edit(root: etree._Element) -> None:
        el = _one(path)(root)
        twin = copy.deepcopy(el)
        if text is not None:
            twin.text = text
        el.addnext(twin)

    return edit


def _set_text(path: str, text: str) -> Edit:
    return lambda root: setattr(_one(path)(root), "text", text)


def _set_attr(path: str, name: str, value: str) -> Edit:
    return lambda root: _one(path)(root).set(name, value)


def _property(name: str, edit: Callable[[etree._Element], None]) -> Edit:
    def apply(root: etree._Element) -> None:
        for prop in _um(root).findall(".//eb:MessageProperties/eb:Property", NSX):
            if prop.get("name") == name:
                edit(prop)

    return apply


def _drop_type(prop: etree._Element) -> None:
    del prop.attrib["type"]


_TS = "eb:MessageInfo/eb:Timestamp"
_S12 = f"{{{NSX['S12']}}}"

REFUSED: list[tuple[str, Edit, EbmsError, str]] = [
    ("no-action", _remove(".//eb:Action"), E.INVALID_HEADER, "eb:Action"),
    ("two-services", _duplicate(".//eb:Service"), E.INVALID_HEADER, "eb:Service"),
    ("two-conversation-ids", _duplicate(".//eb:ConversationId"), E.INVALID_HEADER, "eb:ConversationId"),
    ("two-to-party-ids", _duplicate(".//eb:To/eb:PartyId", "POP000009"), E.OTHER, "exactly one PartyId"),
    ("two-from", _duplicate(".//eb:From"), E.INVALID_HEADER, "eb:From"),
    ("two-message-ids", _duplicate(".//eb:MessageId"), E.INVALID_HEADER, "eb:MessageId"),
    ("two-timestamps", _duplicate(".//" + _TS), E.INVALID_HEADER, "eb:Timestamp"),
    ("timestamp-year-0", _set_text(".//" + _TS, "0000-01-01T00:00:00Z"), E.INVALID_HEADER, "Timestamp"),
    ("timestamp-year-99999", _set_text(".//" + _TS, "99999-01-01T00:00:00Z"), E.INVALID_HEADER, "Timestamp"),
    ("timestamp-24h-last-day", _set_text(".//" + _TS, "9999-12-31T24:00:00Z"), E.INVALID_HEADER, "Timestamp"),
    (
        "timestamp-arabic-digits",
        _set_text(".//" + _TS, "٢٠٢٦-06-01T12:00:00Z"),
        E.INVALID_HEADER,
        "Timestamp",
    ),
    ("timestamp-far-offset", _set_text(".//" + _TS, "9999-12-31T23:59:59-14:00"), E.INVALID_HEADER, "future"),
    (
        "role-case",
        _set_text(".//eb:From/eb:Role", NSX["eb"].upper() + "INITIATOR"),
        E.PROCESSING_MODE_MISMATCH,
        "Role",
    ),
    (
        "property-name-case",
        _property("finalRecipient", lambda p: p.set("name", "FinalRecipient")),
        E.OTHER,
        "finalRecipient missing",
    ),
    ("final-recipient-no-type", _property("finalRecipient", _drop_type), E.OTHER, "finalRecipient type"),
    ("original-sender-no-type", _property("originalSender", _drop_type), E.OTHER, "originalSender type"),
    ("part-info-twice", _duplicate(".//eb:PartInfo"), E.OTHER, "exactly one payload"),
    ("part-info-href-body", _set_attr(".//eb:PartInfo", "href", "#body"), E.VALUE_INCONSISTENT, "cid:"),
    (
        "part-info-href-http",
        _set_attr(".//eb:PartInfo", "href", "http://evil/x"),
        E.VALUE_INCONSISTENT,
        "cid:",
    ),
    (
        "security-for-another-role",
        lambda r: r.find(".//wsse:Security", NSX).set(f"{_S12}role", "http://other"),
        E.FAILED_AUTHENTICATION,
        "role",
    ),
    (
        "two-security-headers",
        lambda r: r.find(".//wsse:Security", NSX).addnext(etree.Element(f"{{{NSX['wsse']}}}Security")),
        E.FAILED_AUTHENTICATION,
        "wsse:Security",
    ),
    (
        "second-soap-header",
        lambda r: r.find("S12:Header", NSX).addnext(etree.Element(f"{_S12}Header")),
        E.INVALID_HEADER,
        "Header then Body",
    ),
    (
        "trailer-after-body",
        lambda r: r.append(etree.Element("{urn:x}Trailer")),
        E.INVALID_HEADER,
        "Header then Body",
    ),
]


@pytest.mark.parametrize(("name", "edit", "code", "why"), REFUSED, ids=[case[0] for case in REFUSED])
def test_resigned_profile_violations_get_their_code(name: str, edit: Edit, code: EbmsError, why: str) -> None:
    msg = make_message()
    with pytest.raises(InboundMessageRejected) as info:
        receive(dict(msg.headers), resign(msg, edit))
    assert not info.value.internal, info.value.detail
    assert why in info.value.detail, info.value.detail
    assert info.value.ebms is code


TOLERATED: list[tuple[str, Edit]] = [
    ("mpc-padded", lambda r: _um(r).set("mpc", f"  {NSX['eb']}defaultMPC\n")),
    (
        "agreement-ref-padded",
        _set_text(".//eb:AgreementRef", "\n urn:fdc:peppol.eu:2017:agreements:tia:ap_provider "),
    ),
    ("timestamp-long-fraction", _set_text(".//" + _TS, "2026-06-01T12:00:00." + "9" * 10000 + "Z")),
    (
        "foreign-element-in-messaging",
        lambda r: r.find(".//eb:Messaging", NSX).append(etree.Element("{urn:x}Note")),
    ),
]


@pytest.mark.parametrize(("name", "edit"), TOLERATED, ids=[case[0] for case in TOLERATED])
def test_tolerated_variations_are_accepted(name: str, edit: Edit) -> None:
    msg = make_message()
    assert receive(dict(msg.headers), resign(msg, edit)).message_id == msg.message_id


def _sbd_with(marker: bytes, replacement: bytes) -> bytes:
    sbd = make_sbd()
    assert marker in sbd
    return sbd.replace(marker, replacement, 1)


_END = b"</StandardBusinessDocument>"
PAYLOADS: list[tuple[str, Callable[[], bytes], EbmsError, str]] = [
    (
        "deep-nesting",
        lambda: gz(_sbd_with(_END, b"<x>" * 100_000 + b"</x>" * 100_000 + _END)),
        E.OTHER,
        "depth",
    ),
    (
        "quadratic-blowup",
        lambda: gz(
            b'<?xml version="1.0"?><!DOCTYPE s [<!ENTITY a "'
            + b"x" * 50_000
            + b'">]>'
            + make_sbd().split(b"?>", 1)[1].replace(_END, b"&a;" * 1000 + _END)
        ),
        E.OTHER,
        "SBD",
    ),
    (
        "external-parameter-entity",
        lambda: gz(
            b'<!DOCTYPE s [<!ENTITY % p SYSTEM "http://127.0.0.1:1/x"> %p;]>' + make_sbd().split(b"?>", 1)[1]
        ),
        E.OTHER,
        "SBD",
    ),
    (
        "xinclude",
        lambda: gz(
            _sbd_with(
                _END, b'<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="/etc/passwd"/>' + _END
            )
        ),
        E.OTHER,
        "exactly one business document",
    ),
    ("lone-surrogate-reference", lambda: gz(_sbd_with(_END, b"&#xD800;" + _END)), E.OTHER, "well-formed"),
    ("gzip-trailing-junk", lambda: gz(make_sbd()) + b"JUNKJUNK", E.DECOMPRESSION_FAILURE, "gzip"),
    ("gzip-truncated", lambda: gz(make_sbd())[:-10], E.DECOMPRESSION_FAILURE, "truncated"),
    ("gzip-of-gzip", lambda: gz(gz(make_sbd())), E.OTHER, "SBD"),
    (
        "two-sbdh-receivers",
        lambda: gz(
            _sbd_with(
                b"</Receiver>",
                b"</Receiver><Receiver>"
                b'<Identifier Authority="iso6523-actorid-upis">0088:1</Identifier></Receiver>',
            )
        ),
        E.OTHER,
        "Receiver",
    ),
    (
        "document-type-not-root",
        lambda: gz(_sbd_with(b"::Invoice##", b"::CreditNote##")),
        E.OTHER,
        "Action differs",
    ),
]


@pytest.mark.parametrize(("name", "payload", "code", "why"), PAYLOADS, ids=[case[0] for case in PAYLOADS])
def test_hostile_payloads_in_a_valid_envelope_get_their_code(
    name: str, payload: Callable[[], bytes], code: EbmsError, why: str
) -> None:
    msg = make_raw(payload())
    with pytest.raises(InboundMessageRejected) as info:
        receive(dict(msg.headers), msg.body)
    assert not info.value.internal, info.value.detail
    assert why in info.value.detail, info.value.detail
    assert info.value.ebms is code

"""The receiver enforces the Peppol P-Mode (peppol-as4.md §3, §13): each case is a message a trusted sender
really signed (so only the P-Mode check can refuse it), answered with the exact ebMS code of that check."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import FrozenInstanceError
from datetime import UTC, datetime, timedelta

import pytest
from as4_support import NOW, NSX, dev_pki, edit_soap, make_message, receive, repack, resign, split
from lxml import etree

from gateway.as4 import EbmsError, OutgoingMessage
from gateway.as4.pmode import PEPPOL_PMODE, parse_timestamp
from gateway.crypto import issue_ap
from gateway.errors import InboundMessageRejected

E = EbmsError
EB = "{" + NSX["eb"] + "}"
S12 = "{" + NSX["S12"] + "}"


def refused(
    body: bytes, msg: OutgoingMessage, code: EbmsError, why: str, *, unpacked: bool = True, **kw: object
) -> None:
    """Refused with ``code`` by the check whose detail contains ``why``; never an internal error.
    ``unpacked``: eb:Messaging was read, so the error refers to the MessageId."""
    with pytest.raises(InboundMessageRejected) as info:
        receive(dict(msg.headers), body, **kw)
    exc = info.value
    assert not exc.internal, exc.detail
    assert (exc.ebms, why in exc.detail) == (code, True), exc.detail
    assert exc.ref_to_message_id == (msg.message_id if unpacked else None)


def _um(root: etree._Element) -> etree._Element:
    return root.find(".//eb:UserMessage", NSX)


def _set(path: str, text: str | None = None, **attrs: str) -> Callable[[etree._Element], None]:
    def edit(root: etree._Element) -> None:
        el = _um(root).find(path, NSX)
        if text is not None:
            el.text = text
        for name, value in attrs.items():
            el.set(name, value)

    return edit


def _remove(path: str) -> Callable[[etree._Element], None]:
    def edit(root: etree._Element) -> None:
        el = _um(root).find(path, NSX)
        el.getparent().remove(el)

    return edit


def test_control_resigned_message_is_accepted() -> None:
    msg = make_message()
    assert receive(dict(msg.headers), resign(msg, lambda r: None)).message_id == msg.message_id


def test_pmode_is_one_frozen_object() -> None:
    with pytest.raises(FrozenInstanceError):
        PEPPOL_PMODE.mpc = "x"  # type: ignore[misc]
    assert PEPPOL_PMODE.security.min_rsa_key_bits == 2048


# --- AgreementRef (peppol-as4.md §3: the TIA agreement, no @type, no @pmode) -> EBMS:0010 ---------------


@pytest.mark.parametrize(
    ("edit", "why"),
    [
        (_remove("eb:CollaborationInfo/eb:AgreementRef"), "AgreementRef is not"),
        (_set("eb:CollaborationInfo/eb:AgreementRef", "urn:other:agreement"), "AgreementRef is not"),
        (_set("eb:CollaborationInfo/eb:AgreementRef", pmode="pm-1"), "@type or @pmode"),
        (_set("eb:CollaborationInfo/eb:AgreementRef", type="urn:t"), "@type or @pmode"),
    ],
    ids=["missing", "wrong", "pmode-attribute", "type-attribute"],
)
def test_agreement_ref(edit: Callable[[etree._Element], None], why: str) -> None:
    msg = make_message()
    refused(resign(msg, edit), msg, E.PROCESSING_MODE_MISMATCH, why)


# --- Roles, MPC, Service type -> EBMS:0010 --------------------------------------------------------------


@pytest.mark.parametrize(
    ("edit", "why"),
    [
        (_set("eb:PartyInfo/eb:From/eb:Role", NSX["eb"] + "responder"), "From/Role"),
        (_set("eb:PartyInfo/eb:To/eb:Role", NSX["eb"] + "initiator"), "To/Role"),
        (_remove("eb:PartyInfo/eb:To/eb:Role"), "To/Role"),
        (_set(".", mpc="http://example.com/other-mpc"), "default MPC"),
        (
            lambda r: _um(r).find("eb:CollaborationInfo/eb:Service", NSX).attrib.pop("type"),
            "Service/@type",
        ),
        (_set("eb:CollaborationInfo/eb:Service", type="other-procid"), "Service/@type"),
    ],
    ids=["from-role", "to-role", "no-to-role", "mpc", "service-without-type", "service-other-type"],
)
def test_pmode_values(edit: Callable[[etree._Element], None], why: str) -> None:
    msg = make_message()
    refused(resign(msg, edit), msg, E.PROCESSING_MODE_MISMATCH, why)


def test_explicit_default_mpc_is_accepted() -> None:
    msg = make_message()
    body = resign(msg, _set(".", mpc=PEPPOL_PMODE.mpc))
    assert receive(dict(msg.headers), body).message_id == msg.message_id


# --- Timestamp: an xsd:dateTime, not in the future (clock injected) -> EBMS:0009 -------------------------


@pytest.mark.parametrize(
    "value",
    [
        "yesterday",
        "2026-06-01 12:00:00Z",
        "2026-06-01T12:00Z",
        "2026-13-01T12:00:00Z",
        "2026-06-01T23:59:60Z",
        "2026-06-01T12:00:00+15:00",
        "10000-01-01T00:00:00Z",  # a valid xsd:dateTime beyond what we represent: refused, never a crash
        "-0001-01-01T00:00:00Z",
    ],
)
def test_timestamp_not_an_xsd_datetime(value: str) -> None:
    msg = make_message()
    refused(resign(msg, _set("eb:MessageInfo/eb:Timestamp", value)), msg, E.INVALID_HEADER, "eb:Timestamp")


def test_timestamp_far_in_the_future() -> None:
    msg = make_message()
    last = "9999-12-31T23:59:59-14:00"
    refused(resign(msg, _set("eb:MessageInfo/eb:Timestamp", last)), msg, E.INVALID_HEADER, "future")
    future = (NOW + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    refused(resign(msg, _set("eb:MessageInfo/eb:Timestamp", future)), msg, E.INVALID_HEADER, "future")
    # The same message is fine for a receiver whose clock is an hour later (the clock is injected).
    later = resign(msg, _set("eb:MessageInfo/eb:Timestamp", future))
    assert receive(dict(msg.headers), later, at=NOW + timedelta(hours=1)).message_id == msg.message_id


@pytest.mark.parametrize(
    "value",
    [
        "2026-06-01T13:04:59.1234567+01:00",  # a .NET sender: offset and 7 fraction digits (peppol-as4.md §3)
        "2026-06-01T12:05:00",  # no offset: UTC; within the allowed skew
        "2026-06-01T11:00:00.5Z",
        "2026-05-31T24:00:00+14:00",
    ],
)
def test_lenient_timestamps_are_accepted(value: str) -> None:
    msg = make_message()
    body = resign(msg, _set("eb:MessageInfo/eb:Timestamp", value))
    assert receive(dict(msg.headers), body, at=NOW).timestamp == value


def test_parse_timestamp_values() -> None:
    assert parse_timestamp("2026-06-01T13:00:00.1234567+01:00") == datetime(2026, 6, 1, 12, 0, 0, 123456, UTC)
    assert parse_timestamp("2026-06-01T24:00:00Z") == datetime(2026, 6, 2, tzinfo=UTC)


# --- SOAP 1.1 content types -> EBMS:0009 ----------------------------------------------------------------


def test_soap11_request_content_type() -> None:
    msg = make_message()
    _, soap, _, _ = split(msg)
    with pytest.raises(InboundMessageRejected) as info:
        receive({"Content-Type": "text/xml; charset=UTF-8"}, soap)
    assert (info.value.ebms, info.value.internal) == (E.INVALID_HEADER, False)
    assert "text/xml" in info.value.detail


def test_soap11_root_part() -> None:
    msg = make_message()
    body = msg.body.replace(b"Content-Type: application/soap+xml;charset=UTF-8", b"Content-Type: text/xml", 1)
    assert body != msg.body
    refused(body, msg, E.INVALID_HEADER, "not SOAP 1.2", unpacked=False)


def test_soap11_multipart_type_parameter() -> None:
    msg = make_message()
    headers = dict(msg.headers)
    headers["Content-Type"] = headers["Content-Type"].replace("application/soap+xml", "text/xml")
    assert headers["Content-Type"] != msg.headers["Content-Type"]
    with pytest.raises(InboundMessageRejected) as info:
        receive(headers, msg.body)
    assert (info.value.ebms, info.value.internal) == (E.INVALID_HEADER, False)
    assert "multipart type" in info.value.detail


# --- the signer's RSA key -> EBMS:0101 -------------------------------------------------------------------


def test_signer_rsa_key_under_2048_bits() -> None:
    p = dev_pki()
    weak = issue_ap(p.pki.ap_ca, "POP000001", now=NOW, serial=77, key_size=1024)
    msg = make_message(sender=weak.key_material((p.pki.ap_ca.certificate, p.pki.root.certificate)))
    refused(msg.body, msg, E.FAILED_AUTHENTICATION, "1024 bits")


# --- processing instructions anywhere in the envelope (SOAP 1.2 Part 1 §5) -> EBMS:0009 -------------------


@pytest.mark.parametrize("where", ["prolog", "header", "messaging", "after-root"])
def test_processing_instruction(where: str) -> None:
    msg = make_message()
    _, soap, _, _ = split(msg)
    pi = b"<?evil do-something?>"
    if where == "prolog":
        evil = soap.replace(b"?>", b"?>" + pi, 1)
    elif where == "after-root":
        evil = soap + pi
    else:
        tag = b"<S12:Header>" if where == "header" else b"<eb:UserMessage>"
        assert tag in soap
        evil = soap.replace(tag, tag + pi, 1)
    # Refused while unpacking, before eb:Messaging is read: no RefToMessageId.
    with pytest.raises(InboundMessageRejected) as info:
        receive(dict(msg.headers), repack(msg, soap=evil))
    assert (info.value.ebms, info.value.internal) == (E.INVALID_HEADER, False)
    assert "processing instruction" in info.value.detail


# --- wsse:Security for another role/actor -> EBMS:0101 (for us the message is unsigned) -------------------


@pytest.mark.parametrize(
    "attr",
    [
        (S12 + "role", "urn:some:intermediary"),
        (S12 + "role", "http://www.w3.org/2003/05/soap-envelope/role/next"),
        (S12 + "role", "http://www.w3.org/2003/05/soap-envelope/role/none"),
        ("{http://schemas.xmlsoap.org/soap/envelope/}actor", "urn:some:intermediary"),
    ],
)
def test_security_header_for_another_role(attr: tuple[str, str]) -> None:
    msg = make_message()
    body = edit_soap(msg, lambda r: r.find("S12:Header/wsse:Security", NSX).set(*attr))
    with pytest.raises(InboundMessageRejected) as info:
        receive(dict(msg.headers), body)
    assert (info.value.ebms, info.value.internal) == (E.FAILED_AUTHENTICATION, False)
    assert "addressed to role" in info.value.detail


def test_security_header_for_the_ultimate_receiver_is_accepted() -> None:
    msg = make_message()
    role = "http://www.w3.org/2003/05/soap-envelope/role/ultimateReceiver"
    body = edit_soap(msg, lambda r: r.find("S12:Header/wsse:Security", NSX).set(S12 + "role", role))
    assert receive(dict(msg.headers), body).message_id == msg.message_id

"""Our sender -> our receiver in process: payload byte-identical, receipts verify strictly."""

from __future__ import annotations

import dataclasses

import pytest
from as4_support import NOW, counter_ids, dev_pki, make_message, make_sbd, receive, split
from lxml import etree

from gateway.as4 import (
    EbmsError,
    SendOutcome,
    build_error,
    build_receipt,
    verify_receipt,
)
from gateway.as4.messages import OutgoingMessage
from gateway.as4.mime import parse_multipart
from gateway.crypto import common_name


def test_round_trip_payload_identical_and_values() -> None:
    sbd = make_sbd()
    msg = make_message(sbd)
    inc = receive(dict(msg.headers), msg.body)
    assert inc.sbd == sbd
    assert inc.message_id == msg.message_id == "msg-1@gateway.test"
    assert (inc.from_party, inc.to_party) == ("POP000001", "POP000002")
    assert str(inc.final_recipient) == "0088:7300010000002"
    assert inc.sbdh.country_c1 == "BE"
    assert inc.sbdh.instance_id == "inst-1"
    assert common_name(inc.signer_certificate) == "POP000001"
    assert len(inc.received_references) == 3


def test_builder_is_deterministic_with_injected_randomness() -> None:
    sbd = make_sbd()
    p = dev_pki()
    from gateway.as4 import build_user_message

    def build() -> bytes:
        return build_user_message(
            sbd,
            sender=p.sender,
            receiver_certificate=p.receiver.certificate,
            message_id="m@x",
            timestamp=NOW,
            new_id=counter_ids(),
            random_bytes=lambda n: b"\x01" * n,
        ).body

    # RSA-OAEP padding is randomised inside cryptography; everything else is fixed.
    a, b = build(), build()
    assert len(a) == len(b)
    assert a.split(b"<xenc:CipherValue>")[0] == b.split(b"<xenc:CipherValue>")[0]


def test_a_header_handed_over_builds_the_message_the_read_header_builds() -> None:
    # The delivery worker hands over the header it wrote (``built_header``) instead of having it read back.
    from gateway.as4 import build_user_message
    from gateway.errors import LocalProtocolError
    from gateway.ubl.sbdh import read_sbd_header

    sbd = make_sbd()
    p = dev_pki()

    def build(**header: object) -> OutgoingMessage:
        return build_user_message(
            sbd,
            sender=p.sender,
            receiver_certificate=p.receiver.certificate,
            message_id="m@x",
            timestamp=NOW,
            new_id=counter_ids(),
            random_bytes=lambda n: b"\x01" * n,
            **header,  # type: ignore[arg-type]
        )

    read, given = build(), build(header=read_sbd_header(sbd, max_bytes=1_000_000))
    assert given.body.split(b"<xenc:CipherValue>")[0] == read.body.split(b"<xenc:CipherValue>")[0]
    assert given.body.split(b"</xenc:CipherValue>")[1] == read.body.split(b"</xenc:CipherValue>")[1]
    assert (given.signed_references, given.instance_id) == (read.signed_references, read.instance_id)
    with pytest.raises(LocalProtocolError, match="above the limit of 100"):
        build_user_message(
            sbd,
            sender=p.sender,
            receiver_certificate=p.receiver.certificate,
            message_id="m@x",
            timestamp=NOW,
            max_sbd_bytes=100,
            header=read_sbd_header(sbd, max_bytes=1_000_000),
        )


def test_wire_layout_matches_profile() -> None:
    msg = make_message()
    parts, root = parse_multipart(msg.headers["Content-Type"], msg.body)
    assert root is parts[0]
    assert len(parts) == 2
    assert root.content_type == "application/soap+xml"
    assert parts[1].content_type == "application/octet-stream"
    assert parts[1].content_id == msg.payload_content_id
    env = etree.fromstring(root.body)
    sec = env.find("{*}Header/{*}Security")
    assert sec is not None
    order = [etree.QName(c).localname for c in sec]
    # peppol-as4.md §6.2: receiver BST, EncryptedKey, EncryptedData, sender BST, Signature.
    assert order == [
        "BinarySecurityToken",
        "EncryptedKey",
        "EncryptedData",
        "BinarySecurityToken",
        "Signature",
    ]
    assert env.find(".//{*}CanonicalizationMethod/{*}InclusiveNamespaces").get("PrefixList") == "S12"
    assert env.find(".//{*}EncryptedData").get("MimeType") == "application/gzip"
    assert env.find(".//{*}AgreementRef").text == "urn:fdc:peppol.eu:2017:agreements:tia:ap_provider"
    assert env.find(".//{*}AgreementRef").attrib == {}
    assert env.find(".//{*}Action").text.startswith("busdox-docid-qns::urn:oasis:names")


def test_receipt_verifies_and_copies_references() -> None:
    p = dev_pki()
    msg = make_message()
    inc = receive(dict(msg.headers), msg.body)
    receipt = build_receipt(inc, key=p.receiver, message_id="r-1@gw", timestamp=NOW, new_id=counter_ids("r"))
    verdict = verify_receipt({"Content-Type": "application/soap+xml"}, receipt, msg, trust=p.trust, at=NOW)
    assert verdict.outcome is SendOutcome.SUCCESS, verdict.detail
    assert verdict.ref_to_message_id == msg.message_id
    root = etree.fromstring(receipt)
    copies = root.findall(".//{*}MessagePartNRInformation/{http://www.w3.org/2000/09/xmldsig#}Reference")
    assert [c.get("URI") for c in copies] == [etree.fromstring(r).get("URI") for r in inc.received_references]


def test_receipt_from_wrong_signer_or_other_message_is_invalid() -> None:
    p = dev_pki()
    msg = make_message()
    inc = receive(dict(msg.headers), msg.body)
    forged = build_receipt(
        inc, key=p.sender, message_id="r@gw", timestamp=NOW
    )  # not the cert we encrypted to
    v = verify_receipt({}, forged, msg)
    assert v.outcome is SendOutcome.INVALID_SIGNAL_MESSAGE_RECEIVED
    assert "encrypted to" in v.detail
    other = dataclasses.replace(msg, message_id="other@gw")
    good = build_receipt(inc, key=p.receiver, message_id="r@gw", timestamp=NOW)
    assert verify_receipt({}, good, other).outcome is SendOutcome.INVALID_SIGNAL_MESSAGE_RECEIVED
    tampered = good.replace(b"<eb:Timestamp>2026", b"<eb:Timestamp>2027")
    v = verify_receipt({}, tampered, msg)
    assert v.outcome is SendOutcome.INVALID_SIGNAL_MESSAGE_RECEIVED
    assert "digest" in v.detail


def test_receipt_with_wrong_nri_is_invalid() -> None:
    p = dev_pki()
    msg = make_message()
    inc = receive(dict(msg.headers), msg.body)
    short = dataclasses.replace(inc, received_references=inc.received_references[:2])
    receipt = build_receipt(short, key=p.receiver, message_id="r@gw", timestamp=NOW)
    v = verify_receipt({}, receipt, msg)
    assert v.outcome is SendOutcome.INVALID_SIGNAL_MESSAGE_RECEIVED
    assert "NonRepudiation" in v.detail


@pytest.mark.parametrize("error", [EbmsError.FAILED_DECRYPTION, EbmsError.DELIVERY_FAILURE])
def test_error_signal_is_reported_with_retryable_flag(error: EbmsError) -> None:
    p = dev_pki()
    msg = make_message()
    sig = build_error(msg.message_id, error, key=p.receiver, message_id="e@gw", timestamp=NOW, detail="x")
    v = verify_receipt({"content-type": "application/soap+xml"}, sig, msg)
    assert v.outcome is SendOutcome.AS4_ERROR_MESSAGE_RECEIVED
    assert v.ebms is error
    assert v.is_retryable is error.retryable
    root = etree.fromstring(sig)
    assert (
        root.find(".//{*}Messaging").get("{http://www.w3.org/2003/05/soap-envelope}mustUnderstand") == "true"
    )
    assert root.find(".//{*}Error").get("refToMessageInError") == msg.message_id


def test_empty_or_garbage_response() -> None:
    msg = make_message()
    assert verify_receipt({}, b"", msg).outcome is SendOutcome.NO_SIGNAL_MESSAGE_RECEIVED
    assert verify_receipt({}, b"<html>500</html>", msg).outcome is SendOutcome.INVALID_SIGNAL_MESSAGE_RECEIVED
    assert not SendOutcome.INVALID_SIGNAL_MESSAGE_RECEIVED.is_retryable
    assert SendOutcome.TRANSPORT_ERROR.is_retryable
    assert SendOutcome.SUCCESS.is_success


def test_a_response_of_header_blocks_in_header_blocks_is_an_invalid_signal() -> None:
    # A hostile receiver's answer: each blank-line-ended block read as one more HTTP dump around the rest
    # was a recursion (RecursionError after a thousand, one copy of the body each) instead of a verdict.
    msg = make_message()
    body = b"HTTP/1.1 200 OK\nX-A: b\n\n" + b"X-A: b\n\n" * 5_000 + b"<S12:Envelope/>"
    assert verify_receipt({}, body, msg).outcome is SendOutcome.INVALID_SIGNAL_MESSAGE_RECEIVED


def test_split_helper_finds_parts() -> None:
    msg = make_message()
    _, soap, att, cid = split(msg)
    assert soap.startswith(b"<?xml")
    assert cid == msg.payload_content_id
    assert len(att) > 28


def test_received_references_are_copied_without_what_follows_them_and_a_stored_tail_is_whitespace() -> None:
    # SignedInfo's whitespace after a reference is no part of it: a copy with it (a carriage return is
    # written "&#13;") would be two XML documents, which a receipt built one parse per copy refused.
    p = dev_pki()
    msg = make_message()
    inc = receive(dict(msg.headers), msg.body)
    for raw in inc.received_references:
        assert etree.tostring(etree.fromstring(raw), with_tail=False) == raw
    tailed = dataclasses.replace(
        inc, received_references=tuple(r + b"&#13;\n  " for r in inc.received_references)
    )
    receipt = build_receipt(
        tailed, key=p.receiver, message_id="r-1@gw", timestamp=NOW, new_id=counter_ids("r")
    )
    copies = etree.fromstring(receipt).findall(
        ".//{*}MessagePartNRInformation/{http://www.w3.org/2000/09/xmldsig#}Reference"
    )
    assert [etree.tostring(c, method="c14n") for c in copies] == [
        etree.tostring(etree.fromstring(r), method="c14n") for r in inc.received_references
    ]

"""Hostile and broken UserMessages must be rejected with the exact ebMS code (peppol-as4.md §13, phase4
UserMessageFailureForgeryTest). Every case starts from a valid message of our sender, changed in one way."""

from __future__ import annotations

import base64
import copy
import gzip
from collections.abc import Callable

import pytest
from as4_support import (
    NOW,
    NSX,
    RECEIVER,
    SENDER,
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
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from lxml import etree

from gateway.as4 import CN_MISMATCH_ERROR, PEPPOL_NOT_SERVICED, EbmsError, OutgoingMessage, build_error
from gateway.errors import InboundMessageRejected, RemoteProtocolError
from gateway.model import ParticipantID

E = EbmsError


def rejected(body: bytes, msg: OutgoingMessage | None = None, **kw: object) -> InboundMessageRejected:
    """The receiver's verdict; an internal error (our bug) is never a valid answer to a forgery."""
    headers = dict(msg.headers) if msg is not None else dict(make_message().headers)
    with pytest.raises(InboundMessageRejected) as info:
        receive(headers, body, **kw)
    assert not info.value.internal, info.value.detail
    return info.value


def code_of(body: bytes, msg: OutgoingMessage, why: str, **kw: object) -> EbmsError:
    """The code of the rejection, after checking that the intended check fired (``why`` in its detail)."""
    exc = rejected(body, msg, **kw)
    assert why in exc.detail, exc.detail
    return exc.ebms  # type: ignore[no-any-return]


# --- tampering ------------------------------------------------------------------------------------------


def test_tampered_header_to_party() -> None:
    msg = make_message()
    body = msg.body.replace(b">POP000002</eb:PartyId>", b">POP000003</eb:PartyId>")
    assert body != msg.body
    exc = rejected(body, msg)
    assert exc.ebms is E.FAILED_AUTHENTICATION
    assert "digest mismatch for #msg" in exc.detail
    assert exc.ref_to_message_id == msg.message_id


def test_tampered_final_recipient() -> None:
    msg = make_message()
    body = msg.body.replace(b">0088:7300010000002<", b">0088:7300010000003<", 1)
    assert code_of(body, msg, "digest mismatch for #msg") is E.FAILED_AUTHENTICATION


def test_tampered_body() -> None:
    msg = make_message()
    body = edit_soap(msg, lambda r: r.find("S12:Body", NSX).set("x", "1"))
    assert code_of(body, msg, "digest mismatch for #body") is E.FAILED_AUTHENTICATION


def test_content_smuggled_into_body() -> None:
    msg = make_message()
    body = edit_soap(msg, lambda r: etree.SubElement(r.find("S12:Body", NSX), "evil"))
    assert code_of(body, msg, "digest mismatch for #body") is E.FAILED_AUTHENTICATION


def _content_key(msg: OutgoingMessage) -> bytes:
    _, soap, _, _ = split(msg)
    cv = etree.fromstring(soap).find(".//xenc:EncryptedKey/xenc:CipherData/xenc:CipherValue", NSX)
    oaep = padding.OAEP(padding.MGF1(hashes.SHA256()), hashes.SHA256(), None)
    return dev_pki().receiver.private_key.decrypt(base64.b64decode(cv.text), oaep)


def test_tampered_attachment_plaintext_reencrypted() -> None:
    # Attacker knows the content key (a compromised relay): GCM is fine, the signed digest is not.
    msg = make_message()
    key = _content_key(msg)
    other = gz(make_sbd(instance_id="evil"))
    iv = b"\x02" * 12
    body = repack(msg, attachment=iv + AESGCM(key).encrypt(iv, other, None))
    assert code_of(body, msg, "digest mismatch for cid:") is E.FAILED_AUTHENTICATION


def test_tampered_ciphertext() -> None:
    msg = make_message()
    _, _, att, _ = split(msg)
    flipped = att[:40] + bytes([att[40] ^ 1]) + att[41:]
    assert (
        code_of(repack(msg, attachment=flipped), msg, "attachment decryption failed") is E.FAILED_DECRYPTION
    )


def test_truncated_ciphertext() -> None:
    msg = make_message()
    assert (
        code_of(repack(msg, attachment=b"short"), msg, "attachment decryption failed") is E.FAILED_DECRYPTION
    )


def test_wrong_receiver_key() -> None:
    msg = make_message()
    assert code_of(msg.body, msg, "key unwrap failed", our_key=dev_pki().sender) is E.FAILED_DECRYPTION


# --- certificates ---------------------------------------------------------------------------------------


def test_untrusted_ca() -> None:
    msg = make_message(sender=dev_pki().rogue)
    assert code_of(msg.body, msg, "signer certificate rejected: untrusted") is E.FAILED_AUTHENTICATION


def test_expired_certificate() -> None:
    msg = make_message(sender=dev_pki().expired)
    assert code_of(msg.body, msg, "signer certificate rejected: expired") is E.FAILED_AUTHENTICATION


def test_not_yet_valid_at_verification_time() -> None:
    from datetime import timedelta

    msg = make_message()
    assert (
        code_of(msg.body, msg, "signer certificate rejected: not-yet-valid", at=NOW - timedelta(days=30))
        is E.FAILED_AUTHENTICATION
    )


def test_cn_differs_from_from_party() -> None:
    msg = make_message(from_party="POP000009")
    assert code_of(msg.body, msg, "CN differs from From/PartyId") is CN_MISMATCH_ERROR


def test_revoked_signer() -> None:
    from gateway.crypto import RevocationStatus

    class Revoked:
        def check(self, certificate: object, issuer: object, at: object) -> RevocationStatus:
            return RevocationStatus.REVOKED

    msg = make_message()
    assert (
        code_of(msg.body, msg, "signer certificate rejected: revoked", revocation=Revoked())
        is E.FAILED_AUTHENTICATION
    )


# --- algorithms and key references -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "code", "why"),
    [
        (b"xmldsig-more#rsa-sha256", b"xmldsig-more#rsa-sha224", E.FAILED_AUTHENTICATION, "signature method"),
        (b"xmldsig-more#rsa-sha256", b"xmldsig#rsa-sha1", E.FAILED_AUTHENTICATION, "signature method"),
        (
            b'xmlenc#sha256"/><ds:DigestValue',
            b'xmldsig#sha1"/><ds:DigestValue',
            E.FAILED_AUTHENTICATION,
            "digest method",
        ),
        (
            b'xml-exc-c14n#"><ec:Inclusive',
            b'xml-c14n-20010315"><ec:Inclusive',
            E.FAILED_AUTHENTICATION,
            "canonicalization",
        ),
        (b"xmlenc11#aes128-gcm", b"xmlenc#aes128-cbc", E.FAILED_DECRYPTION, "data encryption"),
        (b"xmlenc11#rsa-oaep", b"xmlenc#rsa-1_5", E.FAILED_DECRYPTION, "key transport"),
        (b"xmlenc11#mgf1sha256", b"xmlenc11#mgf1sha999", E.FAILED_DECRYPTION, "OAEP MGF"),
        (
            b'x509-token-profile-1.0#X509v3" wsu:Id',
            b'x509-token-profile-1.0#X509PKIPathv1" wsu:Id',
            E.POLICY_NONCOMPLIANCE,
            "BST ValueType",
        ),
    ],
)
def test_unknown_or_forbidden_algorithms(old: bytes, new: bytes, code: EbmsError, why: str) -> None:
    msg = make_message()
    _, soap, _, _ = split(msg)
    assert old in soap, old
    assert code_of(repack(msg, soap=soap.replace(old, new)), msg, why) is code


def test_declared_oaep_digest_is_honoured() -> None:
    # Declaring SHA-1 while SHA-256 was used must fail decryption (we read, never assume).
    msg = make_message()
    body = edit_soap(
        msg,
        lambda r: r.find(".//xenc:EncryptedKey/xenc:EncryptionMethod/ds:DigestMethod", NSX).set(
            "Algorithm", "http://www.w3.org/2000/09/xmldsig#sha1"
        ),
    )
    assert code_of(body, msg, "key unwrap failed") is E.FAILED_DECRYPTION


def _replace_str_with_key_identifier(root: etree._Element) -> None:
    str_el = root.find(".//ds:Signature/ds:KeyInfo/wsse:SecurityTokenReference", NSX)
    for c in list(str_el):
        str_el.remove(c)
    etree.SubElement(str_el, f"{{{NSX['wsse']}}}KeyIdentifier").text = "AAAA"


def test_signature_key_not_a_bst() -> None:
    msg = make_message()
    assert (
        code_of(edit_soap(msg, _replace_str_with_key_identifier), msg, "not a direct BST reference")
        is E.POLICY_NONCOMPLIANCE
    )


def test_encryption_key_not_a_bst() -> None:
    msg = make_message()

    def edit(root: etree._Element) -> None:
        ki = root.find(".//xenc:EncryptedKey/ds:KeyInfo", NSX)
        for c in list(ki):
            ki.remove(c)
        etree.SubElement(ki, f"{{{NSX['ds']}}}X509Data")

    assert (
        code_of(edit_soap(msg, edit), msg, "KeyInfo is not a single SecurityTokenReference")
        is E.POLICY_NONCOMPLIANCE
    )


# --- signature wrapping and ids ---


def test_wrapping_original_messaging_moved_forged_in_header() -> None:
    msg = make_message()

    def edit(root: etree._Element) -> None:
        header = root.find("S12:Header", NSX)
        original = header.find("eb:Messaging", NSX)
        forged = copy.deepcopy(original)
        forged.set(f"{{{NSX['wsu']}}}Id", "forged")
        forged.find(".//eb:To/eb:PartyId", NSX).text = "POP000002"
        forged.find(".//eb:Property[@name='finalRecipient']", NSX).text = "0088:evil"
        wrapper = etree.SubElement(root.find(".//wsse:Security", NSX), "Wrapper")
        header.remove(original)
        wrapper.append(original)
        header.append(forged)

    assert (
        code_of(edit_soap(msg, edit), msg, "names neither eb:Messaging nor S12:Body")
        is E.FAILED_AUTHENTICATION
    )


def test_wrapping_second_messaging_header() -> None:
    msg = make_message()

    def edit(root: etree._Element) -> None:
        header = root.find("S12:Header", NSX)
        forged = copy.deepcopy(header.find("eb:Messaging", NSX))
        del forged.attrib[f"{{{NSX['wsu']}}}Id"]
        header.insert(0, forged)

    assert code_of(edit_soap(msg, edit), msg, "more than one eb:Messaging") is E.FAILED_AUTHENTICATION


def test_wrapping_forged_messaging_reuses_id() -> None:
    msg = make_message()

    def edit(root: etree._Element) -> None:
        header = root.find("S12:Header", NSX)
        original = header.find("eb:Messaging", NSX)
        forged = copy.deepcopy(original)
        forged.find(".//eb:Action", NSX).text = "evil"
        header.remove(original)
        etree.SubElement(root.find(".//wsse:Security", NSX), "Hidden").append(original)
        header.append(forged)  # same wsu:Id as the moved original -> duplicate id

    assert code_of(edit_soap(msg, edit), msg, "duplicate id") is E.FAILED_AUTHENTICATION


def test_wrapping_shadow_id_attribute() -> None:
    msg = make_message()

    def edit(root: etree._Element) -> None:
        mid = root.find("S12:Header/eb:Messaging", NSX).get(f"{{{NSX['wsu']}}}Id")
        etree.SubElement(root.find("S12:Header", NSX), "Decoy", Id=mid)

    assert code_of(edit_soap(msg, edit), msg, "duplicate id") is E.FAILED_AUTHENTICATION


def test_duplicate_ids() -> None:
    msg = make_message()

    def edit(root: etree._Element) -> None:
        bst_id = root.find(".//wsse:BinarySecurityToken", NSX).get(f"{{{NSX['wsu']}}}Id")
        root.find(".//ds:Signature", NSX).set("Id", bst_id)

    assert code_of(edit_soap(msg, edit), msg, "duplicate id") is E.FAILED_AUTHENTICATION


def test_reference_to_messaging_removed() -> None:
    msg = make_message()

    def edit(root: etree._Element) -> None:
        si = root.find(".//ds:SignedInfo", NSX)
        si.remove(si.findall("ds:Reference", NSX)[0])

    assert code_of(edit_soap(msg, edit), msg, "eb:Messaging is not covered") is E.FAILED_AUTHENTICATION


def test_unsigned() -> None:
    msg = make_message()

    def edit(root: etree._Element) -> None:
        sig = root.find(".//ds:Signature", NSX)
        sig.getparent().remove(sig)

    assert code_of(edit_soap(msg, edit), msg, "exactly one ds:Signature") is E.FAILED_AUTHENTICATION


def test_no_security_header() -> None:
    msg = make_message()

    def edit(root: etree._Element) -> None:
        sec = root.find(".//wsse:Security", NSX)
        sec.getparent().remove(sec)

    assert code_of(edit_soap(msg, edit), msg, "no wsse:Security") is E.FAILED_AUTHENTICATION


def test_not_encrypted() -> None:
    # Signature over the gzip octets stays valid; the payload simply travels in clear.
    msg = make_message()

    def edit(root: etree._Element) -> None:
        sec = root.find(".//wsse:Security", NSX)
        for tag in ("xenc:EncryptedKey", "xenc:EncryptedData"):
            sec.remove(sec.find(tag, NSX))

    soap_edited = edit_soap(msg, edit)
    body = soap_edited.replace(split(msg)[2], gz(make_sbd()))
    assert code_of(body, msg, "message is not encrypted") is E.FAILED_DECRYPTION


# --- payload ------------------------------------------------------------------------------------------------


def test_gzip_bomb() -> None:
    bomb = gz(b"<a>" + b" " * (3 * 1024 * 1024) + b"</a>")
    msg = make_raw(bomb)
    assert len(bomb) < 10_000
    assert code_of(msg.body, msg, "exceeds the size cap", max_payload=1024 * 1024) is E.DECOMPRESSION_FAILURE


def test_not_gzip() -> None:
    msg = make_raw(b"this is not gzip")
    assert code_of(msg.body, msg, "not valid gzip") is E.DECOMPRESSION_FAILURE


def test_uncompressed_payload_is_accepted() -> None:
    sbd = make_sbd()
    msg = make_raw(sbd, compression=None)
    assert receive(dict(msg.headers), msg.body).sbd == sbd


def test_xxe_in_payload() -> None:
    evil = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>'
    msg = make_raw(gz(evil))
    assert code_of(msg.body, msg, "SBD carries a DTD") is E.OTHER


def test_entity_expansion_in_payload() -> None:
    evil = b'<!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><l>&b;&b;&b;</l>'
    msg = make_raw(gz(evil))
    assert code_of(msg.body, msg, "SBD carries a DTD") is E.OTHER


@pytest.mark.parametrize(
    "doctype",
    [
        b'<!DOCTYPE S12:Envelope [<!ENTITY e SYSTEM "file:///etc/passwd">]>',
        b'<!DOCTYPE S12:Envelope [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>',
    ],
)
def test_dtd_in_soap_part(doctype: bytes) -> None:
    msg = make_message()
    _, soap, _, _ = split(msg)
    evil = soap.replace(b"?>", b"?>" + doctype, 1)
    assert code_of(repack(msg, soap=evil), msg, "carries a DTD") is E.INVALID_HEADER


def test_sbd_not_matching_header_values() -> None:
    msg = make_raw(gz(make_sbd()), final_recipient="0088:somebodyelse")
    assert code_of(msg.body, msg, "finalRecipient differs") is E.OTHER
    msg = make_raw(gz(make_sbd()), action="busdox-docid-qns::urn:other::Invoice##x::2.1")
    assert code_of(msg.body, msg, "Action differs") is E.OTHER
    msg = make_raw(gz(make_sbd()), service="urn:other:process")
    assert code_of(msg.body, msg, "Service differs") is E.OTHER


def test_payload_not_an_sbd() -> None:
    msg = make_raw(gz(b"<Invoice/>"))
    assert code_of(msg.body, msg, "not a StandardBusinessDocument") is E.OTHER


def test_sbdh_without_country_c1() -> None:
    sbd = make_sbd()
    start = sbd.index(b"<Scope><Type>COUNTRY_C1")
    end = sbd.index(b"</Scope>", start) + len(b"</Scope>")
    msg = make_raw(gz(sbd[:start] + sbd[end:]))
    assert code_of(msg.body, msg, "COUNTRY_C1") is E.OTHER


def test_party_id_type_and_seat_id() -> None:
    msg = make_message(to_party="not-a-seat")
    assert code_of(msg.body, msg, "is not a Seat ID") is E.OTHER
    good = make_message()
    body = edit_soap(good, lambda r: None)  # control: re-serialising our own tree keeps it valid
    assert receive(dict(good.headers), body).to_party == "POP000002"


def test_to_party_not_us() -> None:
    msg = make_message(to_party="POP000003")
    assert code_of(msg.body, msg, "To/PartyId is not our Seat ID") is E.OTHER


def test_receiver_not_served() -> None:
    msg = make_message()
    exc = rejected(msg.body, msg, served={ParticipantID.parse("0088:999")})
    assert exc.ebms is E.OTHER
    assert exc.error_detail == PEPPOL_NOT_SERVICED
    assert receive(dict(msg.headers), msg.body, served={RECEIVER}).sbdh.sender == SENDER
    assert receive(dict(msg.headers), msg.body, served=lambda r, d, p: r == RECEIVER).message_id


def test_error_signal_for_rejection_is_generic() -> None:
    msg = make_message()
    exc = rejected(msg.body, msg, served=set())
    sig = build_error(
        exc.ref_to_message_id,
        exc.ebms,
        key=dev_pki().receiver,
        message_id="e@gw",
        timestamp=NOW,
        detail=exc.error_detail,
    )
    assert b"PEPPOL:NOT_SERVICED" in sig
    assert b"0088:7300010000002" not in sig
    assert b'errorCode="EBMS:0004"' in sig
    assert msg.message_id.encode() in sig


# --- MIME level ---


def test_not_multipart() -> None:
    msg = make_message()
    with pytest.raises(RemoteProtocolError) as info:
        receive({"Content-Type": "text/plain"}, msg.body)
    assert info.value.ebms is E.INVALID_HEADER


def test_truncated_body() -> None:
    msg = make_message()
    with pytest.raises(RemoteProtocolError):
        receive(dict(msg.headers), msg.body[: len(msg.body) // 2])


def test_attachment_without_part_info() -> None:
    msg = make_message()
    boundary, _, _, _ = split(msg)
    extra = (
        b"--"
        + boundary.encode()
        + b"\r\nContent-Type: application/octet-stream\r\nContent-ID: <x@y>\r\n\r\nabc\r\n"
    )
    body = msg.body.replace(b"--" + boundary.encode() + b"--", extra + b"--" + boundary.encode() + b"--")
    # The extra part is neither encrypted nor signed.
    assert code_of(body, msg, "an attachment is not covered by the signature") is E.FAILED_AUTHENTICATION


def test_gzip_module_used_for_bomb_is_real() -> None:
    assert gzip.decompress(gz(b"x")) == b"x"


# --- SOAP 1.2 mustUnderstand (Part 1 §5.2.3): unknown header blocks for us must fault (EBMS:0009) ---


def _add_header_block(attrs: dict[str, str]) -> Callable[[etree._Element], None]:
    s12 = "{" + NSX["S12"] + "}"

    def edit(root: etree._Element) -> None:
        block = etree.SubElement(root.find("S12:Header", NSX), "{urn:evil}MustProcessMe")
        for name, value in attrs.items():
            block.set(s12 + name, value)

    return edit


@pytest.mark.parametrize(
    "attrs",
    [
        {"mustUnderstand": "true"},
        {"mustUnderstand": " 1 "},
        {"mustUnderstand": "true", "role": "http://www.w3.org/2003/05/soap-envelope/role/next"},
        {"mustUnderstand": "true", "role": "http://www.w3.org/2003/05/soap-envelope/role/ultimateReceiver"},
        {"mustUnderstand": "yes"},  # not an xs:boolean
    ],
)
def test_unknown_header_block_that_must_be_understood_is_refused(attrs: dict[str, str]) -> None:
    msg = make_message()
    exc = rejected(edit_soap(msg, _add_header_block(attrs)), msg)
    assert exc.ebms is E.INVALID_HEADER
    assert "mustUnderstand" in exc.detail or "must be understood" in exc.detail


@pytest.mark.parametrize(
    "attrs",
    [
        {},
        {"mustUnderstand": "false"},
        {"mustUnderstand": "0"},
        {"mustUnderstand": "true", "role": "http://www.w3.org/2003/05/soap-envelope/role/none"},
        {"mustUnderstand": "true", "role": "urn:some:intermediary"},  # a role we do not play
    ],
)
def test_header_blocks_we_may_ignore_are_ignored(attrs: dict[str, str]) -> None:
    msg = make_message()
    body = edit_soap(msg, _add_header_block(attrs))
    assert receive(dict(msg.headers), body).message_id == msg.message_id

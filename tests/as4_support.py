"""Shared AS4 test material: a development PKI generated once at a fixed time, message builders and
helpers that re-package a tampered SOAP part. Importable from any test (tests/ is on sys.path via conftest).
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from lxml import etree

from gateway.as4 import OutgoingMessage, build_user_message, parse_incoming
from gateway.as4.builder import assemble_user_message
from gateway.as4.messages import IncomingUserMessage
from gateway.crypto import DevIdentity, DevPKI, KeyMaterial, TrustStore, generate_dev_pki, issue_ap
from gateway.model import BIS_BILLING_PROCESS, BIS_INVOICE, ParticipantID
from gateway.ubl.sbdh import build_sbd

#: The fixed "now" of every AS4 unit/conformance test.
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
SHARED = Path(__file__).resolve().parents[1].parent / "shared"
INVOICE = SHARED / "interop" / "samples" / "invoice.xml"
SENDER = ParticipantID.parse("0208:0123456749")
RECEIVER = ParticipantID.parse("0088:7300010000002")


@dataclass(frozen=True)
class AS4PKI:
    """Dev PKI plus rogue and expired identities for the negative suite."""

    pki: DevPKI
    trust: TrustStore
    sender: KeyMaterial  # POP000001
    receiver: KeyMaterial  # POP000002
    expired: KeyMaterial  # POP000001, valid only before NOW
    rogue: KeyMaterial  # POP000001 from an untrusted root
    rogue_trust: TrustStore


@functools.cache
def dev_pki() -> AS4PKI:
    """Generated once per session (RSA key generation is the slow part)."""
    pki = generate_dev_pki(now=NOW)
    chain = (pki.ap_ca.certificate, pki.root.certificate)
    expired: DevIdentity = issue_ap(
        pki.ap_ca,
        "POP000001",
        now=NOW,
        not_before=NOW - timedelta(days=400),
        validity=timedelta(days=365),
        serial=7,
    )
    rogue_pki = generate_dev_pki(now=NOW, seat_ids=("POP000001",))
    return AS4PKI(
        pki=pki,
        trust=TrustStore.from_certificates(chain),
        sender=pki.aps["POP000001"].key_material(chain),
        receiver=pki.aps["POP000002"].key_material(chain),
        expired=expired.key_material(chain),
        rogue=rogue_pki.aps["POP000001"].key_material(),
        rogue_trust=TrustStore.from_certificates((rogue_pki.ap_ca.certificate, rogue_pki.root.certificate)),
    )


def counter_ids(prefix: str = "id") -> Callable[[], str]:
    """Deterministic id factory."""
    counter = itertools.count(1)
    return lambda: f"{prefix}-{next(counter)}"


def make_sbd(
    ubl: bytes | None = None, *, receiver: ParticipantID = RECEIVER, instance_id: str = "inst-1"
) -> bytes:
    """An SBD around the kit's sample invoice (or ``ubl``)."""
    return build_sbd(
        ubl if ubl is not None else INVOICE.read_bytes(),
        sender=SENDER,
        receiver=receiver,
        document_type=BIS_INVOICE,
        process=BIS_BILLING_PROCESS,
        country_c1="BE",
        instance_id=instance_id,
        created=NOW,
    )


def make_message(
    sbd: bytes | None = None, *, sender: KeyMaterial | None = None, **kw: object
) -> OutgoingMessage:
    """Our sender's message from POP000001 to POP000002 (overrides via ``kw``)."""
    p = dev_pki()
    return build_user_message(
        sbd if sbd is not None else make_sbd(),
        sender=sender or p.sender,
        receiver_certificate=p.receiver.certificate,
        message_id="msg-1@gateway.test",
        timestamp=NOW,
        new_id=counter_ids(),
        **kw,  # type: ignore[arg-type]
    )


def make_raw(payload: bytes, **kw: object) -> OutgoingMessage:
    """A validly signed and encrypted message around arbitrary payload octets and header values."""
    p = dev_pki()
    values: dict[str, object] = {
        "sender": p.sender,
        "receiver_certificate": p.receiver.certificate,
        "message_id": "msg-raw@gateway.test",
        "timestamp": NOW,
        "original_sender": str(SENDER),
        "final_recipient": str(RECEIVER),
        "action": BIS_INVOICE.uri,
        "service": BIS_BILLING_PROCESS.value,
        "service_type": BIS_BILLING_PROCESS.scheme,
        "new_id": counter_ids("raw"),
    }
    values.update(kw)
    return assemble_user_message(payload, **values)  # type: ignore[arg-type]


def gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def receive(headers: dict[str, str], body: bytes, **kw: object) -> IncomingUserMessage:
    """Our receiver as POP000002 at NOW trusting the dev PKI."""
    p = dev_pki()
    values: dict[str, object] = {"our_key": p.receiver, "trust": p.trust, "at": NOW}
    values.update(kw)
    return parse_incoming(headers, body, **values)  # type: ignore[arg-type]


# --- re-packaging helpers ------------------------------------------------------------------------------


def split(msg: OutgoingMessage) -> tuple[str, bytes, bytes, str]:
    """(boundary, SOAP part bytes, attachment bytes, Content-ID) of one of our messages."""
    boundary = re.search(r'boundary="([^"]+)"', msg.headers["Content-Type"]).group(1)  # type: ignore[union-attr]
    chunks = msg.body.split(b"--" + boundary.encode())
    soap = chunks[1].split(b"\r\n\r\n", 1)[1][:-2]
    att_head, att = chunks[2].split(b"\r\n\r\n", 1)
    cid = re.search(rb"Content-ID: <([^>]+)>", att_head).group(1).decode()  # type: ignore[union-attr]
    return boundary, soap, att[:-2], cid


def repack(msg: OutgoingMessage, *, soap: bytes | None = None, attachment: bytes | None = None) -> bytes:
    """Same message body with the SOAP part and/or the attachment replaced byte-for-byte."""
    _, old_soap, old_att, _ = split(msg)
    body = msg.body
    if soap is not None:
        body = body.replace(old_soap, soap, 1)
    if attachment is not None:
        body = body.replace(old_att, attachment, 1)
    return body


def edit_soap(msg: OutgoingMessage, edit: Callable[[etree._Element], None]) -> bytes:
    """Parse our SOAP part, apply ``edit`` to the tree, re-serialise (signature NOT recomputed)."""
    _, soap, _, _ = split(msg)
    root = etree.fromstring(soap)
    edit(root)
    return repack(msg, soap=etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


NSX = {
    "S12": "http://www.w3.org/2003/05/soap-envelope",
    "eb": "http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/",
    "wsse": "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd",
    "wsu": "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd",
    "ds": "http://www.w3.org/2000/09/xmldsig#",
    "xenc": "http://www.w3.org/2001/04/xmlenc#",
}


def resign(
    msg: OutgoingMessage, edit: Callable[[etree._Element], None], *, key: KeyMaterial | None = None
) -> bytes:
    """Edit the SOAP part, then recompute every ``#id`` digest and the SignatureValue (a trusted sender
    that really sends this markup: the receiver must judge it on its merits, not on a broken signature)."""
    from gateway.crypto import SignatureAlgorithm, b64, exc_c14n, sign_bytes

    _, soap, _, _ = split(msg)
    root = etree.fromstring(soap)
    edit(root)
    root = etree.fromstring(etree.tostring(root))  # digest the tree as the receiver will parse it
    si = root.find(".//ds:Signature/ds:SignedInfo", NSX)
    for ref in si.findall("ds:Reference", NSX):
        uri = ref.get("URI") or ""
        if not uri.startswith("#"):
            continue
        target = root.xpath("//*[@wsu:Id=$id]", namespaces=NSX, id=uri[1:])[0]
        inc = ref.find(".//{http://www.w3.org/2001/10/xml-exc-c14n#}InclusiveNamespaces")
        prefixes = tuple((inc.get("PrefixList") or "").split()) if inc is not None else ()
        digest = hashlib.sha256(exc_c14n(target, prefixes)).digest()
        ref.find("ds:DigestValue", NSX).text = b64(digest)
    root = etree.fromstring(etree.tostring(root))
    si = root.find(".//ds:Signature/ds:SignedInfo", NSX)
    signer = key or dev_pki().sender
    value = sign_bytes(signer.private_key, exc_c14n(si, ("S12",)), SignatureAlgorithm.RSA_SHA256)
    root.find(".//ds:Signature/ds:SignatureValue", NSX).text = b64(value)
    return repack(msg, soap=etree.tostring(root, xml_declaration=True, encoding="UTF-8"))

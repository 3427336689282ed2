"""Build a Peppol AS4 UserMessage: compress -> sign -> encrypt -> MIME, serialised exactly once.

Order and markup: peppol-as4.md §3 (ebMS header values), §6.1-6.3 (algorithms, what is signed and
encrypted, wsse:Security child order), §2 (MIME layout: SOAP part first, no ``start``).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from lxml import etree

from gateway.as4.compression import gzip_payload
from gateway.as4.constants import (
    AGREEMENT_REF,
    DS_NS,
    EB_NS,
    ENC_TYPE_ATTACHMENT_CONTENT_ONLY,
    GZIP_MIME,
    OCTET_STREAM,
    OUT_NSMAP,
    PARTICIPANT_PROPERTY_TYPE,
    PARTY_ID_TYPE,
    PROP_FINAL_RECIPIENT,
    PROP_ORIGINAL_SENDER,
    ROLE_INITIATOR,
    ROLE_RESPONDER,
    SOAP_CONTENT_TYPE,
    SOAP_NS,
    SOAP_PREFIX,
    TOKEN_TYPE_ENCRYPTED_KEY,
    WSSE_NS,
    XENC11_NS,
    XENC_NS,
    XML_MIME,
)
from gateway.as4.ebms_errors import EbmsError
from gateway.as4.messages import OutgoingMessage
from gateway.as4.mime import build_multipart
from gateway.as4.wss import WSU_ID, ReferenceInput, add_bst, add_str, index_ids, sign_envelope
from gateway.crypto import (
    PEPPOL_POLICY,
    KeyMaterial,
    SecurityPolicy,
    Transform,
    TransformAlgorithm,
    aes_gcm_encrypt_after_iv,
    b64,
    common_name,
    exc_c14n,
    rsa_oaep_wrap,
)
from gateway.errors import LocalProtocolError, MappingError, XMLInputError
from gateway.ubl.sbdh import SBDHData, read_sbd_header
from gateway.xmlcore import parse_xml

_EB = f"{{{EB_NS}}}"
_MUST_UNDERSTAND = f"{{{SOAP_NS}}}mustUnderstand"


def _uuid() -> str:
    return str(uuid.uuid4())


def _eb(parent: etree._Element, tag: str, text: str | None = None, **attrib: str) -> etree._Element:
    el = etree.SubElement(parent, _EB + tag, attrib)
    if text is not None:
        el.text = text
    return el


def _timestamp(ts: datetime) -> str:
    # ebMS3 §5.2.2.1: UTC; millisecond precision like phase4.
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


def build_user_message(
    sbd: bytes,
    *,
    sender: KeyMaterial,
    receiver_certificate: x509.Certificate,
    message_id: str,
    timestamp: datetime,
    conversation_id: str | None = None,
    from_party: str | None = None,
    to_party: str | None = None,
    policy: SecurityPolicy = PEPPOL_POLICY,
    new_id: Callable[[], str] = _uuid,
    random_bytes: Callable[[int], bytes] = os.urandom,
    max_sbd_bytes: int = 100 * 1024 * 1024,
    header: SBDHData | None = None,
) -> OutgoingMessage:
    """Build the complete multipart/related AS4 request for one SBD.

    Args:
        sbd: the Standard Business Document (SBDH + business document); its header (only) is read to fill
            the ebMS header.
        sender: our AP key and certificate (From/PartyId defaults to its CN).
        receiver_certificate: the receiver AP certificate from the SMP (encryption target; To = its CN).
        message_id: eb:MessageId (``<uuid>@<our domain>``).
        timestamp: eb:Timestamp (timezone-aware).
        conversation_id: eb:ConversationId; defaults to the message id.
        from_party / to_party: override the Seat IDs (tests of the receiver only).
        policy: the algorithms (Peppol by default).
        new_id: wsu:Id / Content-ID factory.
        random_bytes: source of the AES key, IV and MIME boundary (os.urandom by default).
        max_sbd_bytes: refuse larger SBDs.
        header: the SBD's header as the caller wrote it (``build_sbd`` with the same arguments as
            ``built_header``): it is then not read back from ``sbd``, whose business document the caller
            vouches for (``build_sbd``'s ``parsed_before``). None: the header is read and checked.

    Returns:
        The serialised request and what the receipt check needs.

    Raises:
        LocalProtocolError: the SBD is not a valid Peppol SBD or a party id is missing.
    """
    if header is not None and len(sbd) > max_sbd_bytes:
        raise LocalProtocolError(
            EbmsError.OTHER, f"cannot send: SBD is {len(sbd)} bytes, above the limit of {max_sbd_bytes}"
        )
    try:
        sbdh = header or read_sbd_header(sbd, max_bytes=max_sbd_bytes)
    except (XMLInputError, MappingError) as exc:
        raise LocalProtocolError(EbmsError.OTHER, f"cannot send: {exc}") from exc
    # Compress first (CEF 1.14 §1.4.3.1), at a level chosen for speed (compression.py).
    return assemble_user_message(
        gzip_payload(sbd),
        sender=sender,
        receiver_certificate=receiver_certificate,
        message_id=message_id,
        timestamp=timestamp,
        original_sender=str(sbdh.sender),
        final_recipient=str(sbdh.receiver),
        action=sbdh.document_type.uri,
        service=sbdh.process.value,
        service_type=sbdh.process.scheme,
        instance_id=sbdh.instance_id,
        conversation_id=conversation_id,
        from_party=from_party,
        to_party=to_party,
        policy=policy,
        new_id=new_id,
        random_bytes=random_bytes,
    )


def assemble_user_message(
    payload: bytes,
    *,
    sender: KeyMaterial,
    receiver_certificate: x509.Certificate,
    message_id: str,
    timestamp: datetime,
    original_sender: str,
    final_recipient: str,
    action: str,
    service: str,
    service_type: str | None,
    instance_id: str = "",
    compression: str | None = GZIP_MIME,
    mime_type: str = XML_MIME,
    conversation_id: str | None = None,
    from_party: str | None = None,
    to_party: str | None = None,
    policy: SecurityPolicy = PEPPOL_POLICY,
    new_id: Callable[[], str] = _uuid,
    random_bytes: Callable[[int], bytes] = os.urandom,
) -> OutgoingMessage:
    """Sign, encrypt and package an already compressed payload with explicit ebMS header values.

    The lower half of :func:`build_user_message`, without SBD checks: it lets tests (and tools that
    debug exchanges) produce validly signed messages with chosen, even inconsistent, values.

    Args:
        payload: the attachment octets as signed (gzip when ``compression`` is set).
        original_sender / final_recipient: message property values (``icd:value``).
        action / service / service_type: CollaborationInfo values.
        instance_id: recorded on the result only.
        compression / mime_type: PartProperties CompressionType (None: omitted) and MimeType.
        Other arguments: as :func:`build_user_message`.
    """
    from_id = from_party or common_name(sender.certificate)
    to_id = to_party or common_name(receiver_certificate)
    if not from_id or not to_id:
        raise LocalProtocolError(EbmsError.OTHER, "sender or receiver certificate has no CN (Seat ID)")
    receiver_key = receiver_certificate.public_key()
    if not isinstance(receiver_key, rsa.RSAPublicKey):
        raise LocalProtocolError(EbmsError.POLICY_NONCOMPLIANCE, "receiver certificate key is not RSA")
    if timestamp.tzinfo is None:
        raise LocalProtocolError(EbmsError.OTHER, "timestamp must be timezone-aware")
    conversation = conversation_id or message_id
    cid = f"{new_id()}@gateway"
    compressed = payload

    env = etree.Element(f"{{{SOAP_NS}}}Envelope", nsmap=OUT_NSMAP)
    header = etree.SubElement(env, f"{{{SOAP_NS}}}Header")
    security = etree.SubElement(header, f"{{{WSSE_NS}}}Security", {_MUST_UNDERSTAND: "true"})
    messaging_id = "msg-" + new_id()
    messaging = etree.SubElement(header, _EB + "Messaging", {_MUST_UNDERSTAND: "true", WSU_ID: messaging_id})
    body_id = "body-" + new_id()
    etree.SubElement(env, f"{{{SOAP_NS}}}Body", {WSU_ID: body_id})

    um = _eb(messaging, "UserMessage")
    mi = _eb(um, "MessageInfo")
    _eb(mi, "Timestamp", _timestamp(timestamp))
    _eb(mi, "MessageId", message_id)
    pi = _eb(um, "PartyInfo")
    frm = _eb(pi, "From")
    _eb(frm, "PartyId", from_id, type=PARTY_ID_TYPE)
    _eb(frm, "Role", ROLE_INITIATOR)
    to = _eb(pi, "To")
    _eb(to, "PartyId", to_id, type=PARTY_ID_TYPE)
    _eb(to, "Role", ROLE_RESPONDER)
    ci = _eb(um, "CollaborationInfo")
    _eb(ci, "AgreementRef", AGREEMENT_REF)
    if service_type:
        _eb(ci, "Service", service, type=service_type)
    else:
        _eb(ci, "Service", service)
    _eb(ci, "Action", action)
    _eb(ci, "ConversationId", conversation)
    props = _eb(um, "MessageProperties")
    _eb(props, "Property", original_sender, name=PROP_ORIGINAL_SENDER, type=PARTICIPANT_PROPERTY_TYPE)
    _eb(props, "Property", final_recipient, name=PROP_FINAL_RECIPIENT, type=PARTICIPANT_PROPERTY_TYPE)
    part = _eb(_eb(um, "PayloadInfo"), "PartInfo", href="cid:" + cid)
    pp = _eb(part, "PartProperties")
    _eb(pp, "Property", mime_type, name="MimeType")
    if compression:
        _eb(pp, "Property", compression, name="CompressionType")

    # Security header, in processing order (peppol-as4.md §6.2): receiver BST, EncryptedKey, EncryptedData,
    # sender BST, Signature.
    recv_bst_id = "X509-" + new_id()
    add_bst(security, receiver_certificate, recv_bst_id)
    ek_id = "EK-" + new_id()
    ed_id = "ED-" + new_id()
    content_key = random_bytes(policy.data_encryption.key_size)
    iv = random_bytes(12)  # GCM IV (XML-Enc 1.1 §5.2.4)
    ciphertext = aes_gcm_encrypt_after_iv(content_key, compressed, iv)  # the part body is IV || this
    wrapped = rsa_oaep_wrap(receiver_key, content_key, digest=policy.key_transport_digest, mgf=policy.mgf)
    ek = etree.SubElement(security, f"{{{XENC_NS}}}EncryptedKey", Id=ek_id)
    em = etree.SubElement(ek, f"{{{XENC_NS}}}EncryptionMethod", Algorithm=policy.key_transport.value)
    etree.SubElement(em, f"{{{DS_NS}}}DigestMethod", Algorithm=policy.key_transport_digest.value)
    etree.SubElement(em, f"{{{XENC11_NS}}}MGF", Algorithm=policy.mgf.value)
    add_str(etree.SubElement(ek, f"{{{DS_NS}}}KeyInfo"), recv_bst_id)
    etree.SubElement(
        etree.SubElement(ek, f"{{{XENC_NS}}}CipherData"), f"{{{XENC_NS}}}CipherValue"
    ).text = b64(wrapped)
    etree.SubElement(
        etree.SubElement(ek, f"{{{XENC_NS}}}ReferenceList"), f"{{{XENC_NS}}}DataReference", URI="#" + ed_id
    )
    ed = etree.SubElement(
        security,
        f"{{{XENC_NS}}}EncryptedData",
        Id=ed_id,
        Type=ENC_TYPE_ATTACHMENT_CONTENT_ONLY,
        MimeType=compression or mime_type,
    )
    etree.SubElement(ed, f"{{{XENC_NS}}}EncryptionMethod", Algorithm=policy.data_encryption.value)
    add_str(etree.SubElement(ed, f"{{{DS_NS}}}KeyInfo"), ek_id, token_type=TOKEN_TYPE_ENCRYPTED_KEY)
    cref = etree.SubElement(
        etree.SubElement(ed, f"{{{XENC_NS}}}CipherData"), f"{{{XENC_NS}}}CipherReference", URI="cid:" + cid
    )
    etree.SubElement(
        etree.SubElement(cref, f"{{{XENC_NS}}}Transforms"),
        f"{{{DS_NS}}}Transform",
        Algorithm=TransformAlgorithm.ATTACHMENT_CIPHERTEXT.value,
    )
    sender_bst_id = "X509-" + new_id()
    add_bst(security, sender.certificate, sender_bst_id)
    signed_octets = compressed
    if not compression and (mime_type.endswith("/xml") or mime_type.endswith("+xml")):
        signed_octets = exc_c14n(parse_xml(compressed, what="payload"))

    def references(parsed: etree._Element) -> list[ReferenceInput]:
        ids = index_ids(parsed)
        return [
            ReferenceInput(
                "#" + messaging_id,
                (Transform(TransformAlgorithm.EXC_C14N, (SOAP_PREFIX,)),),
                exc_c14n(ids[messaging_id], (SOAP_PREFIX,)),
            ),
            ReferenceInput("#" + body_id, (Transform(TransformAlgorithm.EXC_C14N),), exc_c14n(ids[body_id])),
            # The attachment digest is over the compressed octets (application/gzip -> raw, SwA 1.1 §5.4.2);
            # an uncompressed XML part would be digested in its exc-C14N form.
            ReferenceInput(
                "cid:" + cid, (Transform(TransformAlgorithm.ATTACHMENT_CONTENT_SIGNATURE),), signed_octets
            ),
        ]

    soap, written = sign_envelope(
        env, key=sender, bst_id=sender_bst_id, references=references, policy=policy, new_id=new_id
    )
    # Signed: the compressed payload is not needed any more; a large one is not held while the body is built.
    payload = compressed = signed_octets = b""
    boundary = "MIMEBoundary_" + random_bytes(16).hex()
    content_type, http_body = build_multipart(
        [
            (
                {"Content-Type": f"{SOAP_CONTENT_TYPE};charset=UTF-8", "Content-Transfer-Encoding": "binary"},
                soap,
            ),
            (
                {
                    "Content-Type": OCTET_STREAM,
                    "Content-Transfer-Encoding": "binary",
                    "Content-ID": f"<{cid}>",
                },
                (iv, ciphertext),
            ),
        ],
        boundary=boundary,
        root_type=SOAP_CONTENT_TYPE,
    )
    return OutgoingMessage(
        message_id=message_id,
        headers={"Content-Type": content_type, "MIME-Version": "1.0"},
        body=http_body,
        signed_references=written,
        receiver_certificate=receiver_certificate,
        payload_content_id=cid,
        conversation_id=conversation,
        instance_id=instance_id,
    )

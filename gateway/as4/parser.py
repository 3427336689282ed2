"""Receive a Peppol AS4 UserMessage: (HTTP headers, body) -> IncomingUserMessage or RemoteProtocolError.

Checks run in the order of the receiver table, peppol-as4.md §13, except that everything an unauthenticated
sender could make expensive waits for the signer: the signer certificate (trust, time) and the reference set
are checked before any digest, and SignatureValue, the SOAP header digests and CN = From before any
decryption or decompression. Every part must be covered by the signature before encryption is judged.
The P-Mode (:mod:`gateway.as4.pmode`) is checked on the authenticated header, before decryption.
Each failure names the ebMS error to answer with. h11's fuzz invariant holds: any byte string either parses
or raises RemoteProtocolError (:class:`InboundMessageRejected` carries the RefToMessageId for the Error
signal); an unexpected exception is our bug, logged and raised as :class:`InboundInternalError`.
"""

from __future__ import annotations

import logging
import re
import zlib
from collections.abc import Callable, Collection, Mapping
from datetime import datetime
from typing import Final

from lxml import etree

from gateway.as4.constants import (
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_PAYLOAD_BYTES,
    EB_NS,
    GZIP_MIME,
    MAX_SOAP_BYTES,
    PARTICIPANT_PROPERTY_TYPE,
    PARTY_ID_TYPE,
    PROP_FINAL_RECIPIENT,
    PROP_ORIGINAL_SENDER,
    SEAT_ID_PATTERN,
    XENC_NS,
)
from gateway.as4.ebms_errors import PEPPOL_NOT_SERVICED, EbmsError
from gateway.as4.envelope import (
    check_our_headers_must_be_understood,
    read_user_message,
    refuse_processing_instructions,
    split_envelope,
    text_of,
)
from gateway.as4.inbound_security import (
    check_references,
    decrypt_attachments,
    encrypted_cids,
    read_signature,
    verify_attachment_digests,
    verify_element_digests,
    verify_signed_info,
)
from gateway.as4.messages import IncomingUserMessage
from gateway.as4.mime import (
    MAX_HEADER_VALUE,
    MimeError,
    MimePart,
    header,
    normalise_cid,
    parse_multipart,
    split_content_type,
)
from gateway.as4.pmode import PEPPOL_PMODE, PeppolPMode, check_user_message
from gateway.as4.wss import index_ids
from gateway.crypto import (
    KeyMaterial,
    RevocationChecker,
    TrustStore,
    common_name,
    validate_ap_certificate,
)
from gateway.errors import (
    CertificateRejected,
    DecryptionFailed,
    GatewayError,
    InboundInternalError,
    InboundMessageRejected,
    InvalidIdentifier,
    RemoteProtocolError,
    SignatureInvalid,
    XMLInputError,
)
from gateway.model import DocumentTypeID, ParticipantID, ProcessID
from gateway.ubl.sbdh import parse_sbd
from gateway.xmlcore import parse_xml

log = logging.getLogger("gateway.as4.receiver")

_EB = f"{{{EB_NS}}}"
_SEAT_ID = re.compile(f"^{SEAT_ID_PATTERN}$")
#: Code for "signer CN != From/PartyId": the receiver table (peppol-as4.md §13 #11) lists it under EBMS:0004
#: (phase4); the as4 peer answers EBMS:0101. One constant so the choice is visible and testable.
CN_MISMATCH_ERROR = EbmsError.OTHER
#: Most gzip members decompressed from one payload (RFC 1952 allows several; senders write one).
MAX_GZIP_MEMBERS: Final = 64
#: Input fed to zlib per call: zlib copies the input left after a member into ``unused_data``, so feeding
#: the whole payload would copy it once per member (quadratic); a bounded chunk keeps the loop linear.
_GZIP_CHUNK: Final = 64 * 1024
#: served(receiver, document type, process) -> bool, or a collection of participants we serve.
Served = Callable[[ParticipantID, DocumentTypeID, ProcessID], bool] | Collection[ParticipantID]


def _fail(code: EbmsError, detail: str) -> RemoteProtocolError:
    return RemoteProtocolError(code, detail)


def _party(ids: list[etree._Element], role: str) -> str:
    if len(ids) != 1:
        raise _fail(EbmsError.OTHER, f"{role}: exactly one PartyId required")
    if (ids[0].get("type") or "").strip() != PARTY_ID_TYPE:
        raise _fail(EbmsError.OTHER, f"{role} PartyId type is not {PARTY_ID_TYPE}")
    value = text_of(ids[0])
    if not _SEAT_ID.match(value):
        raise _fail(EbmsError.OTHER, f"{role} PartyId {value!r} is not a Seat ID")
    return value


def _participant(props: Mapping[str, tuple[str, str | None]], name: str) -> ParticipantID:
    if name not in props:
        raise _fail(EbmsError.OTHER, f"message property {name} missing")
    value, type_ = props[name]
    # peppol-as4.md §3: @type="iso6523-actorid-upis" is mandatory on both (phase4 refuses it missing).
    if (type_ or "").strip() != PARTICIPANT_PROPERTY_TYPE:
        raise _fail(EbmsError.OTHER, f"message property {name} type is not {PARTICIPANT_PROPERTY_TYPE}")
    try:
        return ParticipantID.parse(value)
    except InvalidIdentifier as exc:
        raise _fail(EbmsError.OTHER, f"message property {name} invalid") from exc


def _gunzip(data: bytes, cap: int) -> bytes:
    # RFC 1952, possibly several members; stop as soon as the cap is exceeded (gzip bombs, phase4#318).
    # Linear: the input is walked through a memoryview in bounded chunks and the member count is capped.
    out = bytearray()
    view = memoryview(data)
    end = len(data.rstrip(b"\0"))  # trailing NUL padding after the last member is tolerated
    pos = 0
    members = 0
    try:
        while True:
            members += 1
            if members > MAX_GZIP_MEMBERS:
                raise _fail(EbmsError.DECOMPRESSION_FAILURE, f"more than {MAX_GZIP_MEMBERS} gzip members")
            d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            while not d.eof:
                if pos >= len(view):
                    raise _fail(EbmsError.DECOMPRESSION_FAILURE, "gzip stream truncated")
                chunk = view[pos : pos + _GZIP_CHUNK]
                out += d.decompress(chunk, cap + 1 - len(out))
                if len(out) > cap or d.unconsumed_tail:
                    raise _fail(EbmsError.DECOMPRESSION_FAILURE, "decompressed payload exceeds the size cap")
                pos += len(chunk) - len(d.unused_data)
            if pos >= end:
                return bytes(out)
    except zlib.error as exc:
        raise _fail(EbmsError.DECOMPRESSION_FAILURE, "payload is not valid gzip") from exc


def _attachments(parts: list[MimePart], root: MimePart) -> dict[str, MimePart]:
    """Content-ID -> part of every part but the root (a helper, so no loop variable keeps a part alive)."""
    attachments: dict[str, MimePart] = {}
    for part in parts:
        if part is root:
            continue
        cid = part.content_id
        if not cid or cid in attachments:
            raise _fail(EbmsError.VALUE_INCONSISTENT, "attachment without or with a duplicate Content-ID")
        attachments[cid] = part
    return attachments


def _is_served(served: Served | None, receiver: ParticipantID, doc: DocumentTypeID, proc: ProcessID) -> bool:
    if served is None:
        return True
    if callable(served):
        return bool(served(receiver, doc, proc))
    return receiver in served


def parse_incoming(
    headers: Mapping[str, str],
    body: bytes,
    *,
    our_key: KeyMaterial,
    trust: TrustStore,
    at: datetime,
    revocation: RevocationChecker | None = None,
    served: Served | None = None,
    max_payload: int = DEFAULT_MAX_PAYLOAD_BYTES,
    pmode: PeppolPMode = PEPPOL_PMODE,
) -> IncomingUserMessage:
    """Parse, verify, decrypt and check one incoming Peppol AS4 UserMessage.

    Args:
        headers: HTTP request headers (Content-Type is what matters).
        body: the HTTP body, byte-exact.
        our_key: our AP key (decryption) and certificate (eb:To must be its CN).
        trust: anchors/AP CAs of the configured stage.
        at: verification time for the signer certificate.
        revocation: CRL/OCSP checker (None: no check, offline).
        served: receivers we serve (collection or predicate); None accepts every receiver.
        max_payload: cap on the decompressed payload.
        pmode: the P-Mode the message must follow, with the accepted algorithms (``pmode.security``).

    Returns:
        The accepted message; every value in it was covered by the verified signature.

    Raises:
        InboundMessageRejected: (a RemoteProtocolError) with ``ebms`` to answer and ``ref_to_message_id``.
            An unexpected exception while judging (our bug, not a verdict) is logged with its traceback
            and raised as its subclass :class:`~gateway.errors.InboundInternalError` (generic EBMS:0004
            toward the peer, ``internal`` True).
    """
    message_id: str | None = None
    try:
        message_id_box: list[str] = []
        # Gets True once the signature verified and the signer is the From party (the rejection then
        # concerns an authenticated sender: its evidence is kept at full size, issue 13).
        authenticated: list[bool] = []
        return _parse(
            headers, body, our_key, trust, at, revocation, served, max_payload, pmode, message_id_box,
            authenticated,
        )  # fmt: skip
    except InboundMessageRejected:
        raise
    except RemoteProtocolError as exc:
        message_id = message_id_box[0] if message_id_box else None
        detail = PEPPOL_NOT_SERVICED if exc.detail.startswith(PEPPOL_NOT_SERVICED) else ""
        raise InboundMessageRejected(
            exc.ebms,
            exc.detail,
            ref_to_message_id=message_id,
            error_detail=detail,
            signer_authenticated=bool(authenticated),
        ) from exc
    except SignatureInvalid as exc:  # e.g. C14N impossible on hostile markup
        mid = message_id_box[0] if message_id_box else None
        raise InboundMessageRejected(
            EbmsError.FAILED_AUTHENTICATION, str(exc), ref_to_message_id=mid
        ) from exc
    except DecryptionFailed as exc:
        mid = message_id_box[0] if message_id_box else None
        raise InboundMessageRejected(
            EbmsError.FAILED_DECRYPTION,
            str(exc),
            ref_to_message_id=mid,
            signer_authenticated=bool(authenticated),
        ) from exc
    except Exception as exc:
        # Not a verdict on the message: a bug of ours (every rule of the profile raises RemoteProtocolError
        # above). The peer still gets a signed generic EBMS:0004 (ebMS3 Core §6.7.1 "Other"; peppol-as4.md
        # §7.3 lists handler failures under it) and no server error; we log the traceback and mark the
        # rejection internal so that callers and tests can tell it from a protocol verdict.
        message_id = message_id_box[0] if message_id_box else None
        log.exception("internal error while judging AS4 message %s", message_id)
        raise InboundInternalError(
            EbmsError.OTHER,
            f"internal error: {type(exc).__name__}: {exc}",
            ref_to_message_id=message_id,
            signer_authenticated=bool(authenticated),
        ) from exc


def _parse(
    headers: Mapping[str, str],
    body: bytes,
    our_key: KeyMaterial,
    trust: TrustStore,
    at: datetime,
    revocation: RevocationChecker | None,
    served: Served | None,
    max_payload: int,
    pmode: PeppolPMode,
    message_id_box: list[str],
    authenticated: list[bool],
) -> IncomingUserMessage:
    policy = pmode.security
    # --- §13 #1: multipart/related, SOAP 1.2, one Messaging with one UserMessage -----------------------
    if len(body) > DEFAULT_MAX_BODY_BYTES:
        raise _fail(EbmsError.INVALID_HEADER, "HTTP body too large")
    content_type = header(headers, "content-type") or ""
    if len(content_type) > MAX_HEADER_VALUE:
        raise _fail(EbmsError.INVALID_HEADER, f"Content-Type is longer than {MAX_HEADER_VALUE} bytes")
    media, params = split_content_type(content_type)
    # SOAP 1.2 only (peppol-as4.md §2, §13 #1): ``text/xml`` is SOAP 1.1 (RFC 3902 §1), refused as EBMS:0009
    # for the request, the multipart ``type`` parameter (RFC 2387 §3.1) and the root part alike.
    soap = pmode.soap_media_type
    try:
        if media == "multipart/related":
            if params.get("type", soap).strip().lower() != soap:
                raise MimeError(f"multipart type {params.get('type')!r} is not {soap}")
            parts, root = parse_multipart(content_type, bytes(body))
        elif media == soap:
            root = MimePart({"content-type": content_type}, bytes(body))
            parts = [root]
        else:
            raise MimeError(f"Content-Type {media!r} is not multipart/related")
    except MimeError as exc:
        raise _fail(EbmsError.INVALID_HEADER, f"MIME: {exc}") from exc
    if root.content_type not in (soap, ""):
        raise _fail(EbmsError.INVALID_HEADER, f"root part is {root.content_type}, not SOAP 1.2")
    try:
        envelope = parse_xml(root.body, max_bytes=MAX_SOAP_BYTES, what="SOAP envelope")
    except XMLInputError as exc:
        raise _fail(EbmsError.INVALID_HEADER, str(exc)) from exc
    refuse_processing_instructions(envelope)
    hdr_el, body_el, messaging, security = split_envelope(envelope)
    hdr = read_user_message(messaging)
    message_id_box.append(hdr.message_id)
    attachments = _attachments(parts, root)

    # --- §13 #2-#4: signature structure, algorithms, BST --------------------------------------------------
    ids = index_ids(envelope)  # duplicate ids anywhere -> EBMS:0101
    signature = read_signature(security, ids, policy=policy)  # unsigned, algorithms, BST -> 0101 / 0103
    signer, signed_info = signature.signer, signature.signed_info

    # --- §13 #6 (moved forward): the signer certificate path at the given time ------------------------------
    # Nothing an unauthenticated sender controls is decrypted, digested or decompressed before this.
    try:
        validate_ap_certificate(signer, trust, at=at, revocation=revocation)
    except CertificateRejected as exc:
        raise _fail(EbmsError.FAILED_AUTHENTICATION, f"signer certificate rejected: {exc.reason}") from exc

    # --- §13 #2, #5: exactly the expected references, SignatureValue, header digests, then encryption -------
    # Every part must be signed before encryption is judged (CEF 1.14: sign, then encrypt): an unsigned
    # extra part or a reference to another part is a signature failure (EBMS:0101), not EBMS:0102.
    check_references(signature, ids, messaging=messaging, body=body_el, attachment_cids=attachments.keys())
    verify_signed_info(signature)
    verify_element_digests(signature, ids)  # eb:Messaging and S12:Body: bounded by MAX_SOAP_BYTES
    if not security.findall(f"{{{XENC_NS}}}EncryptedKey"):
        raise _fail(EbmsError.FAILED_DECRYPTION, "message is not encrypted")
    if not attachments:
        raise _fail(EbmsError.OTHER, "no payload part")
    if set(attachments) - encrypted_cids(security):
        raise _fail(EbmsError.FAILED_DECRYPTION, "an attachment is not encrypted")

    # --- §13 #11 (moved forward): signer CN = the now authenticated From/PartyId --------------------------
    # Before decryption, so a trusted AP cannot make us decrypt what it sends in another AP's name.
    from_party = _party(hdr.from_ids, "From")
    if common_name(signer) != from_party:
        raise _fail(CN_MISMATCH_ERROR, "signer certificate CN differs from From/PartyId")
    authenticated.append(True)

    # --- the P-Mode (peppol-as4.md §2-§3): on the authenticated header, before any decryption -------------
    check_our_headers_must_be_understood(messaging, security)
    check_user_message(hdr.user_message, pmode=pmode, at=at)

    # --- §13 #3, #5: decrypt, then the attachment digests ---------------------------------------------------
    decrypted = decrypt_attachments(security, ids, attachments, our_key=our_key, policy=policy)
    if set(decrypted) != set(attachments):
        raise _fail(EbmsError.FAILED_DECRYPTION, "an attachment is not encrypted")
    verify_attachment_digests(signature, decrypted)
    # The MIME part bodies (ciphertext) are no longer needed: drop them before the payload is decompressed
    # and parsed, so a large message does not hold its ciphertext, plaintext and SBD at once.
    del parts, root
    attachments.clear()
    decrypted_count = len(decrypted)

    # CEF 1.14 §1.4.2.3: the Body is empty; payloads travel only as MIME parts (checked after the signature,
    # so content smuggled into a signed empty Body is reported as the digest failure it is).
    if [c for c in body_el if isinstance(c.tag, str)] or (body_el.text or "").strip():
        raise _fail(EbmsError.VALUE_INCONSISTENT, "SOAP Body must be empty")

    # --- §13 #7-#8: one payload, PartInfo/Content-ID, MimeType, decompress --------------------------------
    if len(hdr.part_infos) != 1:
        raise _fail(
            EbmsError.OTHER, f"Peppol needs exactly one payload, PayloadInfo has {len(hdr.part_infos)}"
        )
    if decrypted_count != len(hdr.part_infos):  # = the attachment count (checked after decryption)
        raise _fail(EbmsError.EXTERNAL_PAYLOAD_ERROR, "PartInfo count differs from the attachment count")
    part_info = hdr.part_infos[0]
    href = (part_info.get("href") or "").strip()
    if not href.lower().startswith("cid:"):
        raise _fail(EbmsError.VALUE_INCONSISTENT, "PartInfo href is not a cid: reference")
    cid = normalise_cid(href)
    if cid not in decrypted:
        raise _fail(EbmsError.VALUE_INCONSISTENT, "PartInfo href names no attachment")
    part_props: dict[str, str] = {}
    for prop in part_info.findall(f"{_EB}PartProperties/{_EB}Property"):
        part_props[(prop.get("name") or "").strip()] = text_of(prop)
    if not part_props.get("MimeType"):
        raise _fail(EbmsError.INVALID_HEADER, "PartProperties MimeType missing")
    compressed = decrypted[cid].data
    compression = part_props.get("CompressionType", "").lower()
    if compression:
        if compression != GZIP_MIME:
            raise _fail(EbmsError.DECOMPRESSION_FAILURE, f"CompressionType {compression} not supported")
        sbd = _gunzip(compressed, max_payload)
        decrypted.clear()
        del compressed
    else:  # CEF 1.14 §1.4.3.1: MUST NOT reject uncompressed parts
        if len(compressed) > max_payload:
            raise _fail(EbmsError.OTHER, "payload exceeds the size cap")
        sbd = compressed

    # --- §13 #9-#10: SBDH and its agreement with the ebMS header -----------------------------------------
    try:
        sbdh = parse_sbd(sbd, max_bytes=max_payload)
    except GatewayError as exc:
        raise _fail(EbmsError.OTHER, f"SBD rejected: {exc}") from exc
    original_sender = _participant(hdr.properties, PROP_ORIGINAL_SENDER)
    final_recipient = _participant(hdr.properties, PROP_FINAL_RECIPIENT)
    if original_sender != sbdh.sender:
        raise _fail(EbmsError.OTHER, "originalSender differs from the SBDH Sender")
    if final_recipient != sbdh.receiver:
        raise _fail(EbmsError.OTHER, "finalRecipient differs from the SBDH Receiver")
    try:
        document_type = DocumentTypeID.parse(hdr.action)
        service_value = text_of(hdr.service)
        service_type = hdr.service.get("type")
        process = (
            ProcessID(service_value, service_type.strip()) if service_type else ProcessID.parse(service_value)
        )
    except InvalidIdentifier as exc:
        raise _fail(EbmsError.OTHER, "Action or Service invalid") from exc
    if document_type != sbdh.document_type:
        raise _fail(EbmsError.OTHER, "Action differs from the SBDH DOCUMENTID")
    if process != sbdh.process:
        raise _fail(EbmsError.OTHER, "Service differs from the SBDH PROCESSID")

    # --- §13 #11: To PartyId (From = signer CN was checked with the certificate) ---------------------------
    to_party = _party(hdr.to_ids, "To")
    our_cn = common_name(our_key.certificate)
    if our_cn is not None and our_cn != to_party:
        raise _fail(EbmsError.OTHER, "To/PartyId is not our Seat ID")

    # --- §13 #12: receiver served by this endpoint ---------------------------------------------------------
    if not _is_served(served, sbdh.receiver, document_type, process):
        raise _fail(EbmsError.OTHER, f"{PEPPOL_NOT_SERVICED}: {sbdh.receiver} not served")
    _ = hdr_el
    return IncomingUserMessage(
        message_id=hdr.message_id,
        timestamp=hdr.timestamp,
        conversation_id=hdr.conversation_id,
        from_party=from_party,
        to_party=to_party,
        service=service_value,
        service_type=service_type,
        action=hdr.action,
        original_sender=original_sender,
        final_recipient=final_recipient,
        document_type=document_type,
        process=process,
        sbdh=sbdh,
        sbd=sbd,
        signer_certificate=signer,
        received_references=tuple(etree.tostring(r.element) for r in signed_info.references),
        payload_content_id=cid,
    )

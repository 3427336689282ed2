"""Receive a Peppol AS4 UserMessage: (HTTP headers, body) -> IncomingUserMessage or RemoteProtocolError.

Checks run in the order of the receiver table, peppol-as4.md §13, except that everything an unauthenticated
sender could make expensive waits for the signer: the signer certificate (trust, time) and the reference set
are checked before any digest, and SignatureValue, the SOAP header digests and CN = From before any
decryption or decompression. Every part must be covered by the signature before encryption is judged.
The P-Mode (:mod:`gateway.as4.pmode`) is checked on the authenticated header, before decryption.
Each failure names the ebMS error to answer with. h11's fuzz invariant holds: any byte string either parses
or raises RemoteProtocolError (:class:`InboundMessageRejected` carries the RefToMessageId for the Error
signal); an unexpected exception is our bug, logged and raised as :class:`InboundInternalError`.

This module holds the order of the checks and the security steps (signature, certificate, CN = From,
P-Mode, decryption); the steps before and after them are their own modules: :mod:`.inbound_structure`
(§13 #1: MIME, SOAP envelope, UserMessage), :mod:`.inbound_security` (signature and decryption
primitives), :mod:`.inbound_payload` (§13 #7-#8: PartInfo, bounded gunzip) and :mod:`.inbound_addressing`
(§13 #9-#12: SBDH agreement, To, served receivers).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime

from lxml import etree

from gateway.as4.constants import DEFAULT_MAX_PAYLOAD_BYTES, XENC_NS
from gateway.as4.ebms_errors import PEPPOL_NOT_SERVICED, EbmsError
from gateway.as4.envelope import check_our_headers_must_be_understood
from gateway.as4.inbound_addressing import Served, check_addressing, party
from gateway.as4.inbound_payload import read_payload
from gateway.as4.inbound_security import (
    check_references,
    decrypt_attachments,
    encrypted_cids,
    read_signature,
    verify_attachment_digests,
    verify_element_digests,
    verify_signed_info,
)
from gateway.as4.inbound_structure import read_structure
from gateway.as4.messages import IncomingUserMessage
from gateway.as4.pmode import PEPPOL_PMODE, PeppolPMode, check_user_message
from gateway.as4.wss import index_ids
from gateway.crypto import (
    CertificateVerdicts,
    KeyMaterial,
    RevocationChecker,
    TrustStore,
    common_name,
    validate_ap_certificate,
)
from gateway.errors import (
    CertificateRejected,
    DecryptionFailed,
    InboundInternalError,
    InboundMessageRejected,
    RemoteProtocolError,
    SignatureInvalid,
)

__all__ = ["CN_MISMATCH_ERROR", "Served", "parse_incoming"]

log = logging.getLogger("gateway.as4.receiver")

#: Code for "signer CN != From/PartyId": the receiver table (peppol-as4.md §13 #11) lists it under EBMS:0004
#: (phase4); the as4 peer answers EBMS:0101. One constant so the choice is visible and testable.
CN_MISMATCH_ERROR = EbmsError.OTHER


def _fail(code: EbmsError, detail: str) -> RemoteProtocolError:
    return RemoteProtocolError(code, detail)


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
    verdicts: CertificateVerdicts | None = None,
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
        verdicts: a memory of signer certificate paths that validated (the receiver keeps one); None
            verifies the path every time. Revocation is asked every time either way.

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
            authenticated, verdicts,
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
    verdicts: CertificateVerdicts | None,
) -> IncomingUserMessage:
    policy = pmode.security
    # --- §13 #1: multipart/related, SOAP 1.2, one Messaging with one UserMessage (inbound_structure) -------
    received = read_structure(headers, body, pmode, message_id_box)
    envelope, body_el, messaging, security = (
        received.envelope,
        received.body,
        received.messaging,
        received.security,
    )
    hdr, attachments = received.user_message, received.attachments
    del received

    # --- §13 #2-#4: signature structure, algorithms, BST --------------------------------------------------
    ids = index_ids(envelope)  # duplicate ids anywhere -> EBMS:0101
    signature = read_signature(security, ids, policy=policy)  # unsigned, algorithms, BST -> 0101 / 0103
    signer, signed_info = signature.signer, signature.signed_info

    # --- §13 #6 (moved forward): the signer certificate path at the given time ------------------------------
    # Nothing an unauthenticated sender controls is decrypted, digested or decompressed before this.
    validate = verdicts.validate_ap_certificate if verdicts is not None else validate_ap_certificate
    try:
        validate(signer, trust, at=at, revocation=revocation)
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
    from_party = party(hdr.from_ids, "From")
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
    attachments.clear()

    # CEF 1.14 §1.4.2.3: the Body is empty; payloads travel only as MIME parts (checked after the signature,
    # so content smuggled into a signed empty Body is reported as the digest failure it is).
    if [c for c in body_el if isinstance(c.tag, str)] or (body_el.text or "").strip():
        raise _fail(EbmsError.VALUE_INCONSISTENT, "SOAP Body must be empty")

    # --- §13 #7-#8: one payload, PartInfo/Content-ID, MimeType, decompress (inbound_payload) ---------------
    cid, sbd = read_payload(hdr, decrypted, max_payload)

    # --- §13 #9-#12: SBDH agreement, To = our Seat ID, receiver served (inbound_addressing) ----------------
    addressing = check_addressing(hdr, sbd, our_key=our_key, served=served, max_payload=max_payload)
    return IncomingUserMessage(
        message_id=hdr.message_id,
        timestamp=hdr.timestamp,
        conversation_id=hdr.conversation_id,
        from_party=from_party,
        to_party=addressing.to_party,
        service=addressing.service,
        service_type=addressing.service_type,
        action=hdr.action,
        original_sender=addressing.original_sender,
        final_recipient=addressing.final_recipient,
        document_type=addressing.document_type,
        process=addressing.process,
        sbdh=addressing.sbdh,
        sbd=sbd,
        signer_certificate=signer,
        # Each ds:Reference alone, without the whitespace after it in SignedInfo (a tail written "&#13;"
        # would make its copy two XML documents).
        received_references=tuple(etree.tostring(r.element, with_tail=False) for r in signed_info.references),
        payload_content_id=cid,
    )

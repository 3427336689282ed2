"""The sender's strict check of an ebMS signal answering its message: a signed Receipt whose NRI repeats
the sent ds:References, or a signed Error (peppol-as4.md §7; phase4 ValidatingAS4SignalMsgConsumer).
The signals themselves are built in ``gateway.as4.signals``.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from lxml import etree

from gateway.as4.constants import EB_NS, SOAP_NS, WSSE_NS
from gateway.as4.ebms_errors import EbmsError
from gateway.as4.messages import OutgoingMessage, ReceiptVerdict
from gateway.as4.mime import MimeError, header, parse_multipart, split_content_type
from gateway.as4.outcome import SendOutcome
from gateway.as4.wss import (
    certificate_der,
    index_ids,
    local_ref,
    resolve_bst_certificate,
)
from gateway.crypto import (
    PEPPOL_POLICY,
    CertificateVerdicts,
    SecurityPolicy,
    TransformAlgorithm,
    TrustStore,
    exc_c14n,
    read_signed_info,
    validate_ap_certificate,
    verify_signature_value,
)
from gateway.crypto import digest_bytes as _digest
from gateway.errors import CertificateRejected, RemoteProtocolError, SignatureInvalid, XMLInputError
from gateway.xmlcore import parse_xml, string_value

_EB = f"{{{EB_NS}}}"
_DS = "{http://www.w3.org/2000/09/xmldsig#}"
_MUST_UNDERSTAND = f"{{{SOAP_NS}}}mustUnderstand"


def _reference_key(el: etree._Element) -> tuple[object, ...]:
    """Comparable form of a ds:Reference: URI, (transform, PrefixList)*, DigestMethod, DigestValue."""
    transforms = tuple(
        (
            (t.get("Algorithm") or "").strip(),
            tuple(
                sorted(
                    " ".join(
                        inc.get("PrefixList") or ""
                        for inc in t.findall("{http://www.w3.org/2001/10/xml-exc-c14n#}InclusiveNamespaces")
                    ).split()
                )
            ),
        )
        for t in el.findall(f"{_DS}Transforms/{_DS}Transform")
    )
    dm = el.find(f"{_DS}DigestMethod")
    dv = el.find(f"{_DS}DigestValue")
    return (
        (el.get("URI") or "").strip(),
        transforms,
        (dm.get("Algorithm") or "").strip() if dm is not None else "",
        "".join((dv.text or "").split()) if dv is not None else "",
    )


def load_signal(headers: Mapping[str, str], body: bytes, *, dump: bool = True) -> etree._Element:
    """Parse a signal: bare SOAP XML, a multipart/related response (root part) or an HTTP dump (``dump``:
    one, not a dump inside a dump: a hostile answer of header blocks would recurse once per block).

    Raises:
        XMLInputError / MimeError / RemoteProtocolError: unreadable.
    """
    content_type = header(headers, "content-type") or "application/soap+xml"
    media, _ = split_content_type(content_type)
    data = body
    if media == "multipart/related":
        _, root = parse_multipart(content_type, body)
        data = root.body
    elif dump and not body.lstrip().startswith(b"<") and b"\n\n" in body.replace(b"\r\n", b"\n"):
        # An HTTP dump (status line + headers + blank line + XML), as phase4's *.as4in files.
        from gateway.as4.mime import split_raw_message

        hdrs, rest = split_raw_message(body)
        return load_signal(hdrs, rest, dump=False)
    return parse_xml(data, what="signal")


def verify_receipt(
    headers: Mapping[str, str],
    body: bytes,
    outgoing: OutgoingMessage,
    *,
    trust: TrustStore | None = None,
    at: datetime | None = None,
    policy: SecurityPolicy = PEPPOL_POLICY,
    verdicts: CertificateVerdicts | None = None,
) -> ReceiptVerdict:
    """Judge the HTTP response to ``outgoing`` whatever its status (peppol-as4.md §7.1-7.2).

    Strict: a Receipt must be signed by the certificate we encrypted to (BST equality), reference our
    MessageId, cover eb:Messaging, and carry NRI equal to the references we signed. An ebMS Error is
    final only when it is just as authentic: signed by the certificate we encrypted to and referring to
    our MessageId; it then yields AS4_ERROR_MESSAGE_RECEIVED with its code. An unsigned, forged or
    misdirected Error yields INVALID_SIGNAL_MESSAGE_RECEIVED (retried): anyone on the path could
    otherwise end a delivery with a forged non-retryable error. The signer is verified here only, once;
    ``signer_verified`` on the verdict carries the result to the callers.

    Args:
        headers / body: the HTTP response.
        outgoing: what we sent.
        trust / at: when given, the receipt signer's path is also validated at ``at``.
        policy: accepted algorithms.
        verdicts: a memory of certificate paths that validated (the sending worker keeps one: the
            receipt signer is the receiver certificate it validated before sending); None: none.
    """
    if not body.strip():
        return ReceiptVerdict(SendOutcome.NO_SIGNAL_MESSAGE_RECEIVED, detail="empty response body")
    try:
        root = load_signal(headers, body)
        info = read_signal(root)
    except (XMLInputError, MimeError, RemoteProtocolError, ValueError, etree.LxmlError) as exc:
        return ReceiptVerdict(
            SendOutcome.INVALID_SIGNAL_MESSAGE_RECEIVED, EbmsError.INVALID_RECEIPT, detail=str(exc)
        )
    signal_id, ref_to, errors, receipt = info

    def invalid(why: str) -> ReceiptVerdict:
        return ReceiptVerdict(
            SendOutcome.INVALID_SIGNAL_MESSAGE_RECEIVED,
            EbmsError.INVALID_RECEIPT,
            signal_id,
            ref_to,
            detail=why,
            errors=tuple(errors),
        )

    kind = "error" if errors else "receipt"
    if not errors and receipt is None:
        return invalid("signal is neither a Receipt nor an Error")
    if ref_to != outgoing.message_id:
        return invalid(f"{kind} RefToMessageId does not match our MessageId")
    try:
        signer = verify_signal_signature(root, policy=policy)
    except RemoteProtocolError as exc:
        return invalid(f"{kind} signature: {exc.detail}")
    except SignatureInvalid as exc:
        return invalid(f"{kind} signature: {exc}")
    if signer.public_bytes(serialization.Encoding.DER) != certificate_der(outgoing.receiver_certificate):
        return invalid(f"{kind} not signed with the certificate we encrypted to")
    if trust is not None and at is not None:
        validate = verdicts.validate_ap_certificate if verdicts is not None else validate_ap_certificate
        try:
            validate(signer, trust, at=at)
        except CertificateRejected as exc:
            return invalid(f"{kind} signer rejected: {exc.reason}")
    if errors:
        code, text = errors[0]
        return ReceiptVerdict(
            SendOutcome.AS4_ERROR_MESSAGE_RECEIVED,
            EbmsError.from_code(code) or EbmsError.OTHER,
            signal_id,
            ref_to,
            detail=text,
            errors=tuple(errors),
            signer_verified=True,
        )
    assert receipt is not None
    got = sorted(_reference_key(r) for r in receipt.iter(f"{_DS}Reference"))
    # Our own exc-C14N octets, parsed at once: no declaration, no text between them.
    written = parse_xml(b"<r>" + b"".join(outgoing.signed_references) + b"</r>", what="signed references")
    want = sorted(_reference_key(r) for r in written)
    if got != want:
        return replace(
            invalid("NonRepudiationInformation differs from the references we signed"), signer_verified=True
        )
    return ReceiptVerdict(SendOutcome.SUCCESS, None, signal_id, ref_to, signer_verified=True)


def read_signal(
    root: etree._Element,
) -> tuple[str | None, str | None, list[tuple[str, str]], etree._Element | None]:
    """Read (MessageId, RefToMessageId, [(errorCode, detail)], eb:Receipt element) from a signal envelope.

    Raises:
        RemoteProtocolError: EBMS:0009 when there is no eb:SignalMessage.
    """
    sm = root.find(f"{{{SOAP_NS}}}Header/{_EB}Messaging/{_EB}SignalMessage")
    if sm is None:
        raise RemoteProtocolError(EbmsError.INVALID_HEADER, "no eb:SignalMessage")
    mi = sm.find(_EB + "MessageInfo")

    def text(el: etree._Element | None) -> str | None:
        return string_value(el).strip() if el is not None else None

    signal_id = text(mi.find(_EB + "MessageId")) if mi is not None else None
    ref_to = text(mi.find(_EB + "RefToMessageId")) if mi is not None else None
    errors: list[tuple[str, str]] = []
    for err in sm.findall(_EB + "Error"):
        if not ref_to:
            ref_to = (err.get("refToMessageInError") or "").strip() or None
        detail = text(err.find(_EB + "ErrorDetail")) or text(err.find(_EB + "Description")) or ""
        errors.append(((err.get("errorCode") or "").strip(), detail))
    return signal_id, ref_to, errors, sm.find(_EB + "Receipt")


def verify_signal_signature(
    root: etree._Element, *, policy: SecurityPolicy = PEPPOL_POLICY
) -> x509.Certificate:
    """Verify a signal's signature: value, every ``#id`` reference as parsed, eb:Messaging and Body covered.

    Returns:
        The signer certificate (from the BST).

    Raises:
        RemoteProtocolError: EBMS:0101 / 0103.
    """
    hdr = root.find(f"{{{SOAP_NS}}}Header")
    body = root.find(f"{{{SOAP_NS}}}Body")
    if hdr is None or body is None:
        raise RemoteProtocolError(EbmsError.FAILED_AUTHENTICATION, "not a SOAP 1.2 envelope")
    messagings = hdr.findall(_EB + "Messaging")
    securities = hdr.findall(f"{{{WSSE_NS}}}Security")
    if len(messagings) != 1 or len(securities) != 1:
        raise RemoteProtocolError(
            EbmsError.FAILED_AUTHENTICATION, "need one eb:Messaging and one wsse:Security"
        )
    security = securities[0]
    sigs = security.findall(f"{_DS}Signature")
    if len(sigs) != 1:
        raise RemoteProtocolError(EbmsError.FAILED_AUTHENTICATION, "signal is not signed")
    ids = index_ids(root)
    try:
        si = read_signed_info(sigs[0], policy)
    except SignatureInvalid as exc:
        raise RemoteProtocolError(EbmsError.FAILED_AUTHENTICATION, str(exc)) from exc
    cert = resolve_bst_certificate(sigs[0].find(f"{_DS}KeyInfo"), ids, security)
    pub = cert.public_key()
    if not isinstance(pub, rsa.RSAPublicKey):
        raise RemoteProtocolError(EbmsError.FAILED_AUTHENTICATION, "signer key is not RSA")
    try:
        verify_signature_value(sigs[0], si, pub)
    except SignatureInvalid as exc:
        raise RemoteProtocolError(EbmsError.FAILED_AUTHENTICATION, str(exc)) from exc
    covered: list[etree._Element] = []
    for ref in si.references:
        target = local_ref(ref.uri)
        el = ids.get(target) if target else None
        if el is None or [t.algorithm for t in ref.transforms] != [TransformAlgorithm.EXC_C14N]:
            raise RemoteProtocolError(
                EbmsError.FAILED_AUTHENTICATION, f"reference {ref.uri} not allowed in a signal"
            )
        if not hmac.compare_digest(
            _digest(exc_c14n(el, ref.transforms[0].prefixes), ref.digest_method), ref.digest_value
        ):
            raise RemoteProtocolError(EbmsError.FAILED_AUTHENTICATION, f"digest mismatch for {ref.uri}")
        covered.append(el)
    if not any(el is messagings[0] for el in covered):
        raise RemoteProtocolError(EbmsError.FAILED_AUTHENTICATION, "eb:Messaging not covered")
    return cert

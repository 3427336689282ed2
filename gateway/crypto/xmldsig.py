"""XML-DSig primitives over lxml elements *as parsed*: exclusive C14N, digests, SignedInfo reading and RSA.

Detached WS-Security signatures with ``cid:`` references are outside what signxml can build
(peppol-as4.md §6.5), so the few primitives are composed here from lxml and cryptography.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from lxml import etree

from gateway.crypto.policy import (
    SIGNATURE_HASHES,
    CanonicalizationAlgorithm,
    DigestAlgorithm,
    SecurityPolicy,
    SignatureAlgorithm,
    TransformAlgorithm,
)
from gateway.errors import SignatureInvalid
from gateway.xmlcore import NS

DS = NS["ds"]
EC = NS["ec"]
_HASHLIB = {
    DigestAlgorithm.SHA1: "sha1",
    DigestAlgorithm.SHA256: "sha256",
    DigestAlgorithm.SHA384: "sha384",
    DigestAlgorithm.SHA512: "sha512",
}


def exc_c14n(element: etree._Element, prefixes: Sequence[str] = ()) -> bytes:
    """Exclusive C14N 1.0 *without comments* of an element as it stands (never re-serialised first).

    The element of a received document is canonicalised in the tree it was parsed into; our own envelopes
    in the tree we built, which gives what a parse of its bytes gives (``wss.sign_envelope``).

    Args:
        element: the element, still inside its tree (ancestors supply namespaces).
        prefixes: the InclusiveNamespaces PrefixList (``#default`` allowed).

    Raises:
        SignatureInvalid: the subtree cannot be canonicalised.
    """
    for prefix in prefixes:
        _intern(prefix)
    try:
        return etree.tostring(
            element,
            method="c14n",
            exclusive=True,
            with_comments=False,
            inclusive_ns_prefixes=list(prefixes) or None,
        )
    except (etree.C14NError, ValueError) as exc:  # e.g. a relative namespace URI (C14N 1.0 §2.3 forbids it)
        raise SignatureInvalid(f"exclusive C14N failed: {exc}") from exc


def _intern(prefix: str) -> None:
    """Put ``prefix`` into this thread's libxml2 string dictionary.

    lxml hands libxml2 only the InclusiveNamespaces prefixes that dictionary already holds (its
    ``_convert_ns_prefixes``: "unknown prefixes do not need to get serialised"). A parse puts every
    prefix it reads there, but a tree built in memory leaves its own out, so the C14N of an element of
    such a tree would drop a prefix it does not use visibly (``xmlns:S12`` of our ds:SignedInfo), unless
    anything in this thread parsed it before. Naming an element after the prefix puts it there (0.7 us);
    a name lxml refuses (``#default``) is left out, as before.
    """
    with contextlib.suppress(ValueError):
        etree.Element(prefix)


def digest_bytes(data: bytes, algorithm: DigestAlgorithm) -> bytes:
    """Hash ``data`` with a digest method."""
    return hashlib.new(_HASHLIB[algorithm], data).digest()


def b64(data: bytes) -> str:
    """Standard base64 text."""
    return base64.b64encode(data).decode("ascii")


def b64decode_text(text: str | None) -> bytes:
    """Decode base64 element text, tolerating whitespace and line breaks.

    Raises:
        ValueError: not base64.
    """
    compact = "".join((text or "").split())
    try:
        return base64.b64decode(compact, validate=True)
    except binascii.Error as exc:
        raise ValueError("invalid base64") from exc


@dataclass(frozen=True, slots=True)
class Transform:
    """One ds:Transform: algorithm and (for exc-c14n) its InclusiveNamespaces PrefixList."""

    algorithm: TransformAlgorithm
    prefixes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Reference:
    """One ds:Reference of a SignedInfo, read without dereferencing.

    Attributes:
        uri: the URI attribute (``#id`` or ``cid:...``).
        transforms: the declared transforms, in order.
        digest_method: the declared digest method.
        digest_value: the decoded DigestValue.
        element: the ds:Reference element as parsed (kept for verbatim NRI copies).
    """

    uri: str
    transforms: tuple[Transform, ...]
    digest_method: DigestAlgorithm
    digest_value: bytes
    element: etree._Element


@dataclass(frozen=True, slots=True)
class SignedInfo:
    """A parsed ds:SignedInfo.

    Attributes:
        element: the ds:SignedInfo element as parsed.
        c14n_prefixes: PrefixList of the CanonicalizationMethod.
        method: the signature method.
        references: the references in document order.
    """

    element: etree._Element
    c14n_prefixes: tuple[str, ...]
    method: SignatureAlgorithm
    references: tuple[Reference, ...]


def _prefix_list(parent: etree._Element) -> tuple[str, ...]:
    found = parent.findall(f"{{{EC}}}InclusiveNamespaces")
    if len(found) > 1:
        raise SignatureInvalid("more than one InclusiveNamespaces")
    if not found:
        return ()
    return tuple((found[0].get("PrefixList") or "").split())


def _children(parent: etree._Element) -> list[etree._Element]:
    # Comments and processing instructions are not part of the DSig structure.
    return [c for c in parent if isinstance(c.tag, str)]


def read_signed_info(signature: etree._Element, policy: SecurityPolicy) -> SignedInfo:
    """Read a ds:Signature's SignedInfo, enforcing the algorithm policy.

    Raises:
        SignatureInvalid: structure not as XML-DSig requires, or an algorithm outside ``policy``.
    """
    infos = signature.findall(f"{{{DS}}}SignedInfo")
    if len(infos) != 1:
        raise SignatureInvalid("ds:Signature needs exactly one ds:SignedInfo")
    si = infos[0]
    kids = _children(si)
    if (
        len(kids) < 3
        or kids[0].tag != f"{{{DS}}}CanonicalizationMethod"
        or kids[1].tag != f"{{{DS}}}SignatureMethod"
    ):
        raise SignatureInvalid("SignedInfo must start with CanonicalizationMethod and SignatureMethod")
    if kids[0].get("Algorithm") != CanonicalizationAlgorithm.EXC_C14N.value:
        raise SignatureInvalid(f"canonicalization {kids[0].get('Algorithm')!r} not allowed")
    try:
        method = SignatureAlgorithm(kids[1].get("Algorithm") or "")
    except ValueError as exc:
        raise SignatureInvalid(f"signature method {kids[1].get('Algorithm')!r} not supported") from exc
    if method not in policy.accepted_signatures:
        raise SignatureInvalid(f"signature method {method.value} not allowed")
    if _children(kids[1]):  # e.g. HMACOutputLength: never meaningful for RSA
        raise SignatureInvalid("unexpected SignatureMethod parameters")
    refs: list[Reference] = []
    for ref in kids[2:]:
        if ref.tag != f"{{{DS}}}Reference":
            raise SignatureInvalid(f"unexpected {ref.tag} in SignedInfo")
        refs.append(_read_reference(ref, policy))
    return SignedInfo(si, _prefix_list(kids[0]), method, tuple(refs))


def _read_reference(ref: etree._Element, policy: SecurityPolicy) -> Reference:
    uri = ref.get("URI")
    if not uri:
        raise SignatureInvalid("Reference without URI")
    kids = _children(ref)
    transforms: list[Transform] = []
    if kids and kids[0].tag == f"{{{DS}}}Transforms":
        for t in _children(kids[0]):
            if t.tag != f"{{{DS}}}Transform":
                raise SignatureInvalid("unexpected element in Transforms")
            try:
                alg = TransformAlgorithm(t.get("Algorithm") or "")
            except ValueError as exc:
                raise SignatureInvalid(f"transform {t.get('Algorithm')!r} not supported") from exc
            transforms.append(Transform(alg, _prefix_list(t)))
        kids = kids[1:]
    if len(kids) != 2 or kids[0].tag != f"{{{DS}}}DigestMethod" or kids[1].tag != f"{{{DS}}}DigestValue":
        raise SignatureInvalid("Reference needs DigestMethod and DigestValue")
    try:
        dm = DigestAlgorithm(kids[0].get("Algorithm") or "")
    except ValueError as exc:
        raise SignatureInvalid(f"digest method {kids[0].get('Algorithm')!r} not supported") from exc
    if dm not in policy.accepted_digests:
        raise SignatureInvalid(f"digest method {dm.value} not allowed")
    try:
        value = b64decode_text(kids[1].text)
    except ValueError as exc:
        raise SignatureInvalid("DigestValue is not base64") from exc
    return Reference(uri, tuple(transforms), dm, value, ref)


def verify_signature_value(
    signature: etree._Element, signed_info: SignedInfo, public_key: rsa.RSAPublicKey
) -> None:
    """Check SignatureValue over exc-C14N(SignedInfo) as parsed.

    Raises:
        SignatureInvalid: missing/garbled value or a signature that does not verify.
    """
    values = signature.findall(f"{{{DS}}}SignatureValue")
    if len(values) != 1:
        raise SignatureInvalid("ds:Signature needs exactly one SignatureValue")
    try:
        raw = b64decode_text(values[0].text)
    except ValueError as exc:
        raise SignatureInvalid("SignatureValue is not base64") from exc
    data = exc_c14n(signed_info.element, signed_info.c14n_prefixes)
    try:
        public_key.verify(raw, data, padding.PKCS1v15(), SIGNATURE_HASHES[signed_info.method]())
    except InvalidSignature as exc:
        raise SignatureInvalid("SignatureValue does not verify") from exc


def sign_bytes(key: rsa.RSAPrivateKey, data: bytes, method: SignatureAlgorithm) -> bytes:
    """RSA PKCS#1 v1.5 signature of ``data``."""
    return key.sign(data, padding.PKCS1v15(), SIGNATURE_HASHES[method]())


def append_reference(
    signed_info: etree._Element,
    *,
    uri: str,
    transforms: Sequence[Transform],
    digest_method: DigestAlgorithm,
    digest_value: bytes,
) -> etree._Element:
    """Append a ds:Reference to a SignedInfo being built."""
    ref = etree.SubElement(signed_info, f"{{{DS}}}Reference", URI=uri)
    if transforms:
        ts = etree.SubElement(ref, f"{{{DS}}}Transforms")
        for t in transforms:
            te = etree.SubElement(ts, f"{{{DS}}}Transform", Algorithm=t.algorithm.value)
            if t.prefixes:
                etree.SubElement(te, f"{{{EC}}}InclusiveNamespaces", PrefixList=" ".join(t.prefixes))
    etree.SubElement(ref, f"{{{DS}}}DigestMethod", Algorithm=digest_method.value)
    etree.SubElement(ref, f"{{{DS}}}DigestValue").text = b64(digest_value)
    return ref

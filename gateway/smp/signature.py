"""The SMP signature policy: every ``ds:Signature`` of signed service metadata verified against the SMP CA.

peppol-as4.md §9.3 "SMP signature": an enveloped XML-DSig over ``SignedServiceMetadata`` (``URI=""``,
enveloped-signature), key in ``X509Data/X509Certificate``, rsa-sha256 today and rsa-sha1 on old SMPs; the
signer chains to PEPPOL SERVICE METADATA PUBLISHER CA - G3 (or its TEST CA) and is not revoked. signxml does
the XML-DSig mechanics; the certificate path is ours (``validate_smp_certificate``), because the
Web-PKI profile signxml applies to chains rejects Peppol's critical extendedKeyUsage (§10.2).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from cryptography import x509
from lxml import etree
from signxml.algorithms import CanonicalizationMethod, DigestAlgorithm, SignatureMethod
from signxml.exceptions import SignXMLException
from signxml.verifier import SignatureConfiguration, XMLVerifier

from gateway.crypto import (
    CertRejection,
    RevocationChecker,
    TrustStore,
    b64decode_text,
    load_peer_certificate,
    validate_smp_certificate,
)
from gateway.errors import CertificateRejected, DiscoveryError, SignatureInvalid
from gateway.smp.outcome import LookupOutcome

log = logging.getLogger(__name__)

DS: Final = "http://www.w3.org/2000/09/xmldsig#"
_SHA1_URIS: Final = frozenset({SignatureMethod.RSA_SHA1.value, DigestAlgorithm.SHA1.value})


@dataclass(frozen=True, slots=True)
class SMPSignaturePolicy:
    """Whom an SMP signature must come from, and with which algorithms.

    Attributes:
        trust: the SMP CA(s) and root(s) of the stage, pinned (``TrustStore.pinned_to_smp_cas()``).
        allow_sha1: accept rsa-sha1 / sha1 (old SMPs, and the recorded G2 vectors); every use is logged.
        revocation: CRL/OCSP checker for the signer; None = offline.
    """

    trust: TrustStore
    allow_sha1: bool = False
    revocation: RevocationChecker | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        # An unpinned trust store would let any certificate of the hierarchy (an AP's) sign SMP answers.
        if not self.trust.leaf_issuers:
            raise ValueError("the SMP trust must be pinned to an SMP CA (TrustStore.pinned_to_smp_cas())")


@dataclass(frozen=True, slots=True)
class VerifiedMetadata:
    """The outcome of a good signature: only ``signed`` may be read ("see what is signed").

    Attributes:
        signed: the signed element (the document without its signature), re-parsed from its C14N.
        signer: the SMP certificate that signed it.
        signature_method: the SignatureMethod URI used.
    """

    signed: etree._Element
    signer: x509.Certificate
    signature_method: str


def _bad(detail: str) -> DiscoveryError:
    return LookupOutcome.BAD_SMP_SIGNATURE.error(detail)


def _signature(root: etree._Element) -> etree._Element:
    signatures = list(root.iter(f"{{{DS}}}Signature"))
    if not signatures:
        raise _bad("the service metadata is not signed")
    # A second signature cannot be checked independently of the first under an enveloped reference over the
    # whole document; a Peppol SMP response carries exactly one, as a child of SignedServiceMetadata.
    if len(signatures) > 1:
        raise _bad(f"the service metadata carries {len(signatures)} signatures; exactly one is allowed")
    signature = signatures[0]
    if signature.getparent() is not root:
        raise _bad("the ds:Signature is not a child of SignedServiceMetadata")
    references = signature.findall(f"{{{DS}}}SignedInfo/{{{DS}}}Reference")
    if len(references) != 1 or references[0].get("URI") != "":
        raise _bad('the SMP signature must have exactly one Reference, with URI=""')
    return signature


def _certificates(signature: etree._Element) -> list[x509.Certificate]:
    certificates: list[x509.Certificate] = []
    for element in signature.iterfind(f"{{{DS}}}KeyInfo/{{{DS}}}X509Data/{{{DS}}}X509Certificate"):
        try:
            certificates.append(load_peer_certificate(b64decode_text(element.text or "")))
        except (ValueError, SignatureInvalid) as exc:
            raise _bad("the SMP signature's X509Certificate cannot be read") from exc
    if not certificates:
        raise _bad("the SMP signature has no X509Data/X509Certificate")
    return certificates


def _expected(policy: SMPSignaturePolicy, at: datetime) -> SignatureConfiguration:
    methods = {SignatureMethod.RSA_SHA256}
    digests = {DigestAlgorithm.SHA256}
    if policy.allow_sha1:
        methods.add(SignatureMethod.RSA_SHA1)
        digests.add(DigestAlgorithm.SHA1)
    return SignatureConfiguration(
        location="./",
        expect_references=1,
        signature_methods=frozenset(methods),
        digest_algorithms=frozenset(digests),
        verification_time=at,
        # XML-DSig 1.0 §4.3.3.2: a node-set left without a C14N transform is serialised with inclusive
        # C14N 1.0 (the "c14n-inclusive" vector of ../shared/artefacts/peppol-smp-vectors).
        default_reference_c14n_method=CanonicalizationMethod.CANONICAL_XML_1_0,
    )


def verify_signed_metadata(
    root: etree._Element, policy: SMPSignaturePolicy, *, at: datetime
) -> VerifiedMetadata:
    """Verify the ``ds:Signature`` of signed service metadata and return what it signed.

    The document must be the one *as received*: re-indenting or stripping whitespace breaks the digest
    (the tampered vector ``signed-service-metadata1.xml`` is exactly that).

    Args:
        root: the parsed ``SignedServiceMetadata`` (hardened parser).
        policy: trust and algorithms.
        at: the verification time (certificate validity, revocation).

    Raises:
        SMPSignatureInvalid: unsigned, several signatures, wrong reference, forbidden algorithm, digest or
            signature mismatch, or a signer that is not a valid SMP certificate of the stage.
    """
    signature = _signature(root)
    certificates = _certificates(signature)
    signer = certificates[0]
    try:
        validate_smp_certificate(
            signer, policy.trust, at=at, extra_intermediates=certificates[1:], revocation=policy.revocation
        )
    except CertificateRejected as exc:
        reason = exc.reason.value if isinstance(exc.reason, CertRejection) else str(exc.reason)
        raise _bad(f"the SMP signing certificate is not acceptable ({reason}): {exc}") from exc
    try:
        result: Any = XMLVerifier().verify(root, x509_cert=signer, expect_config=_expected(policy, at))
    except (SignXMLException, ValueError, etree.LxmlError) as exc:
        # signxml raises InvalidInput (a ValueError) on bad input, and lxml's DocumentInvalid when the
        # ds:Signature fails the XML-DSig schema (found by tests/property/test_smp_garbage.py).
        raise _bad(f"the SMP signature does not verify: {exc}") from exc
    if result.signed_xml is None:
        raise _bad("the SMP signature signs no XML")
    method = signature.find(f"{{{DS}}}SignedInfo/{{{DS}}}SignatureMethod")
    method_uri = method.get("Algorithm", "") if method is not None else ""
    digests = {d.get("Algorithm", "") for d in signature.iter(f"{{{DS}}}DigestMethod")}
    if _SHA1_URIS & ({method_uri} | digests):
        log.warning(
            "accepted a SHA-1 SMP signature by %s (allowed for old SMPs only)",
            signer.subject.rfc4514_string(),
        )
    return VerifiedMetadata(result.signed_xml, signer, method_uri)


def _normalise_dn(text: str) -> str:
    return re.sub(r"\s*([,=+])\s*", r"\1", text.strip()).lower()


def signer_matches_uid(signer: x509.Certificate, certificate_uid: str) -> bool:
    """Whether a redirect target's signer is the certificate the redirecting SMP named.

    SMP 1.x §3.5: ``CertificateUID`` holds the subject of the destination SMP's certificate; it is
    compared as an X.500 name (RFC 4514 text), with a textual fallback that ignores case and blanks
    around separators.
    """
    try:
        if x509.Name.from_rfc4514_string(certificate_uid.strip()) == signer.subject:
            return True
    except ValueError:
        pass
    return _normalise_dn(certificate_uid) == _normalise_dn(signer.subject.rfc4514_string())

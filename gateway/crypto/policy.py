"""Algorithm identifiers (W3C/OASIS URIs as enum values) and the frozen Peppol AS4 security policy.

Peppol AS4 profile 2.0 = CEF eDelivery AS4 1.14 §"Security" (RSA only): RSA-SHA256 signatures with
SHA-256 digests and exclusive C14N; AES-128-GCM content encryption; RSA-OAEP (xmlenc11) with
MGF1-SHA256 key transport.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from cryptography.hazmat.primitives import hashes


class SignatureAlgorithm(StrEnum):
    """Signature methods (XML-DSig / RFC 6931 URIs)."""

    RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
    RSA_SHA384 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384"
    RSA_SHA512 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512"


class DigestAlgorithm(StrEnum):
    """Digest methods (XML-Enc URIs, also used by XML-DSig)."""

    SHA1 = "http://www.w3.org/2000/09/xmldsig#sha1"
    SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
    SHA384 = "http://www.w3.org/2001/04/xmldsig-more#sha384"
    SHA512 = "http://www.w3.org/2001/04/xmlenc#sha512"

    def hash(self) -> hashes.HashAlgorithm:
        """The cryptography hash object for this digest method."""
        return _HASHES[self]()


class CanonicalizationAlgorithm(StrEnum):
    """Canonicalisation methods. Only exclusive C14N without comments is used in Peppol AS4."""

    EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"


class TransformAlgorithm(StrEnum):
    """Reference transforms that may appear in a Peppol AS4 SignedInfo or CipherReference."""

    EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
    #: SwA profile 1.1 §5.4.2: digest the MIME content (raw octets for non-XML types).
    ATTACHMENT_CONTENT_SIGNATURE = (
        "http://docs.oasis-open.org/wss/oasis-wss-SwAProfile-1.1#Attachment-Content-Signature-Transform"
    )
    #: SwA profile 1.1 §5.5.2: the CipherReference resolves to the attachment body (ciphertext).
    ATTACHMENT_CIPHERTEXT = (
        "http://docs.oasis-open.org/wss/oasis-wss-SwAProfile-1.1#Attachment-Ciphertext-Transform"
    )


class KeyTransportAlgorithm(StrEnum):
    """Key transport (EncryptedKey) methods."""

    RSA_OAEP = "http://www.w3.org/2009/xmlenc11#rsa-oaep"
    #: xmlenc 1.0 OAEP, MGF fixed to MGF1-SHA1; accepted inbound for backward compatibility (CEF 1.14).
    RSA_OAEP_MGF1P = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"


class MGFAlgorithm(StrEnum):
    """Mask generation functions for RSA-OAEP (xmlenc11)."""

    MGF1_SHA1 = "http://www.w3.org/2009/xmlenc11#mgf1sha1"
    MGF1_SHA224 = "http://www.w3.org/2009/xmlenc11#mgf1sha224"
    MGF1_SHA256 = "http://www.w3.org/2009/xmlenc11#mgf1sha256"
    MGF1_SHA384 = "http://www.w3.org/2009/xmlenc11#mgf1sha384"
    MGF1_SHA512 = "http://www.w3.org/2009/xmlenc11#mgf1sha512"

    def hash(self) -> hashes.HashAlgorithm:
        """The hash used inside MGF1."""
        return _MGF_HASHES[self]()


class DataEncryptionAlgorithm(StrEnum):
    """Content encryption (EncryptedData) methods; CEF 1.14 allows AES-GCM only."""

    AES128_GCM = "http://www.w3.org/2009/xmlenc11#aes128-gcm"
    AES192_GCM = "http://www.w3.org/2009/xmlenc11#aes192-gcm"
    AES256_GCM = "http://www.w3.org/2009/xmlenc11#aes256-gcm"

    @property
    def key_size(self) -> int:
        """Key length in bytes."""
        return {"aes128-gcm": 16, "aes192-gcm": 24, "aes256-gcm": 32}[self.value.rsplit("#", 1)[1]]


_HASHES: Final[dict[DigestAlgorithm, Callable[[], hashes.HashAlgorithm]]] = {
    DigestAlgorithm.SHA1: hashes.SHA1,
    DigestAlgorithm.SHA256: hashes.SHA256,
    DigestAlgorithm.SHA384: hashes.SHA384,
    DigestAlgorithm.SHA512: hashes.SHA512,
}
_MGF_HASHES: Final[dict[MGFAlgorithm, Callable[[], hashes.HashAlgorithm]]] = {
    MGFAlgorithm.MGF1_SHA1: hashes.SHA1,
    MGFAlgorithm.MGF1_SHA224: hashes.SHA224,
    MGFAlgorithm.MGF1_SHA256: hashes.SHA256,
    MGFAlgorithm.MGF1_SHA384: hashes.SHA384,
    MGFAlgorithm.MGF1_SHA512: hashes.SHA512,
}

#: Signature method -> hash used with PKCS#1 v1.5.
SIGNATURE_HASHES: Final[dict[SignatureAlgorithm, Callable[[], hashes.HashAlgorithm]]] = {
    SignatureAlgorithm.RSA_SHA256: hashes.SHA256,
    SignatureAlgorithm.RSA_SHA384: hashes.SHA384,
    SignatureAlgorithm.RSA_SHA512: hashes.SHA512,
}


@dataclass(frozen=True, slots=True)
class SecurityPolicy:
    """What we send and what we accept. Frozen; pick :data:`PEPPOL_POLICY` rather than building one.

    Attributes:
        signature: the signature method we use.
        digest: the digest method we use for every reference.
        key_transport / mgf / key_transport_digest: RSA-OAEP parameters we declare when encrypting.
        data_encryption: the attachment cipher.
        accepted_signatures / accepted_digests: inbound methods that verify (anything else -> EBMS:0101).
        accepted_key_transports / accepted_data_encryptions: inbound decryption methods (else EBMS:0102).
        accepted_oaep_digests / accepted_mgfs: declared OAEP parameters we honour (read, never assumed).
        min_rsa_key_bits: smallest RSA modulus a signer may use (Peppol AP keys are 2048 bits, peppol-as4.md
            §15; WS-SecurityPolicy 1.3 §6.1 AlgorithmSuite [Min AKL] is the same idea).
    """

    signature: SignatureAlgorithm = SignatureAlgorithm.RSA_SHA256
    digest: DigestAlgorithm = DigestAlgorithm.SHA256
    key_transport: KeyTransportAlgorithm = KeyTransportAlgorithm.RSA_OAEP
    mgf: MGFAlgorithm = MGFAlgorithm.MGF1_SHA256
    key_transport_digest: DigestAlgorithm = DigestAlgorithm.SHA256
    data_encryption: DataEncryptionAlgorithm = DataEncryptionAlgorithm.AES128_GCM
    accepted_signatures: frozenset[SignatureAlgorithm] = field(
        default_factory=lambda: frozenset({SignatureAlgorithm.RSA_SHA256})
    )
    accepted_digests: frozenset[DigestAlgorithm] = field(
        default_factory=lambda: frozenset({DigestAlgorithm.SHA256})
    )
    accepted_key_transports: frozenset[KeyTransportAlgorithm] = field(
        default_factory=lambda: frozenset(KeyTransportAlgorithm)
    )
    accepted_oaep_digests: frozenset[DigestAlgorithm] = field(
        default_factory=lambda: frozenset(DigestAlgorithm)
    )
    accepted_mgfs: frozenset[MGFAlgorithm] = field(default_factory=lambda: frozenset(MGFAlgorithm))
    accepted_data_encryptions: frozenset[DataEncryptionAlgorithm] = field(
        default_factory=lambda: frozenset(DataEncryptionAlgorithm)
    )
    min_rsa_key_bits: int = 2048


#: The Peppol AS4 profile 2.0 policy (CEF eDelivery AS4 1.14): the only one the gateway uses.
PEPPOL_POLICY: Final = SecurityPolicy()

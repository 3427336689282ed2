"""The archive's detached signature: ``SHA256SUMS`` signed with the access point's own key.

``SHA256SUMS`` holds the SHA-256 of every file of the archive, ``manifest.json`` included, so one
signature over it covers the whole archive. The scheme is the one the gateway signs AS4 messages with,
RSA PKCS#1 v1.5 with SHA-256 (``crypto.sign_bytes``), over the file's bytes as they are; it is computed
from the SHA-256 of ``SHA256SUMS`` (prehashed: the same signature, without holding the file, which
lists a million files for a year). Two files sit beside ``SHA256SUMS``, outside the manifest:

* ``SHA256SUMS.sig``: the raw signature, as ``openssl dgst -sha256 -sign`` writes it;
* ``SHA256SUMS.pem``: the AP certificate that signed, then the CA certificates of the keystore.

Checked without the gateway (``openssl x509`` and ``openssl verify`` read the first certificate)::

    openssl x509 -in SHA256SUMS.pem -pubkey -noout > ap-key.pem
    openssl dgst -sha256 -verify ap-key.pem -signature SHA256SUMS.sig SHA256SUMS
    openssl verify -CAfile peppol-ap-ca-and-root.pem -attime <created_at as Unix time> SHA256SUMS.pem
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.hazmat.primitives.serialization import Encoding

from gateway.crypto import KeyMaterial, load_certificates
from gateway.errors import GatewayError

SIGNATURE: Final = "SHA256SUMS.sig"
SIGNER: Final = "SHA256SUMS.pem"


def sign_sums(identity: KeyMaterial, sums_sha256: bytes) -> tuple[bytes, bytes]:
    """The signature of the ``SHA256SUMS`` whose SHA-256 is ``sums_sha256``, and the signer's PEM chain."""
    signature = identity.private_key.sign(sums_sha256, padding.PKCS1v15(), Prehashed(hashes.SHA256()))
    chain = (identity.certificate, *identity.chain)
    return signature, b"".join(c.public_bytes(Encoding.PEM) for c in chain)


@dataclass(frozen=True, slots=True)
class SignatureCheck:
    """The outcome of checking the signature: ``problem`` None when it verifies, and who signed."""

    problem: str | None
    signer: str | None = None


def _describe(certificate: x509.Certificate) -> str:
    fingerprint = certificate.fingerprint(hashes.SHA256()).hex()
    return (
        f"{certificate.subject.rfc4514_string()} (issuer {certificate.issuer.rfc4514_string()}, "
        f"valid {certificate.not_valid_before_utc:%Y-%m-%d} to {certificate.not_valid_after_utc:%Y-%m-%d}, "
        f"SHA-256 fingerprint {fingerprint})"
    )


def check_signature(sums_sha256: bytes, signature: bytes, signer_pem: bytes) -> SignatureCheck:
    """Check ``signature`` over the ``SHA256SUMS`` whose SHA-256 is ``sums_sha256`` with the first
    certificate of ``signer_pem``. Whether that certificate is the cooperative's AP certificate, issued
    by the Peppol AP CA, is for the reader to compare (the description names it)."""
    try:
        certificates = load_certificates(signer_pem)
    except (GatewayError, ValueError) as exc:
        return SignatureCheck(f"{SIGNER}: no certificate ({exc})")
    if not certificates:
        return SignatureCheck(f"{SIGNER}: no certificate")
    certificate = certificates[0]
    key = certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        return SignatureCheck(f"{SIGNER}: not an RSA certificate")
    signer = _describe(certificate)
    try:
        key.verify(signature, sums_sha256, padding.PKCS1v15(), Prehashed(hashes.SHA256()))
    except InvalidSignature:
        return SignatureCheck(f"{SIGNATURE}: does not verify over SHA256SUMS with {SIGNER}", signer)
    return SignatureCheck(None, signer)

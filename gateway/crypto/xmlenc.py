"""XML-Enc primitives for Peppol attachments: AES-GCM content encryption and RSA-OAEP key transport.

AES-GCM part body = IV(12) || ciphertext || tag(16) (XML-Enc 1.1 §5.2.4; peppol-as4.md §6.3).
"""

from __future__ import annotations

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gateway.crypto.policy import DigestAlgorithm, MGFAlgorithm
from gateway.errors import DecryptionFailed

GCM_IV_BYTES = 12
GCM_TAG_BYTES = 16


def aes_gcm_encrypt(key: bytes, plaintext: bytes, iv: bytes) -> bytes:
    """Encrypt; returns IV || ciphertext || tag. ``iv`` must be 12 fresh random bytes."""
    return iv + aes_gcm_encrypt_after_iv(key, plaintext, iv)


def aes_gcm_encrypt_after_iv(key: bytes, plaintext: bytes, iv: bytes) -> bytes:
    """Encrypt; returns ciphertext || tag, what follows the IV in the part body. For large payloads: the
    caller writes the IV and this next to each other instead of copying both into one string."""
    if len(iv) != GCM_IV_BYTES:
        raise ValueError("AES-GCM IV must be 12 bytes")
    return AESGCM(key).encrypt(iv, plaintext, None)


def aes_gcm_decrypt(key: bytes, data: bytes) -> bytes:
    """Decrypt IV || ciphertext || tag.

    Raises:
        DecryptionFailed: too short, wrong key length or authentication failure.
    """
    if len(data) < GCM_IV_BYTES + GCM_TAG_BYTES:
        raise DecryptionFailed("AES-GCM data too short")
    try:
        view = memoryview(data)  # slices of a view: the ciphertext is not copied before decryption
        return AESGCM(key).decrypt(bytes(view[:GCM_IV_BYTES]), view[GCM_IV_BYTES:], None)
    except (InvalidTag, ValueError) as exc:
        raise DecryptionFailed("AES-GCM authentication failed") from exc


def rsa_oaep_wrap(
    public_key: rsa.RSAPublicKey, key: bytes, *, digest: DigestAlgorithm, mgf: MGFAlgorithm
) -> bytes:
    """Encrypt a content key with RSA-OAEP."""
    return public_key.encrypt(key, padding.OAEP(padding.MGF1(mgf.hash()), digest.hash(), None))


def rsa_oaep_unwrap(
    private_key: rsa.RSAPrivateKey,
    wrapped: bytes,
    *,
    digest: DigestAlgorithm,
    mgf: MGFAlgorithm,
    label: bytes | None = None,
) -> bytes:
    """Decrypt a content key with the *declared* OAEP digest and MGF (peppol-as4.md §6.1).

    Raises:
        DecryptionFailed: wrong key, parameters or padding.
    """
    try:
        return private_key.decrypt(
            wrapped, padding.OAEP(padding.MGF1(mgf.hash()), digest.hash(), label or None)
        )
    except ValueError as exc:
        raise DecryptionFailed("RSA-OAEP key unwrap failed") from exc

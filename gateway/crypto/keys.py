"""Load the access point's private key and certificate from PKCS#12 or PEM bytes.

The caller (bootstrap / CLI) reads the files named in the settings; this module only sees bytes and a
password, and never puts the password into an exception or log line.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import lru_cache

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12

from gateway.errors import KeyMaterialError


@dataclass(frozen=True, slots=True, repr=False)
class KeyMaterial:
    """An RSA private key with its certificate (and any CA certificates shipped alongside).

    Attributes:
        private_key: the RSA private key (Peppol AS4 profile 2.0 is RSA only).
        certificate: the AP certificate matching the key.
        chain: further certificates found in the container (AP CA, root), leaf excluded.
    """

    private_key: rsa.RSAPrivateKey
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...] = ()

    def __repr__(self) -> str:  # never show key material
        return f"KeyMaterial(subject={self.certificate.subject.rfc4514_string()!r})"


def _password_bytes(password: str | bytes | None) -> bytes | None:
    if password is None or password in ("", b""):
        return None
    return password.encode() if isinstance(password, str) else password


def load_certificates(data: bytes) -> list[x509.Certificate]:
    """Parse every certificate in PEM (one or more blocks) or a single DER certificate.

    Raises:
        KeyMaterialError: nothing parseable.
    """
    try:
        if b"-----BEGIN" in data:
            certs = x509.load_pem_x509_certificates(data)
        else:
            certs = [x509.load_der_x509_certificate(data)]
    except ValueError as exc:
        raise KeyMaterialError("certificate data is neither PEM nor DER X.509") from exc
    return certs


def _check_pair(key: object, cert: x509.Certificate) -> rsa.RSAPrivateKey:
    if not isinstance(key, rsa.RSAPrivateKey):
        raise KeyMaterialError("the private key is not RSA (Peppol AS4 profile 2.0 requires RSA)")
    pub = cert.public_key()
    if not isinstance(pub, rsa.RSAPublicKey) or pub.public_numbers() != key.public_key().public_numbers():
        raise KeyMaterialError("the private key does not belong to the certificate")
    return key


def load_key_material(
    data: bytes, *, password: str | bytes | None = None, certificate: bytes | None = None
) -> KeyMaterial:
    """Load a key and certificate from a PKCS#12 container or PEM.

    Args:
        data: a PKCS#12 (.p12/.pfx) file, or a PEM holding the private key (and optionally the certificate).
        password: the container or PEM key password, if any.
        certificate: PEM/DER certificate bytes when ``data`` is a PEM key without its certificate.

    Returns:
        The key material; the leaf is the certificate whose public key matches the private key.

    Raises:
        KeyMaterialError: wrong password, unknown format, non-RSA key, or key and certificate mismatch.
    """
    pw = _password_bytes(password)
    if b"-----BEGIN" not in data:
        try:
            p12 = pkcs12.load_pkcs12(data, pw)
        except (ValueError, TypeError) as exc:
            # The message of cryptography may mention a bad password; ours never carries the password itself.
            raise KeyMaterialError(
                "cannot open the PKCS#12 container (wrong password or not PKCS#12)"
            ) from exc
        if p12.key is None or p12.cert is None:
            raise KeyMaterialError("the PKCS#12 container lacks a private key or its certificate")
        cert = p12.cert.certificate
        extra = tuple(c.certificate for c in p12.additional_certs)
        return KeyMaterial(_check_pair(p12.key, cert), cert, extra)
    try:
        key = serialization.load_pem_private_key(data, pw)
    except (ValueError, TypeError) as exc:
        raise KeyMaterialError("cannot read the PEM private key (wrong password or format)") from exc
    certs: list[x509.Certificate] = []
    if certificate is not None:
        certs.extend(load_certificates(certificate))
    if b"CERTIFICATE-----" in data:
        certs.extend(load_certificates(data))
    if not certs:
        raise KeyMaterialError("no certificate given for the PEM private key")
    if not isinstance(key, rsa.RSAPrivateKey):
        raise KeyMaterialError("the private key is not RSA (Peppol AS4 profile 2.0 requires RSA)")
    numbers = key.public_key().public_numbers()
    for cert in certs:
        pub = cert.public_key()
        if isinstance(pub, rsa.RSAPublicKey) and pub.public_numbers() == numbers:
            return KeyMaterial(key, cert, tuple(c for c in certs if c is not cert))
    raise KeyMaterialError("the private key does not belong to the certificate")


#: Certificates up to this size are remembered (a Peppol certificate has ~2 KB): a sender controls a BST's
#: size, up to the SOAP limit, before any trust check, and 256 remembered ones of 2 MiB would pin ~1 GB.
REMEMBERED_CERTIFICATE_BYTES = 16 * 1024


def load_peer_certificate(der: bytes) -> x509.Certificate:
    """A certificate received from a peer (an AS4 BST, an SMP signer or endpoint certificate), parsed
    strictly.

    cryptography parses names lazily and only warns about an attribute outside its X.520 length limits (e.g. a
    23-character countryName); such a certificate is malformed, and reading its names later must not warn or
    fail half-way through a check. Both names are read here, with such warnings turned into a refusal.

    Raises:
        ValueError: the bytes are not a DER certificate, or a name in it is malformed.

    The certificates of the peers recur (every AS4 message and receipt carries its signer's): the parsed,
    checked ones are remembered by their bytes (a certificate object is immutable; a refusal is not kept).
    Parsing and the name check cost ≈ 37 us a call (issue 12). Only certificates of a usual size
    (``REMEMBERED_CERTIFICATE_BYTES``) are remembered.
    """
    if len(der) <= REMEMBERED_CERTIFICATE_BYTES:
        return _remembered_peer_certificate(der)
    return _parse_peer_certificate(der)


@lru_cache(maxsize=256)
def _remembered_peer_certificate(der: bytes) -> x509.Certificate:
    return _parse_peer_certificate(der)


def _parse_peer_certificate(der: bytes) -> x509.Certificate:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            certificate = x509.load_der_x509_certificate(der)
            certificate.subject.rfc4514_string()
            certificate.issuer.rfc4514_string()
        except (UserWarning, AttributeError, KeyError) as exc:  # KeyError: a name of an unknown string tag
            raise ValueError(f"malformed certificate: {exc}") from exc
    return certificate

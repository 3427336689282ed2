"""Certificates received from peers are parsed strictly: a malformed name is a refusal, never a warning that
surfaces half-way through a signature or path check (found by tests/property/test_smp_garbage.py)."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from gateway.crypto import load_peer_certificate


def _der(country: str, *, padding: int = 0) -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # building the malformed name warns too
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, country, _validate=False),
                x509.NameAttribute(NameOID.COMMON_NAME, "POP000009"),
            ]
        )
    now = datetime(2026, 12, 1, tzinfo=UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(7)
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1))
    )
    if padding:  # an unknown, non-critical extension: the certificate still parses
        unknown = x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.99999.1"), b"\0" * padding)
        cert = cert.add_extension(unknown, critical=False)
    return cert.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def test_a_well_formed_certificate_loads() -> None:
    assert load_peer_certificate(_der("BE")).serial_number == 7


def test_only_certificates_of_a_usual_size_are_remembered() -> None:
    """A sender controls the BST (up to the SOAP limit, 2 MiB) before any trust check: 256 remembered
    certificates of a megabyte would pin ~0.5 GB per process."""
    usual = _der("BE")
    assert load_peer_certificate(usual) is load_peer_certificate(usual)
    large = _der("BE", padding=1024 * 1024)
    assert load_peer_certificate(large).serial_number == 7
    assert load_peer_certificate(large) is not load_peer_certificate(large)


def test_a_name_outside_the_x520_limits_is_refused_without_a_warning() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning escaping would fail here
        with pytest.raises(ValueError, match="malformed certificate"):
            load_peer_certificate(_der("Gateway Development SMP"))


def test_bytes_that_are_no_certificate_are_refused() -> None:
    with pytest.raises(ValueError, match=r"(?i)certificate|asn\.?1|parse|der"):
        load_peer_certificate(b"\x30\x03\x02\x01\x00")


def test_a_name_of_an_unknown_string_type_is_refused() -> None:
    # Found by tests/property/test_as4_garbage.py: a name attribute whose ASN.1 string tag is none that
    # cryptography knows (0xFC here) made its rfc4514_string raise KeyError, an internal error (EBMS:0004)
    # for the sender's bytes instead of a refusal.
    der = _der("BE")
    common_name = der.index(bytes([0x06, 0x03, 0x55, 0x04, 0x03])) + 5  # the CN's value tag
    assert der[common_name] in (0x0C, 0x13)  # UTF8String or PrintableString
    mutated = der[:common_name] + b"\xfc" + der[common_name + 1 :]
    with pytest.raises(ValueError, match="malformed certificate"):
        load_peer_certificate(mutated)

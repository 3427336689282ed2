"""The AP leaf profile (peppol-as4.md §10.1-§10.2): basicConstraints CA:FALSE, keyUsage digitalSignature and
extendedKeyUsage clientAuth must be present, and the subject holds exactly one CN (the Seat ID)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta

import pytest
from as4_support import NOW, dev_pki
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from gateway.crypto import CertRejection, validate_ap_certificate, validate_smp_certificate
from gateway.errors import CertificateRejected

Validator = Callable[..., tuple[x509.Certificate, ...]]

_KEY = rsa.generate_private_key(65537, 2048)
_END_ENTITY = x509.BasicConstraints(ca=False, path_length=None)
_GOOD_KU = x509.KeyUsage(True, False, True, True, False, False, False, False, False)
_NO_SIGN_KU = x509.KeyUsage(False, False, True, True, False, False, False, False, False)


def _leaf(
    *,
    bc: x509.BasicConstraints | None = _END_ENTITY,
    ku: x509.KeyUsage | None = _GOOD_KU,
    eku: Sequence[x509.ObjectIdentifier] | None = (ExtendedKeyUsageOID.CLIENT_AUTH,),
    cns: Sequence[str] = ("POP000001",),
) -> x509.Certificate:
    """A leaf from the dev AP CA, shaped like a Peppol AP certificate except where told otherwise."""
    ca = dev_pki().pki.ap_ca
    subject = x509.Name(
        [x509.NameAttribute(NameOID.COUNTRY_NAME, "BE")]
        + [x509.NameAttribute(NameOID.COMMON_NAME, cn) for cn in cns]
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca.certificate.subject)
        .public_key(_KEY.public_key())
        .serial_number(4242)
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=365))
    )
    if bc is not None:
        builder = builder.add_extension(bc, critical=True)
    if ku is not None:
        builder = builder.add_extension(ku, critical=True)
    if eku is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(eku)), critical=True)
    return builder.sign(ca.key, hashes.SHA256())


def test_control_leaf_shaped_like_a_peppol_ap_passes() -> None:
    path = validate_ap_certificate(_leaf(), dev_pki().trust, at=NOW)
    assert len(path) == 3


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"bc": None}, CertRejection.MISSING_EXTENSION),
        ({"bc": x509.BasicConstraints(ca=True, path_length=None)}, CertRejection.IS_A_CA),
        ({"ku": None}, CertRejection.MISSING_EXTENSION),
        ({"ku": _NO_SIGN_KU}, CertRejection.KEY_USAGE),
        ({"eku": None}, CertRejection.MISSING_EXTENSION),
        ({"eku": (ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE,)}, CertRejection.KEY_USAGE),
        ({"eku": (ExtendedKeyUsageOID.SERVER_AUTH,)}, CertRejection.KEY_USAGE),
        ({"cns": ()}, CertRejection.NO_COMMON_NAME),
        ({"cns": ("POP000001", "POP000002")}, CertRejection.AMBIGUOUS_COMMON_NAME),
    ],
    ids=[
        "no-basic-constraints",
        "ca-true",
        "no-key-usage",
        "key-usage-without-digital-signature",
        "no-eku",
        "any-eku-only",
        "server-auth-only",
        "no-cn",
        "two-cns",
    ],
)
def test_leaf_profile_violations_are_rejected(kwargs: dict[str, object], reason: CertRejection) -> None:
    cert = _leaf(**kwargs)  # type: ignore[arg-type]
    with pytest.raises(CertificateRejected) as info:
        validate_ap_certificate(cert, dev_pki().trust, at=NOW)
    assert info.value.reason is reason


def test_any_eku_next_to_client_auth_is_fine() -> None:
    eku = (ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE)
    assert validate_ap_certificate(_leaf(eku=eku), dev_pki().trust, at=NOW)


def _with_duplicate_basic_constraints() -> x509.Certificate:
    """A leaf whose keyUsage extension's OID was turned into basicConstraints' (2.5.29.15 -> 2.5.29.19):
    two basicConstraints extensions, which the certificate's lazy extension parsing refuses."""
    der = _leaf().public_bytes(serialization.Encoding.DER)
    key_usage_oid, basic_constraints_oid = bytes.fromhex("0603551d0f"), bytes.fromhex("0603551d13")
    assert der.count(key_usage_oid) == 1
    return x509.load_der_x509_certificate(der.replace(key_usage_oid, basic_constraints_oid))


@pytest.mark.parametrize("validate", [validate_ap_certificate, validate_smp_certificate])
def test_a_certificate_with_a_duplicate_extension_is_rejected_as_malformed(validate: Validator) -> None:
    with pytest.raises(CertificateRejected) as exc:
        validate(_with_duplicate_basic_constraints(), dev_pki().trust, at=NOW)
    assert exc.value.reason is CertRejection.MALFORMED

"""Throwaway development PKI: root -> "AP CA" -> AP certificates shaped like Peppol G3 AP certificates.

For tests and local development only (peppol-as4.md §15: never real keys in tests). Everything is
returned as bytes; writing files is the CLI's job.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from gateway.crypto.keys import KeyMaterial

#: Password of every PKCS#12 file the development PKI writes (documented in certs/README.md).
DEV_PKCS12_PASSWORD = "dev"  # noqa: S105 - a documented throwaway password
#: Organisation (O) of every certificate of the development PKI (subjects and issuers alike): a production
#: gateway refuses keys and anchors that carry it (``gateway.bootstrap``).
DEV_ORGANIZATION = "Gateway Development"


@dataclass(frozen=True, slots=True, repr=False)
class DevIdentity:
    """One generated certificate with its key."""

    name: str
    key: rsa.RSAPrivateKey
    certificate: x509.Certificate

    def key_material(self, chain: Sequence[x509.Certificate] = ()) -> KeyMaterial:
        """As :class:`KeyMaterial` (what the AS4 builder and parser take)."""
        return KeyMaterial(self.key, self.certificate, tuple(chain))

    @property
    def cert_pem(self) -> bytes:
        """Certificate as PEM."""
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    @property
    def key_pem(self) -> bytes:
        """Unencrypted PKCS#8 PEM private key."""
        return self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )


@dataclass(frozen=True, slots=True, repr=False)
class DevPKI:
    """The generated hierarchy. ``aps`` are the AP identities keyed by Seat ID (CN).

    ``smp_ca`` (root -> "Dev Peppol Service Metadata Publisher CA") and ``smp`` (the signing certificate of
    the development SMP, ``gateway devnet``) stand in for the Peppol SMP CA G3 and an SMP certificate.
    """

    root: DevIdentity
    ap_ca: DevIdentity
    aps: dict[str, DevIdentity] = field(default_factory=dict)
    smp_ca: DevIdentity | None = None
    smp: DevIdentity | None = None

    def files(self, password: str = DEV_PKCS12_PASSWORD) -> dict[str, bytes]:
        """File name -> content: PEM certificates/keys and one PKCS#12 per AP (with the chain)."""
        out = {
            "root.pem": self.root.cert_pem,
            "apca.pem": self.ap_ca.cert_pem,
            "chain.pem": self.ap_ca.cert_pem + self.root.cert_pem,
            "root.key.pem": self.root.key_pem,
            "apca.key.pem": self.ap_ca.key_pem,
        }
        if self.smp_ca is not None:
            out["smpca.pem"] = self.smp_ca.cert_pem
            out["smpca.key.pem"] = self.smp_ca.key_pem
            out["smp-trust.pem"] = self.smp_ca.cert_pem + self.root.cert_pem
        if self.smp is not None:
            out["smp.cert.pem"] = self.smp.cert_pem
            out["smp.key.pem"] = self.smp.key_pem
        for cn, ident in self.aps.items():
            base = cn.lower()
            out[f"{base}.cert.pem"] = ident.cert_pem
            out[f"{base}.key.pem"] = ident.key_pem
            out[f"{base}.p12"] = pkcs12.serialize_key_and_certificates(
                base.encode(),
                ident.key,
                ident.certificate,
                [self.ap_ca.certificate, self.root.certificate],
                serialization.BestAvailableEncryption(password.encode()),
            )
        return out

    def write(self, directory: Path, password: str = DEV_PKCS12_PASSWORD, *, overwrite: bool = False) -> None:
        """Write ``files(password)`` into ``directory`` (created if missing).

        Private keys and PKCS#12 files are created with mode 0600 from the first byte (``os.open`` with
        the mode, never a chmod afterwards, so no other user can open them in between); a file being
        replaced is removed first, so its old mode is not kept either.

        Raises:
            FileExistsError: a file exists and ``overwrite`` is false.
        """
        directory.mkdir(parents=True, exist_ok=True)
        for name, data in self.files(password).items():
            path = directory / name
            if overwrite:
                path.unlink(missing_ok=True)
            mode = 0o600 if is_private_file(name) else 0o644
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(data)


def is_private_file(name: str) -> bool:
    """True for the files of ``DevPKI.files()`` that hold a private key (PEM key or PKCS#12)."""
    return name.endswith((".key.pem", ".p12"))


def _name(cn: str, org: str, country: str = "BE", ou: str | None = None) -> x509.Name:
    attrs = [
        x509.NameAttribute(NameOID.COUNTRY_NAME, country),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
    ]
    if ou:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(attrs)


def issue_certificate(
    *,
    subject: x509.Name,
    key: rsa.RSAPrivateKey,
    issuer: DevIdentity | None,
    not_before: datetime,
    not_after: datetime,
    ca: bool,
    serial: int,
) -> x509.Certificate:
    """Issue a certificate (self-signed when ``issuer`` is None) with Peppol-like extensions."""
    signer_key = issuer.key if issuer else key
    issuer_name = issuer.certificate.subject if issuer else subject
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if issuer:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), critical=False
        )
    if ca:
        ku = x509.KeyUsage(False, False, False, False, False, True, True, False, False)
        builder = builder.add_extension(ku, critical=True)
    else:
        # peppol-as4.md §10.1: digitalSignature|keyEncipherment|dataEncipherment, critical EKU clientAuth.
        ku = x509.KeyUsage(True, False, True, True, False, False, False, False, False)
        builder = builder.add_extension(ku, critical=True)
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=True
        )
    return builder.sign(signer_key, hashes.SHA256())


def generate_dev_pki(
    *,
    now: datetime,
    seat_ids: Sequence[str] = ("POP000001", "POP000002"),
    key_size: int = 2048,
    ap_validity: timedelta = timedelta(days=730),
    smp_id: str | None = "PSM000001",
) -> DevPKI:
    """Generate root -> AP CA -> one AP certificate per Seat ID, and root -> SMP CA -> SMP certificate.

    Args:
        now: reference time (CAs valid from now-5y to now+10y, APs from now-1d for ``ap_validity``).
        seat_ids: the AP CNs.
        key_size: RSA key size (2048 like Peppol AP keys).
        ap_validity: lifetime of the AP certificates.
        smp_id: CN of the development SMP signing certificate; None = no SMP CA and no SMP certificate.
    """
    root_key = rsa.generate_private_key(65537, key_size)
    root_cert = issue_certificate(
        subject=_name("Dev Peppol Root CA", DEV_ORGANIZATION, ou="FOR TEST ONLY"),
        key=root_key,
        issuer=None,
        not_before=now - timedelta(days=5 * 365),
        not_after=now + timedelta(days=10 * 365),
        ca=True,
        serial=1,
    )
    root = DevIdentity("root", root_key, root_cert)
    ca_key = rsa.generate_private_key(65537, key_size)
    ca_cert = issue_certificate(
        subject=_name("Dev Peppol Access Point CA", DEV_ORGANIZATION, ou="FOR TEST ONLY"),
        key=ca_key,
        issuer=root,
        not_before=now - timedelta(days=5 * 365),
        not_after=now + timedelta(days=10 * 365),
        ca=True,
        serial=2,
    )
    ap_ca = DevIdentity("apca", ca_key, ca_cert)
    aps: dict[str, DevIdentity] = {}
    for i, cn in enumerate(seat_ids):
        aps[cn] = issue_ap(ap_ca, cn, now=now, validity=ap_validity, serial=100 + i, key_size=key_size)
    if smp_id is None:
        return DevPKI(root, ap_ca, aps)
    smp_ca_key = rsa.generate_private_key(65537, key_size)
    smp_ca = DevIdentity(
        "smpca",
        smp_ca_key,
        issue_certificate(
            # The CN names a "SERVICE METADATA PUBLISHER" CA like the Peppol G3 one, so the SMP trust of the
            # development stage pins to it exactly as test and production pin to theirs.
            subject=_name(
                "Dev Peppol Service Metadata Publisher CA", "Gateway Development", ou="FOR TEST ONLY"
            ),
            key=smp_ca_key,
            issuer=root,
            not_before=now - timedelta(days=5 * 365),
            not_after=now + timedelta(days=10 * 365),
            ca=True,
            serial=3,
        ),
    )
    smp = issue_smp(smp_ca, smp_id, now=now, serial=500, key_size=key_size)
    return DevPKI(root, ap_ca, aps, smp_ca, smp)


def issue_smp(
    ca: DevIdentity,
    cn: str,
    *,
    now: datetime,
    validity: timedelta = timedelta(days=730),
    serial: int = 2000,
    key_size: int = 2048,
) -> DevIdentity:
    """Issue one SMP signing certificate (``OU=PEPPOL TEST SMP``) from ``ca``, valid from now - 1 day."""
    key = rsa.generate_private_key(65537, key_size)
    start = now - timedelta(days=1)
    cert = issue_certificate(
        subject=_name(cn, "Gateway Development SMP", ou="PEPPOL TEST SMP"),
        key=key,
        issuer=ca,
        not_before=start,
        not_after=start + validity,
        ca=False,
        serial=serial,
    )
    return DevIdentity(cn, key, cert)


def issue_ap(
    ca: DevIdentity,
    cn: str,
    *,
    now: datetime,
    validity: timedelta = timedelta(days=730),
    not_before: datetime | None = None,
    serial: int = 1000,
    key_size: int = 2048,
) -> DevIdentity:
    """Issue one AP certificate (CN = Seat ID) from ``ca``; ``not_before`` defaults to now - 1 day."""
    key = rsa.generate_private_key(65537, key_size)
    start = not_before if not_before is not None else now - timedelta(days=1)
    cert = issue_certificate(
        subject=_name(cn, f"{DEV_ORGANIZATION} AP", ou="PEPPOL TEST AP"),
        key=key,
        issuer=ca,
        not_before=start,
        not_after=start + validity,
        ca=False,
        serial=serial,
    )
    return DevIdentity(cn, key, cert)

"""Key material, trust anchors, revocation checking and served participants read from the settings."""

from __future__ import annotations

from pathlib import Path

from gateway.config import Settings
from gateway.crypto import (
    CRLRevocationChecker,
    KeyMaterial,
    RevocationChecker,
    TrustStore,
    load_key_material,
)
from gateway.crypto.ocsp import CRLThenOCSP, OCSPRevocationChecker
from gateway.errors import ConfigurationError, GatewayError
from gateway.model import ParticipantID
from gateway.transport.crl_http import HTTPCRLFetcher
from gateway.transport.ocsp_http import HTTPOCSPPoster


def read_file(path: Path, what: str) -> bytes:
    """The bytes of a configured file; ConfigurationError naming ``what`` when it cannot be read."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"cannot read the {what} {path}: {exc.strerror}") from exc


def load_identity(settings: Settings) -> KeyMaterial | None:
    """Our AP key and certificate, or None when no keystore is configured (AS4 disabled)."""
    keystore = settings.keystore
    if keystore.path is None:
        return None
    password = keystore.password.get_secret_value() if keystore.password else None
    certificate = read_file(keystore.cert_path, "certificate") if keystore.cert_path else None
    try:
        return load_key_material(
            read_file(keystore.path, "keystore"), password=password, certificate=certificate
        )
    except GatewayError as exc:
        raise ConfigurationError(f"keystore {keystore.path}: {exc}") from exc


def load_trust(settings: Settings) -> TrustStore | None:
    """The AP trust anchors of the configured stage, or None when none are configured."""
    paths = settings.truststore.paths
    if not paths:
        return None
    trust = TrustStore.from_pem(*(read_file(p, "trust store") for p in paths))
    if settings.truststore.stage == "development":
        return trust
    # The Peppol G3 files also hold the SMP CA: only the AP CA may issue an AP certificate (§10.2 item 2).
    pinned = trust.pinned_to_access_point_cas()
    if not pinned.leaf_issuers:
        raise ConfigurationError("the trust store holds no PEPPOL ACCESS POINT CA certificate")
    return pinned


def build_revocation(settings: Settings) -> RevocationChecker | None:
    """The AP certificates' revocation checker (CRL, OCSP, or CRL then OCSP); None when off (the default)."""
    truststore = settings.truststore
    mode = truststore.revocation
    if mode == "off":
        return None
    crl = CRLRevocationChecker(
        HTTPCRLFetcher(),
        soft_fail=mode == "crl-soft",
        allowed_url_prefixes=tuple(truststore.crl_url_prefixes),
    )
    if mode in ("crl", "crl-soft"):
        return crl
    ocsp = OCSPRevocationChecker(
        HTTPOCSPPoster(),
        soft_fail_unknown=truststore.ocsp_unknown_soft_fail,
        allowed_url_prefixes=tuple(truststore.ocsp_url_prefixes),
    )
    return ocsp if mode == "ocsp" else CRLThenOCSP(crl, ocsp)


def parse_served(settings: Settings) -> frozenset[ParticipantID]:
    """The participants our /as4 endpoint receives for."""
    try:
        return frozenset(ParticipantID.parse(p) for p in settings.as4.served)
    except GatewayError as exc:
        raise ConfigurationError(f"GATEWAY_AS4__SERVED: {exc}") from exc

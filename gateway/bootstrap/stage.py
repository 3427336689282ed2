"""Start-up checks: no development or placeholder material in production, no expired or
wrong-stage certificates; and what a production gateway is warned of, not refused (``stage_warnings``)."""

from __future__ import annotations

from datetime import datetime
from typing import Final

from cryptography import x509
from cryptography.x509.oid import NameOID

from gateway.config import Settings
from gateway.crypto import (
    DEV_PKCS12_PASSWORD,
    KeyMaterial,
    TrustStore,
    common_name,
    validate_ap_certificate,
)
from gateway.crypto.devpki import DEV_ORGANIZATION
from gateway.crypto.lifecycle import ExpiryState, expiries, watched_certificates
from gateway.errors import CertificateRejected, ConfigurationError

#: Participant ids that only appear as examples: the seller of the recommended Belgian golden set
#: (bis-billing.md §5), which is also the default of GATEWAY_SELLER_ID.
PLACEHOLDER_SELLER_IDS: Final = frozenset({"0208:0739484052"})
#: Domains reserved for examples and tests (RFC 2606, RFC 6761): never a real eb:MessageId domain.
RESERVED_DOMAINS: Final = (
    "example",
    "test",
    "invalid",
    "localhost",
    "example.com",
    "example.net",
    "example.org",
)


def _is_reserved_domain(domain: str) -> bool:
    name = domain.lower().rstrip(".")
    return any(name == d or name.endswith("." + d) for d in RESERVED_DOMAINS)


def _is_development(certificate: x509.Certificate) -> bool:
    names = (certificate.subject, certificate.issuer)
    return any(
        str(attribute.value).startswith(DEV_ORGANIZATION)
        for name in names
        for attribute in name.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    )


def check_stage(settings: Settings, identity: KeyMaterial | None, trust: TrustStore | None) -> None:
    """Refuse to start a production gateway with development or placeholder material.

    The stage is ``GATEWAY_TRUSTSTORE__STAGE`` (default ``production``); the ``test`` and ``development``
    stages are not checked.

    Raises:
        ConfigurationError: naming every problem found.
    """
    if settings.truststore.stage != "production":
        return
    problems: list[str] = []
    password = settings.keystore.password
    if password is not None and password.get_secret_value() == DEV_PKCS12_PASSWORD:
        problems.append("the keystore password is the development PKI's")
    if identity is not None and _is_development(identity.certificate):
        problems.append(f"the AP certificate {common_name(identity.certificate)!r} is a development one")
    for ca in (*trust.anchors, *trust.intermediates) if trust is not None else ():
        name = common_name(ca) or ca.subject.rfc4514_string()
        if _is_development(ca):
            problems.append(f"the trust anchor {name!r} is a development CA")
        elif "TEST" in name.upper():
            problems.append(f"the trust anchor {name!r} is a Peppol TEST CA")
    if _is_reserved_domain(settings.as4.message_id_domain):
        problems.append(f"GATEWAY_AS4__MESSAGE_ID_DOMAIN {settings.as4.message_id_domain!r} is a placeholder")
    if settings.seller_id in PLACEHOLDER_SELLER_IDS:
        problems.append(f"GATEWAY_SELLER_ID {settings.seller_id!r} is the documentation's example")
    if problems:
        raise ConfigurationError(
            "the production stage (GATEWAY_TRUSTSTORE__STAGE) refuses: "
            + "; ".join(problems)
            + " (set GATEWAY_TRUSTSTORE__STAGE=development or test for a non-production gateway)"
        )


def stage_warnings(settings: Settings) -> tuple[str, ...]:
    """What a production gateway runs without that it should have, but may start without: ``gateway serve``
    logs each as a warning at start-up. Other stages get none.

    - ``GATEWAY_SELLER_NAME`` unset: a document whose seller name (BT-27) is not the cooperative's legal
      name (an activity's own name under the cooperative's VAT number) is sent as it is.
    """
    if settings.truststore.stage != "production" or settings.seller_name is not None:
        return ()
    return (
        "GATEWAY_SELLER_NAME is not set: the seller name (BT-27) of outbound documents is not checked "
        "against the cooperative's legal name",
    )


def check_certificates(
    settings: Settings,
    identity: KeyMaterial | None,
    trust: TrustStore | None,
    *,
    at: datetime,
    smp_trust: TrustStore | None = None,
) -> None:
    """Refuse to start with an expired certificate, or an AP certificate of another stage.

    Every stage refuses an expired AP certificate or trust anchor (nothing could be exchanged). In the
    test and production stages our AP certificate must also be a valid AP certificate under our own trust
    store, i.e. issued by the AP CA of the stage (peppol-as4.md §10.1: TEST and PRODUCTION are separate
    hierarchies; a test certificate on a production gateway, or the reverse, is refused by every peer).

    Raises:
        ConfigurationError: naming every problem found.
    """
    problems = [
        f"the {e.role.value} certificate {e.name!r} expired on {e.not_after:%Y-%m-%d}"
        for e in expiries(
            watched_certificates(identity.certificate if identity else None, trust, smp_trust), at
        )
        if e.state is ExpiryState.EXPIRED
    ]
    stage = settings.truststore.stage
    if not problems and stage != "development" and identity is not None and trust is not None:
        try:
            validate_ap_certificate(identity.certificate, trust, at=at)
        except CertificateRejected as exc:
            problems.append(
                f"our AP certificate {common_name(identity.certificate)!r} is not an AP certificate of the"
                f" {stage} stage's trust store ({getattr(exc.reason, 'value', exc.reason)}: {exc})"
            )
    if problems:
        raise ConfigurationError("certificates refused at start-up: " + "; ".join(problems))

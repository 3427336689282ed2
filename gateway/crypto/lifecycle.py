"""Certificate life cycle, sans-IO: which certificates the gateway depends on, and how long each has left.

Our AP certificate and every trust anchor (AP and SMP trust) are watched (issue 9 item 5): a gauge of days to
expiry on ``/metrics``, ``/readyz`` degraded under :data:`EXPIRY_WARNING_DAYS`, a daily log warning, and a
refusal at start-up when one is expired already. Peppol AP certificates last at most 2 years and must be
renewed in time (peppol-as4.md §10.1); an expired one means every exchange fails.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from gateway.crypto.certs import TrustStore, common_name

#: Below this many days to expiry a certificate makes ``/readyz`` report ``degraded``.
EXPIRY_WARNING_DAYS: Final = 30


class CertificateRole(StrEnum):
    """Why the gateway holds a certificate (a bounded metric label)."""

    AP = "ap"  # our own AP certificate
    AP_TRUST = "ap-trust"  # an anchor or CA of the AP trust store
    SMP_TRUST = "smp-trust"  # an anchor or CA of the SMP signature trust


class ExpiryState(StrEnum):
    """How a certificate stands at one time."""

    OK = "ok"
    EXPIRING = "expiring"  # fewer than EXPIRY_WARNING_DAYS left
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class WatchedCertificate:
    """One certificate the gateway depends on."""

    role: CertificateRole
    certificate: x509.Certificate

    @property
    def name(self) -> str:
        """Its CN, or the full subject when it has none."""
        return common_name(self.certificate) or self.certificate.subject.rfc4514_string()


@dataclass(frozen=True, slots=True)
class CertificateExpiry:
    """How long one watched certificate has left at a given time."""

    role: CertificateRole
    name: str
    serial: str
    not_after: datetime
    days_left: float
    state: ExpiryState

    def as_json(self) -> dict[str, object]:
        return {
            "role": self.role.value,
            "name": self.name,
            "serial": self.serial,
            "not_after": self.not_after.isoformat(),
            "days_left": round(self.days_left, 1),
            "state": self.state.value,
        }


def watched_certificates(
    identity_certificate: x509.Certificate | None,
    ap_trust: TrustStore | None,
    smp_trust: TrustStore | None = None,
) -> tuple[WatchedCertificate, ...]:
    """Our AP certificate and every anchor and CA of the trust stores, each once (first role wins)."""
    out: list[WatchedCertificate] = []
    seen: set[bytes] = set()

    def add(role: CertificateRole, certificates: Iterable[x509.Certificate]) -> None:
        for certificate in certificates:
            fingerprint = certificate.fingerprint(hashes.SHA256())
            if fingerprint not in seen:
                seen.add(fingerprint)
                out.append(WatchedCertificate(role, certificate))

    if identity_certificate is not None:
        add(CertificateRole.AP, [identity_certificate])
    for role, trust in ((CertificateRole.AP_TRUST, ap_trust), (CertificateRole.SMP_TRUST, smp_trust)):
        if trust is not None:
            add(role, (*trust.anchors, *trust.intermediates))
    return tuple(out)


def expiry_of(watched: WatchedCertificate, at: datetime) -> CertificateExpiry:
    """Days left of one certificate at ``at`` (negative once expired)."""
    not_after = watched.certificate.not_valid_after_utc
    days = (not_after - at).total_seconds() / 86400
    state = (
        ExpiryState.EXPIRED
        if days <= 0
        else ExpiryState.EXPIRING
        if days < EXPIRY_WARNING_DAYS
        else ExpiryState.OK
    )
    return CertificateExpiry(
        watched.role, watched.name, format(watched.certificate.serial_number, "x"), not_after, days, state
    )


def expiries(watched: Iterable[WatchedCertificate], at: datetime) -> tuple[CertificateExpiry, ...]:
    """:func:`expiry_of` for each certificate, soonest first."""
    return tuple(sorted((expiry_of(w, at) for w in watched), key=lambda e: e.days_left))

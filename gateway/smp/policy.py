"""The discovery policy of a stage: which SMP URLs, which SMP signers, which AP certificates.

Built once at start-up from the trust files of the stage (house style §7: the core never sees Settings).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.x509.oid import NameOID

from gateway.crypto import RevocationChecker, TrustStore
from gateway.smp.selection import AS4_TRANSPORT_PROFILE
from gateway.smp.signature import SMPSignaturePolicy
from gateway.smp.urls import Stage


@dataclass(frozen=True, slots=True)
class DiscoveryPolicy:
    """Everything a lookup decides with, fixed per stage at start-up.

    Attributes:
        stage: ``development``, ``test`` or ``production`` (which SMP URLs may be read).
        smp_signature: trust and algorithms for SMP signatures (the SMP CA of the stage).
        ap_trust: the AP CA of the stage; endpoint certificates are validated against it.
        revocation: CRL/OCSP checker for endpoint certificates; None = offline.
        transport_profile: the endpoint profile we send with.
    """

    stage: Stage
    smp_signature: SMPSignaturePolicy
    ap_trust: TrustStore
    revocation: RevocationChecker | None = field(default=None, compare=False)
    transport_profile: str = AS4_TRANSPORT_PROFILE


def _is_test_ca(cert: x509.Certificate) -> bool:
    names = [
        a.value for a in cert.subject if a.oid in (NameOID.COMMON_NAME, NameOID.ORGANIZATIONAL_UNIT_NAME)
    ]
    return any("TEST" in str(n).upper() for n in names)


def smp_trust_for_stage(certificates: Iterable[x509.Certificate], stage: Stage) -> TrustStore:
    """The SMP signature trust of a stage: the given roots and CAs, pinned to the SMP CA(s) among them.

    peppol-as4.md §9.3 / §10.1: SMP answers are signed under PEPPOL SERVICE METADATA PUBLISHER CA - G3 in
    production and its TEST CA in the test network; a production gateway trusting a TEST CA would accept
    test SMPs' answers for production participants.

    Raises:
        ValueError: no SMP CA among ``certificates``, or a TEST CA in the production stage.
    """
    trust = TrustStore.from_certificates(certificates).pinned_to_smp_cas()
    if not trust.leaf_issuers:
        raise ValueError("the SMP trust holds no SERVICE METADATA PUBLISHER CA certificate")
    if stage == "production":
        test_cas = [c for c in (*trust.anchors, *trust.intermediates) if _is_test_ca(c)]
        if test_cas:
            raise ValueError(
                f"the production stage must not trust TEST CAs ({test_cas[0].subject.rfc4514_string()})"
            )
    return trust

"""The SML/SMP discovery resolver (``discovery.mode = sml``) built from the settings."""

from __future__ import annotations

from datetime import timedelta

from gateway.bootstrap.loading import read_file
from gateway.config import Settings
from gateway.crypto import (
    RevocationChecker,
    TrustStore,
    load_certificates,
)
from gateway.errors import ConfigurationError, GatewayError, KeyMaterialError
from gateway.services.ports import (
    Clock,
)
from gateway.services.smp_resolver import LookupResult, SMPResolver
from gateway.smp import DiscoveryPolicy, LookupCache, SMPSignaturePolicy, smp_trust_for_stage
from gateway.transport.dns import DNSNaptrLookup
from gateway.transport.peers import PeerPolicy
from gateway.transport.smp_http import HTTPSMPFetcher


def peer_policy(settings: Settings) -> PeerPolicy | None:
    """The peer addresses SMP reads and AS4 sends may connect to: in the production stage public ones and
    the configured internal networks (checked at connect time); elsewhere any (None: the demonstration
    and tests run their SMP and access points on loopback)."""
    if settings.truststore.stage != "production":
        return None
    return PeerPolicy(allowed=tuple(settings.discovery.allowed_internal_networks))


def build_smp_resolver(
    settings: Settings, trust: TrustStore | None, revocation: RevocationChecker | None, clock: Clock
) -> SMPResolver:
    """The ``sml`` discovery mode: SML (or a fixed SMP) + signed SMP metadata (peppol-as4.md §9).

    Raises:
        ConfigurationError: no AP trust store, no SMP CA in the SMP trust files, or an unusable source.
    """
    discovery = settings.discovery
    stage = settings.truststore.stage
    if trust is None:
        raise ConfigurationError("discovery mode 'sml' needs the AP trust store (GATEWAY_TRUSTSTORE__PATHS)")
    paths = discovery.smp_trust_paths or settings.truststore.paths
    try:
        certificates = [c for p in paths for c in load_certificates(read_file(p, "SMP trust store"))]
        smp_trust = smp_trust_for_stage(certificates, stage)
    except (ValueError, KeyMaterialError) as exc:
        raise ConfigurationError(f"SMP trust (GATEWAY_DISCOVERY__SMP_TRUST_PATHS): {exc}") from exc
    policy = DiscoveryPolicy(
        stage=stage,
        smp_signature=SMPSignaturePolicy(smp_trust, allow_sha1=discovery.allow_sha1, revocation=revocation),
        ap_trust=trust,
        revocation=revocation,
    )
    cache: LookupCache[tuple[str, str, str, str], LookupResult] = LookupCache(
        ttl=timedelta(seconds=discovery.cache_ttl_seconds),
        negative_ttl=timedelta(seconds=discovery.negative_cache_ttl_seconds),
    )
    fetcher = HTTPSMPFetcher(
        timeout=discovery.smp_timeout_seconds, ca_bundle=discovery.smp_ca_bundle, peers=peer_policy(settings)
    )
    naptr = None
    if discovery.sml_zone is not None:
        try:
            naptr = DNSNaptrLookup(nameservers=discovery.dns_servers, timeout=discovery.dns_timeout_seconds)
        except (ValueError, GatewayError) as exc:
            raise ConfigurationError(f"GATEWAY_DISCOVERY__DNS_SERVERS: {exc}") from exc
    return SMPResolver(
        fetcher=fetcher,
        policy=policy,
        clock=clock,
        naptr=naptr,
        sml_zone=discovery.sml_zone,
        smp_url=discovery.smp_url,
        cache=cache,
    )

"""Fixtures' building blocks for discovery tests: a development PKI with an SMP CA, a running local network,
and an SMPResolver wired to it through the real DNS and HTTP adapters."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from gateway.crypto import DevPKI
from gateway.devnet import DevEndpoint, DevNetwork, DevService
from gateway.model.identifiers import BIS_BILLING_PROCESS, BIS_CREDIT_NOTE, BIS_INVOICE, ParticipantID
from gateway.services.smp_resolver import SMPResolver
from gateway.smp import MAX_SMP_RESPONSE_BYTES, DiscoveryPolicy, LookupCache, SMPSignaturePolicy, Stage
from gateway.transport.dns import DNSNaptrLookup
from gateway.transport.peers import PeerPolicy
from gateway.transport.smp_http import HTTPSMPFetcher

NOW = datetime.now(UTC).replace(microsecond=0)
RECEIVER = ParticipantID.parse("0208:0739484052")


@dataclass
class MutableClock:
    """A clock tests move by hand."""

    current: datetime = field(default=NOW)

    def now(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> None:
        self.current += delta


def invoice_service(pki: DevPKI, url: str = "https://ap.example/as4", **kw: object) -> DevService:
    """An invoice-only service of POP000001 (credit notes not accepted)."""
    endpoint = DevEndpoint(url, pki.aps["POP000001"].certificate, **kw)  # type: ignore[arg-type]
    return DevService(BIS_INVOICE, ((BIS_BILLING_PROCESS, (endpoint,)),))


def credit_note_service(pki: DevPKI) -> DevService:
    endpoint = DevEndpoint("https://ap.example/as4", pki.aps["POP000001"].certificate)
    return DevService(BIS_CREDIT_NOTE, ((BIS_BILLING_PROCESS, (endpoint,)),))


def resolver_for(
    network: DevNetwork,
    clock: MutableClock,
    *,
    fixed_smp: bool = False,
    cache: LookupCache | None = None,  # type: ignore[type-arg]
    dns_timeout: float = 2.0,
    stage: Stage = "development",
    ca_bundle: Path | None = None,
    max_bytes: int = MAX_SMP_RESPONSE_BYTES,
    peers: PeerPolicy | None = None,
) -> SMPResolver:
    """An SMPResolver (development stage by default) reading ``network`` through the real adapters
    (``peers``: the connect-time address policy of the production stage)."""
    policy = DiscoveryPolicy(
        stage=stage,
        smp_signature=SMPSignaturePolicy(network.smp_trust()),
        ap_trust=network.ap_trust(),
    )
    fetcher = HTTPSMPFetcher(timeout=5.0, ca_bundle=ca_bundle, max_bytes=max_bytes, peers=peers)
    if fixed_smp:
        return SMPResolver(fetcher=fetcher, policy=policy, clock=clock, smp_url=network.smp.url, cache=cache)
    naptr = DNSNaptrLookup(nameservers=[f"127.0.0.1:{network.sml.port}"], timeout=dns_timeout)
    return SMPResolver(
        fetcher=fetcher, policy=policy, clock=clock, naptr=naptr, sml_zone=network.sml.zone, cache=cache
    )

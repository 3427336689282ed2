"""``gateway devnet``: the local Peppol network (development SML on DNS/UDP, development SMP on HTTP).

``serve`` publishes a registry file until interrupted, ``lookup`` asks it like the gateway will (SML ->
SMP -> signed metadata -> endpoint), ``host`` prints the SML DNS name of a participant.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import threading
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

from gateway.config import Settings
from gateway.crypto import DevIdentity, TrustStore, load_certificates, load_key_material
from gateway.devnet import (
    DEVNET_ZONE,
    DOCUMENTS,
    DevSMLServer,
    DevSMPServer,
    issue_tls_server,
    load_registry,
    server_context,
)
from gateway.errors import ConfigurationError
from gateway.model.identifiers import ParticipantID
from gateway.services.smp_resolver import LookupResult, SMPResolver
from gateway.smp import DiscoveryPolicy, SMPSignaturePolicy, participant_host
from gateway.transport.dns import DNSNaptrLookup
from gateway.transport.smp_http import HTTPSMPFetcher


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``devnet serve|lookup|host``."""
    p = subparsers.add_parser("devnet", help="local Peppol network: development SML (DNS) and SMP (HTTP)")
    sub = p.add_subparsers(dest="devnet_command", metavar="ACTION", required=True)
    s = sub.add_parser("serve", help="serve a registry file on loopback until interrupted")
    s.add_argument("--registry", type=Path, required=True, metavar="FILE", help="participants (JSON)")
    s.add_argument("--pki", type=Path, required=True, metavar="DIR", help="`gateway certs dev-pki` folder")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--dns-port", type=int, default=5354, help="UDP port of the SML (0 = any)")
    s.add_argument("--smp-port", type=int, default=8054, help="TCP port of the SMP (0 = any)")
    s.add_argument(
        "--tls", action="store_true", help="serve the SMP over HTTPS (certificate from the dev root)"
    )
    s.set_defaults(func=run_serve)
    lk = sub.add_parser("lookup", help="discover a participant through the local SML and SMP")
    lk.add_argument("participant", metavar="PARTICIPANT", help="e.g. 0208:0739484052")
    lk.add_argument("--document", choices=sorted(DOCUMENTS), default="invoice")
    lk.add_argument(
        "--pki", type=Path, required=True, metavar="DIR", help="trust: root.pem, smpca.pem, apca.pem"
    )
    lk.add_argument("--dns", default="127.0.0.1:5354", metavar="HOST:PORT", help="the SML name server")
    lk.add_argument("--zone", default=DEVNET_ZONE)
    lk.add_argument("--smp-url", default=None, help="ask this SMP directly instead of the SML")
    lk.add_argument(
        "--smp-ca-bundle", type=Path, default=None, help="CAs for SMP HTTPS (default: the system's)"
    )
    lk.set_defaults(func=run_lookup)
    h = sub.add_parser("host", help="print the SML DNS name of a participant")
    h.add_argument("participant", metavar="PARTICIPANT")
    h.add_argument("--zone", default="test", help="production, test or a zone name")
    h.set_defaults(func=run_host)


def _identity(pki: Path, name: str, key: str, cert: str) -> DevIdentity:
    try:
        material = load_key_material((pki / key).read_bytes(), certificate=(pki / cert).read_bytes())
    except OSError as exc:
        raise ConfigurationError(
            f"{pki}: no {name} key and certificate (run `gateway certs dev-pki`): {exc}"
        ) from exc
    return DevIdentity(name, material.private_key, material.certificate)


def _trust(pki: Path, *names: str) -> TrustStore:
    try:
        return TrustStore.from_certificates(
            c for n in names for c in load_certificates((pki / n).read_bytes())
        )
    except OSError as exc:
        raise ConfigurationError(f"{pki}: cannot read trust anchors: {exc}") from exc


def run_serve(args: argparse.Namespace, settings: Settings) -> int:
    """Serve until SIGINT/SIGTERM; prints one JSON line with the addresses first."""
    registry = load_registry(args.registry)
    sml = DevSMLServer(zone=registry.zone, host=args.host, port=args.dns_port).start()
    tls = None
    if args.tls:
        root = _identity(args.pki, "root", "root.key.pem", "root.pem")
        tls = server_context(issue_tls_server(root, now=datetime.now(UTC), hosts=(args.host, "localhost")))
    signer = _identity(args.pki, "smp", "smp.key.pem", "smp.cert.pem")
    smp = DevSMPServer(signer, host=args.host, port=args.smp_port, tls=tls).start()
    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        for participant, services in registry.participants.items():
            smp.register(participant, services)
            sml.register(participant, smp.url)
        info = {
            "sml": {"host": args.host, "port": sml.port, "zone": sml.zone},
            "smp": smp.url,
            "participants": sorted(str(p) for p in registry.participants),
            # With --tls the SMP's TLS certificate is issued by the development root.
            "smp_ca_bundle": str(args.pki / "root.pem") if args.tls else None,
        }
        print(json.dumps(info), flush=True)
        stop.wait()
    finally:
        smp.stop()
        sml.stop()
    return 0


def _result_json(result: LookupResult) -> dict[str, object]:
    endpoint = result.endpoint
    return {
        "participant": str(result.participant),
        "document_type": result.document_type.uri,
        "process": result.process.uri,
        "outcome": result.outcome.value,
        "retryable": result.is_retryable,
        "detail": result.detail,
        "smp": result.smp_url,
        "endpoint": None
        if endpoint is None
        else {"url": endpoint.url, "certificate_subject": endpoint.certificate.subject.rfc4514_string()},
    }


def run_lookup(args: argparse.Namespace, settings: Settings) -> int:
    """Look a participant up on the development stage; exit 0 when found, 1 otherwise."""
    participant = ParticipantID.parse(args.participant)
    document_type, process = DOCUMENTS[args.document]
    policy = DiscoveryPolicy(
        stage="development",
        smp_signature=SMPSignaturePolicy(_trust(args.pki, "root.pem", "smpca.pem").pinned_to_smp_cas()),
        ap_trust=_trust(args.pki, "root.pem", "apca.pem").pinned_to_access_point_cas(),
    )
    clock = _SystemClock()
    if args.smp_url:
        resolver = SMPResolver(
            fetcher=HTTPSMPFetcher(ca_bundle=args.smp_ca_bundle),
            policy=policy,
            clock=clock,
            smp_url=args.smp_url,
        )
    else:
        naptr = DNSNaptrLookup(nameservers=[args.dns])
        resolver = SMPResolver(
            fetcher=HTTPSMPFetcher(ca_bundle=args.smp_ca_bundle),
            policy=policy,
            clock=clock,
            naptr=naptr,
            sml_zone=args.zone,
        )
    result = asyncio.run(resolver.lookup(participant, document_type, process))
    print(json.dumps(_result_json(result), indent=2))
    return 0 if result.endpoint is not None else 1


def run_host(args: argparse.Namespace, settings: Settings) -> int:
    """Print ``<hash>.iso6523-actorid-upis.<zone>``."""
    print(participant_host(ParticipantID.parse(args.participant), args.zone))
    return 0


class _SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

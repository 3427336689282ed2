"""The local Peppol network of ``gateway demo``: one development PKI, the development SML (DNS on loopback)
and SMP (HTTP on loopback), and the environment of two access points that find each other only through them.

* the cooperative's AP (seat ``POP000001``) receives for the cooperative;
* a partner AP (seat ``POP000002``) receives for the cooperative's clients and sends for its suppliers, who
  also receive Invoice Responses (T111) there, so the cooperative's answers can travel back;
* each AP's SPID (``0242:<6 digits of its seat>``) receives Message Level Status (MLS) at that AP.

Both run ``GATEWAY_DISCOVERY__MODE=sml``: no participant directory; every receiver is looked up in the SML
(NAPTR ``Meta:SMP``) and read from signed SMP metadata (peppol-as4.md §9).
"""

from __future__ import annotations

import json
import shutil
import socket
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from gateway.bench.loopback import listening_socket
from gateway.crypto import DEV_PKCS12_PASSWORD, DevPKI, generate_dev_pki
from gateway.devnet import DevEndpoint, DevNetwork, DevService
from gateway.model import BIS_BILLING_PROCESS, BIS_CREDIT_NOTE, BIS_INVOICE, ParticipantID
from gateway.model.identifiers import INVOICE_RESPONSE, INVOICE_RESPONSE_PROCESS, DocumentTypeID, ProcessID
from gateway.model.responses import MLS_DOCUMENT_TYPE, MLS_PROCESS, spid_of_seat

COOPERATIVE_SEAT = "POP000001"
PARTNER_SEAT = "POP000002"

Service = tuple[DocumentTypeID, ProcessID]
BILLING: tuple[Service, ...] = ((BIS_INVOICE, BIS_BILLING_PROCESS), (BIS_CREDIT_NOTE, BIS_BILLING_PROCESS))
INVOICE_ONLY: tuple[Service, ...] = ((BIS_INVOICE, BIS_BILLING_PROCESS),)
#: What a supplier receives: invoices and credit notes (it may be a client too) and the buyer's T111.
SUPPLIER: tuple[Service, ...] = (*BILLING, (INVOICE_RESPONSE, INVOICE_RESPONSE_PROCESS))
#: What an AP's SPID receives (MLS 1.0.1: the MLS is addressed to the sending AP's SPID).
SPID: tuple[Service, ...] = ((MLS_DOCUMENT_TYPE, MLS_PROCESS),)


@dataclass(frozen=True)
class AccessPoint:
    """One AP of the demo: its name, port (``listener``'s, held for ``run_gateway``), working directory and
    ``GATEWAY_*`` environment."""

    name: str
    seat: str
    port: int
    listener: socket.socket
    workdir: Path
    env: dict[str, str]

    @property
    def as4_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/as4"


@dataclass(frozen=True)
class DemoNetwork:
    """The running SML and SMP and the two APs that use them."""

    network: DevNetwork
    cooperative: AccessPoint
    partner: AccessPoint


def _services(pki: DevPKI, seat: str, url: str, services: Iterable[Service]) -> list[DevService]:
    endpoint = DevEndpoint(url, pki.aps[seat].certificate)
    return [DevService(document, ((process, (endpoint,)),)) for document, process in services]


def _env(
    workdir: Path, pki_dir: Path, network: DevNetwork, *, seat: str, served: list[str], seller: str, url: str
) -> dict[str, str]:
    return {
        "GATEWAY_DATABASE__URL": f"sqlite:///{workdir / 'gateway.db'}",
        "GATEWAY_KEYSTORE__PATH": str(pki_dir / f"{seat.lower()}.p12"),
        "GATEWAY_KEYSTORE__PASSWORD": DEV_PKCS12_PASSWORD,
        "GATEWAY_TRUSTSTORE__PATHS": json.dumps([str(pki_dir / "root.pem"), str(pki_dir / "apca.pem")]),
        "GATEWAY_TRUSTSTORE__STAGE": "development",
        "GATEWAY_DISCOVERY__MODE": "sml",
        "GATEWAY_DISCOVERY__SML_ZONE": network.sml.zone,
        "GATEWAY_DISCOVERY__DNS_SERVERS": json.dumps([f"127.0.0.1:{network.sml.port}"]),
        "GATEWAY_DISCOVERY__SMP_TRUST_PATHS": json.dumps([str(pki_dir / "smp-trust.pem")]),
        "GATEWAY_AS4__SERVED": json.dumps(served),
        "GATEWAY_AS4__PUBLIC_URL": url,
        "GATEWAY_SELLER_ID": seller,
        "GATEWAY_AS4__MESSAGE_ID_DOMAIN": f"{seat.lower()}.ap.example",
        "GATEWAY_WORKER__POLL_INTERVAL_SECONDS": "0.2",
        "GATEWAY_WORKER__BACKOFF_BASE_SECONDS": "1",
        "GATEWAY_WORKER__BACKOFF_CAP_SECONDS": "5",
        "GATEWAY_LOG_FORMAT": "json",
        "GATEWAY_LOG_LEVEL": "WARNING",
    }


@contextmanager
def demo_network(
    workdir: Path,
    *,
    cooperative: str,
    clients: list[str],
    suppliers: list[str],
    invoice_only: list[str],
) -> Iterator[DemoNetwork]:
    """Recreate ``workdir``, start the SML and SMP, and publish every participant; stop them on exit.

    Args:
        workdir: removed if present; gets ``pki/``, ``cooperative/`` and ``partner/``.
        cooperative: the cooperative's participant id (served by the cooperative's AP).
        clients: the cooperative's clients (served by the partner AP, invoices and credit notes).
        suppliers: the partner AP's senders (the cooperative's suppliers, published with the T111 document
            type too); the first is its seller id, the only one whose documents it sends.
        invoice_only: participants of the partner AP that accept invoices but not credit notes.
    """
    if workdir.exists():
        shutil.rmtree(workdir)
    pki_dir = workdir / "pki"
    pki_dir.mkdir(parents=True)
    pki = generate_dev_pki(now=datetime.now(UTC), seat_ids=(COOPERATIVE_SEAT, PARTNER_SEAT))
    pki.write(pki_dir)  # private keys: created 0600
    with (
        DevNetwork(pki) as network,
        listening_socket() as coop_listener,
        listening_socket() as partner_listener,
    ):
        coop_port, partner_port = coop_listener.getsockname()[1], partner_listener.getsockname()[1]
        coop_url = f"http://127.0.0.1:{coop_port}/as4"
        partner_url = f"http://127.0.0.1:{partner_port}/as4"
        published: list[tuple[ParticipantID, str, str, tuple[Service, ...]]] = [
            (ParticipantID.parse(cooperative), COOPERATIVE_SEAT, coop_url, BILLING),
            (spid_of_seat(COOPERATIVE_SEAT), COOPERATIVE_SEAT, coop_url, SPID),
            (spid_of_seat(PARTNER_SEAT), PARTNER_SEAT, partner_url, SPID),
        ]
        published += [
            (ParticipantID.parse(p), PARTNER_SEAT, partner_url, SUPPLIER if p in suppliers else BILLING)
            for p in sorted({*clients, *suppliers})
        ]
        published += [(ParticipantID.parse(p), PARTNER_SEAT, partner_url, INVOICE_ONLY) for p in invoice_only]
        for participant, seat, url, services in published:
            network.publish(participant, _services(pki, seat, url, services))
        aps = []
        for name, seat, listener, url, served, seller in (
            ("cooperative", COOPERATIVE_SEAT, coop_listener, coop_url, [cooperative], cooperative),
            (
                "partner",
                PARTNER_SEAT,
                partner_listener,
                partner_url,
                sorted({*clients, *suppliers}),
                suppliers[0],
            ),
        ):
            ap_dir = workdir / name
            ap_dir.mkdir()
            env = _env(ap_dir, pki_dir, network, seat=seat, served=served, seller=seller, url=url)
            aps.append(AccessPoint(name, seat, listener.getsockname()[1], listener, ap_dir, env))
        (workdir / "network.json").write_text(
            json.dumps(
                {
                    "sml": {"zone": network.sml.zone, "dns": f"127.0.0.1:{network.sml.port}"},
                    "smp": network.smp.url,
                    "access_points": {ap.name: {"seat": ap.seat, "as4": ap.as4_url} for ap in aps},
                },
                indent=2,
            )
        )
        yield DemoNetwork(network, aps[0], aps[1])

"""A local Peppol network in one object: the development SML and SMP, publishing a registry."""

from __future__ import annotations

import ssl
from collections.abc import Iterable

from gateway.crypto import DevPKI, TrustStore
from gateway.devnet.documents import DevService
from gateway.devnet.sml import DEVNET_ZONE, DevSMLServer
from gateway.devnet.smp import DevSMPServer
from gateway.model.identifiers import ParticipantID


class DevNetwork:
    """The SML (DNS/UDP) and the SMP (HTTP) on loopback, sharing one development PKI.

    Args:
        pki: the development PKI; its ``smp`` identity signs the metadata.
        zone: the SML zone.
        host: the loopback address both servers bind.
        dns_port / smp_port: 0 = free ports.
        tls: a server SSL context for the SMP (HTTPS); None = plain HTTP.
    """

    def __init__(
        self,
        pki: DevPKI,
        *,
        zone: str = DEVNET_ZONE,
        host: str = "127.0.0.1",
        dns_port: int = 0,
        smp_port: int = 0,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        if pki.smp is None or pki.smp_ca is None:
            raise ValueError("the development PKI has no SMP certificate (generate_dev_pki(smp_id=...))")
        self.pki = pki
        self.sml = DevSMLServer(zone=zone, host=host, port=dns_port)
        self.smp = DevSMPServer(pki.smp, host=host, port=smp_port, tls=tls)

    def start(self) -> DevNetwork:
        """Start both servers."""
        self.sml.start()
        self.smp.start()
        return self

    def stop(self) -> None:
        """Stop both servers."""
        self.smp.stop()
        self.sml.stop()

    def __enter__(self) -> DevNetwork:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def publish(
        self, participant: ParticipantID, services: Iterable[DevService], *, smp_url: str | None = None
    ) -> None:
        """Register ``participant`` in the SML (pointing at our SMP or ``smp_url``) and its services here."""
        self.smp.register(participant, services)
        self.sml.register(participant, smp_url or self.smp.url)

    def smp_trust(self) -> TrustStore:
        """The SMP trust of this network (root + SMP CA, pinned), as the gateway must configure it."""
        assert self.pki.smp_ca is not None
        return TrustStore.from_certificates(
            [self.pki.root.certificate, self.pki.smp_ca.certificate]
        ).pinned_to_smp_cas()

    def ap_trust(self) -> TrustStore:
        """The AP trust of this network (root + AP CA, pinned)."""
        return TrustStore.from_certificates(
            [self.pki.root.certificate, self.pki.ap_ca.certificate]
        ).pinned_to_access_point_cas()

"""SMP reads over HTTPS with a configured CA bundle, the response size cap, and the service group read."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.crypto import DevPKI, generate_dev_pki
from gateway.devnet import DevNetwork, issue_tls_server, server_context, smp_naptr_record
from gateway.errors import ParticipantNotRegistered
from gateway.model.identifiers import BIS_BILLING_PROCESS, BIS_CREDIT_NOTE, BIS_INVOICE, ParticipantID
from gateway.smp import LookupOutcome, participant_host
from gateway.smp.urls import IPAddress
from gateway.transport.peers import PeerPolicy
from tests.discovery_support import (
    NOW,
    RECEIVER,
    MutableClock,
    credit_note_service,
    invoice_service,
    resolver_for,
)


@pytest.fixture(scope="module")
def pki() -> DevPKI:
    return generate_dev_pki(now=NOW, seat_ids=("POP000001",))


@pytest.fixture
def tls_network(pki: DevPKI) -> Iterator[DevNetwork]:
    context = server_context(issue_tls_server(pki.root, now=NOW))
    with DevNetwork(pki, tls=context) as net:
        net.publish(RECEIVER, [invoice_service(pki)])
        yield net


def test_https_smp_read_with_the_configured_ca_bundle(
    tls_network: DevNetwork, pki: DevPKI, tmp_path: Path
) -> None:
    bundle = tmp_path / "smp-tls-ca.pem"
    bundle.write_bytes(pki.root.cert_pem)
    assert tls_network.smp.url.startswith("https://")
    resolver = resolver_for(tls_network, MutableClock(), stage="test", ca_bundle=bundle)
    result = asyncio.run(resolver.lookup(RECEIVER, BIS_INVOICE, BIS_BILLING_PROCESS))
    assert result.outcome is LookupOutcome.FOUND, result.detail


def test_https_smp_untrusted_by_the_system_cas_is_unreachable(tls_network: DevNetwork) -> None:
    resolver = resolver_for(tls_network, MutableClock(), stage="test")
    result = asyncio.run(resolver.lookup(RECEIVER, BIS_INVOICE, BIS_BILLING_PROCESS))
    assert result.outcome is LookupOutcome.SMP_UNREACHABLE
    assert "CERTIFICATE_VERIFY_FAILED" in result.detail


@pytest.fixture
def network(pki: DevPKI) -> Iterator[DevNetwork]:
    with DevNetwork(pki) as net:
        net.publish(RECEIVER, [invoice_service(pki), credit_note_service(pki)])
        yield net


def test_oversized_smp_answer_refused(network: DevNetwork) -> None:
    resolver = resolver_for(network, MutableClock(), max_bytes=1000)
    result = asyncio.run(resolver.lookup(RECEIVER, BIS_INVOICE, BIS_BILLING_PROCESS))
    assert result.outcome is LookupOutcome.BAD_SMP_RESPONSE
    assert "larger than 1000 bytes" in result.detail


def test_service_group_lists_the_document_types(network: DevNetwork) -> None:
    resolver = resolver_for(network, MutableClock())
    assert set(asyncio.run(resolver.document_types(RECEIVER))) == {BIS_INVOICE, BIS_CREDIT_NOTE}
    with pytest.raises(ParticipantNotRegistered):
        asyncio.run(resolver.document_types(ParticipantID.parse("0208:0000000097")))


@pytest.mark.parametrize(
    "endpoint_url",
    [
        "http://ap.example/as4",  # plain http outside development
        "http://127.0.0.1:8080/v1/admin",  # our own loopback: the AS4 transport allows http there
        "file:///etc/passwd",
        "https://user:secret@ap.example/as4",
        "ftp://ap.example/as4",
        "as4-endpoint",
    ],
)
def test_an_endpoint_url_the_stage_forbids_is_a_bad_smp_response(
    pki: DevPKI, tmp_path: Path, endpoint_url: str
) -> None:
    # The SMP is hostile (whoever registered the participant): its endpoint address is where we POST.
    context = server_context(issue_tls_server(pki.root, now=NOW))
    bundle = tmp_path / "smp-tls-ca.pem"
    bundle.write_bytes(pki.root.cert_pem)
    with DevNetwork(pki, tls=context) as net:
        net.publish(RECEIVER, [invoice_service(pki, url=endpoint_url)])
        resolver = resolver_for(net, MutableClock(), stage="test", ca_bundle=bundle)
        result = asyncio.run(resolver.lookup(RECEIVER, BIS_INVOICE, BIS_BILLING_PROCESS))
    assert result.outcome is LookupOutcome.BAD_SMP_RESPONSE, result.detail
    assert result.endpoint is None
    assert "endpoint URL" in result.detail


@pytest.mark.parametrize(
    ("endpoint_url", "found"),
    [("http://127.0.0.1:8443/as4", True), ("http://ap.example/as4", False), ("file:///etc/passwd", False)],
)
def test_development_allows_plain_http_to_loopback_endpoints_only(
    pki: DevPKI, endpoint_url: str, found: bool
) -> None:
    with DevNetwork(pki) as net:
        net.publish(RECEIVER, [invoice_service(pki, url=endpoint_url)])
        result = asyncio.run(
            resolver_for(net, MutableClock()).lookup(RECEIVER, BIS_INVOICE, BIS_BILLING_PROCESS)
        )
    assert (result.outcome is LookupOutcome.FOUND) is found, result.detail


async def _to_loopback(host: str, port: int) -> list[IPAddress]:
    """The hostile SMP's DNS: every name resolves to loopback (a rebinding answer at connect time)."""
    return [ipaddress.ip_address("127.0.0.1")]


@pytest.fixture
def named_smp(pki: DevPKI, tmp_path: Path) -> Iterator[tuple[DevNetwork, Path]]:
    """An HTTPS SMP on loopback known by the name ``smp.rebind.test`` (its certificate and the NAPTR
    answer name it; the test's resolver maps it to 127.0.0.1), with the CA bundle that trusts it."""
    bundle = tmp_path / "smp-tls-ca.pem"
    bundle.write_bytes(pki.root.cert_pem)
    context = server_context(issue_tls_server(pki.root, now=NOW, hosts=("smp.rebind.test",)))
    with DevNetwork(pki, tls=context) as net:
        net.publish(RECEIVER, [invoice_service(pki)])
        net.sml.set_records(
            participant_host(RECEIVER, net.sml.zone),
            [smp_naptr_record(net.smp.url.replace("127.0.0.1", "smp.rebind.test"))],
        )
        yield net, bundle


def test_production_refuses_an_smp_name_that_resolves_to_loopback(named_smp: tuple[DevNetwork, Path]) -> None:
    # The NAPTR answer names a host (no address literal: the URL checks pass); the address it resolves to
    # when the connection is made is loopback, so the SMP is never contacted.
    net, bundle = named_smp
    resolver = resolver_for(
        net, MutableClock(), stage="production", ca_bundle=bundle, peers=PeerPolicy(resolve=_to_loopback)
    )
    result = asyncio.run(resolver.lookup(RECEIVER, BIS_INVOICE, BIS_BILLING_PROCESS))
    assert result.outcome is LookupOutcome.BAD_SMP_RESPONSE, result.detail
    assert "smp.rebind.test resolves to 127.0.0.1: not a public address" in result.detail
    assert not result.is_retryable
    assert net.smp.requests == 0


def test_an_allowed_internal_network_reaches_the_smp_by_its_name(named_smp: tuple[DevNetwork, Path]) -> None:
    # The operator's own network allowed: the connection goes to the vetted address, and TLS checks the
    # SMP's certificate against the name (the certificate does not name 127.0.0.1).
    net, bundle = named_smp
    peers = PeerPolicy(allowed=(ipaddress.ip_network("127.0.0.0/8"),), resolve=_to_loopback)
    resolver = resolver_for(net, MutableClock(), stage="production", ca_bundle=bundle, peers=peers)
    result = asyncio.run(resolver.lookup(RECEIVER, BIS_INVOICE, BIS_BILLING_PROCESS))
    assert result.outcome is LookupOutcome.FOUND, result.detail
    assert net.smp.requests == 1

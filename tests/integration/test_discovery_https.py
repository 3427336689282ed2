"""SMP reads over HTTPS with a configured CA bundle, the response size cap, and the service group read."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.crypto import DevPKI, generate_dev_pki
from gateway.devnet import DevNetwork, issue_tls_server, server_context
from gateway.errors import ParticipantNotRegistered
from gateway.model.identifiers import BIS_BILLING_PROCESS, BIS_CREDIT_NOTE, BIS_INVOICE, ParticipantID
from gateway.smp import LookupOutcome
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

"""Discovery end to end: real DNS (the development SML on loopback) and real HTTP (the development SMP).

Every outcome class of SML/SMP discovery (issue 9 item 2) is reached through the wire.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta

import pytest

from gateway.crypto import DevPKI, generate_dev_pki, issue_ap
from gateway.devnet import DevEndpoint, DevNetwork, DevService, DevSMPServer
from gateway.errors import (
    ConfigurationError,
    DiscoveryUnavailable,
    DocumentTypeNotSupported,
    EndpointCertificateRejected,
    ParticipantNotRegistered,
)
from gateway.model.identifiers import (
    BIS_BILLING_PROCESS,
    BIS_CREDIT_NOTE,
    BIS_INVOICE,
    INVOICE_RESPONSE_PROCESS,
    ParticipantID,
)
from gateway.services.smp_resolver import LookupResult
from gateway.smp import LookupCache, LookupOutcome, NaptrRecord, participant_host
from tests.discovery_support import NOW, RECEIVER, MutableClock, invoice_service, resolver_for


@pytest.fixture(scope="module")
def pki() -> DevPKI:
    return generate_dev_pki(now=NOW, seat_ids=("POP000001",))


@pytest.fixture
def network(pki: DevPKI) -> Iterator[DevNetwork]:
    with DevNetwork(pki) as net:
        net.publish(RECEIVER, [invoice_service(pki)])
        yield net


@pytest.fixture
def clock() -> MutableClock:
    return MutableClock()


def _lookup(network: DevNetwork, clock: MutableClock, **kw: object) -> LookupResult:
    resolver = resolver_for(network, clock, **kw)  # type: ignore[arg-type]
    return asyncio.run(resolver.lookup(RECEIVER, BIS_INVOICE, BIS_BILLING_PROCESS))


def test_found_through_sml_and_smp(network: DevNetwork, pki: DevPKI, clock: MutableClock) -> None:
    result = _lookup(network, clock)
    assert result.outcome is LookupOutcome.FOUND, result.detail
    assert result.endpoint is not None
    assert result.endpoint.url == "https://ap.example/as4"
    assert result.endpoint.certificate == pki.aps["POP000001"].certificate
    assert result.smp_url == network.smp.url


def test_found_with_a_fixed_smp_url(network: DevNetwork, clock: MutableClock) -> None:
    assert _lookup(network, clock, fixed_smp=True).outcome is LookupOutcome.FOUND


def test_participant_case_is_ignored(network: DevNetwork, clock: MutableClock) -> None:
    network.smp.participant_text = "0208:0739484052".upper()  # another case in the answer (peppol-commons#73)
    resolver = resolver_for(network, clock)
    upper = ParticipantID.parse("0208:0739484052".upper())
    assert (
        asyncio.run(resolver.lookup(upper, BIS_INVOICE, BIS_BILLING_PROCESS)).outcome is LookupOutcome.FOUND
    )


def test_not_registered_nxdomain(network: DevNetwork, clock: MutableClock) -> None:
    resolver = resolver_for(network, clock)
    stranger = ParticipantID.parse("0208:0000000097")
    result = asyncio.run(resolver.lookup(stranger, BIS_INVOICE, BIS_BILLING_PROCESS))
    assert result.outcome is LookupOutcome.NOT_REGISTERED
    assert "NXDOMAIN" in result.detail
    assert result.smp_url is None
    with pytest.raises(ParticipantNotRegistered):
        asyncio.run(resolver.resolve(stranger, BIS_INVOICE, BIS_BILLING_PROCESS))


def test_not_registered_without_meta_smp_record(network: DevNetwork, clock: MutableClock) -> None:
    other = ParticipantID.parse("0208:0000000196")
    network.sml.set_records(
        participant_host(other, network.sml.zone),
        [NaptrRecord(100, 10, "U", "Meta:Other", "!^.*$!https://x!")],
    )
    result = asyncio.run(resolver_for(network, clock).lookup(other, BIS_INVOICE, BIS_BILLING_PROCESS))
    assert result.outcome is LookupOutcome.NOT_REGISTERED
    assert "Meta:SMP" in result.detail


def test_not_registered_at_a_fixed_smp(network: DevNetwork, clock: MutableClock) -> None:
    stranger = ParticipantID.parse("0208:0000000097")
    resolver = resolver_for(network, clock, fixed_smp=True)
    assert (
        asyncio.run(resolver.lookup(stranger, BIS_INVOICE, BIS_BILLING_PROCESS)).outcome
        is LookupOutcome.NOT_REGISTERED
    )


@pytest.mark.parametrize("fixed_smp", [False, True])
def test_document_type_not_supported(network: DevNetwork, clock: MutableClock, fixed_smp: bool) -> None:
    resolver = resolver_for(network, clock, fixed_smp=fixed_smp)
    result = asyncio.run(resolver.lookup(RECEIVER, BIS_CREDIT_NOTE, BIS_BILLING_PROCESS))
    assert result.outcome is LookupOutcome.DOCUMENT_TYPE_NOT_SUPPORTED
    with pytest.raises(DocumentTypeNotSupported):
        asyncio.run(resolver.resolve(RECEIVER, BIS_CREDIT_NOTE, BIS_BILLING_PROCESS))


def test_process_not_supported(network: DevNetwork, clock: MutableClock) -> None:
    result = asyncio.run(resolver_for(network, clock).lookup(RECEIVER, BIS_INVOICE, INVOICE_RESPONSE_PROCESS))
    assert result.outcome is LookupOutcome.PROCESS_NOT_SUPPORTED


def test_no_as4_endpoint(network: DevNetwork, pki: DevPKI, clock: MutableClock) -> None:
    network.publish(RECEIVER, [invoice_service(pki, transport_profile="busdox-transport-as2-ver1p0")])
    assert _lookup(network, clock).outcome is LookupOutcome.NO_AS4_ENDPOINT


def test_endpoint_not_active(network: DevNetwork, pki: DevPKI, clock: MutableClock) -> None:
    network.publish(RECEIVER, [invoice_service(pki, activation=NOW + timedelta(days=1))])
    result = _lookup(network, clock)
    assert result.outcome is LookupOutcome.ENDPOINT_NOT_ACTIVE
    assert not result.is_retryable


def test_tampered_signature(network: DevNetwork, clock: MutableClock) -> None:
    network.smp.tampered.add(RECEIVER)
    result = _lookup(network, clock)
    assert result.outcome is LookupOutcome.BAD_SMP_SIGNATURE
    assert "Digest mismatch" in result.detail


def test_wrong_stage_smp_signer(pki: DevPKI, clock: MutableClock) -> None:
    other = generate_dev_pki(now=NOW, seat_ids=())
    assert other.smp is not None
    with DevNetwork(pki) as network:
        network.smp.signer = other.smp  # signed by an SMP certificate of another hierarchy
        network.publish(RECEIVER, [invoice_service(pki)])
        result = _lookup(network, clock)
    assert result.outcome is LookupOutcome.BAD_SMP_SIGNATURE
    assert "untrusted" in result.detail


def test_expired_endpoint_certificate(network: DevNetwork, pki: DevPKI, clock: MutableClock) -> None:
    old = issue_ap(
        pki.ap_ca, "POP000007", now=NOW, not_before=NOW - timedelta(days=400), validity=timedelta(days=30)
    )
    endpoint = DevEndpoint("https://ap.example/as4", old.certificate)
    network.publish(RECEIVER, [DevService(BIS_INVOICE, ((BIS_BILLING_PROCESS, (endpoint,)),))])
    resolver = resolver_for(network, clock)
    result = asyncio.run(resolver.lookup(RECEIVER, BIS_INVOICE, BIS_BILLING_PROCESS))
    assert result.outcome is LookupOutcome.ENDPOINT_CERTIFICATE_REJECTED
    with pytest.raises(EndpointCertificateRejected) as exc:
        asyncio.run(resolver_for(network, clock).resolve(RECEIVER, BIS_INVOICE, BIS_BILLING_PROCESS))
    assert not exc.value.retryable


def test_sml_unreachable_is_retryable_and_not_cached(network: DevNetwork, clock: MutableClock) -> None:
    network.sml.servfail = True
    resolver = resolver_for(network, clock)
    result = asyncio.run(resolver.lookup(RECEIVER, BIS_INVOICE, BIS_BILLING_PROCESS))
    assert result.outcome is LookupOutcome.SML_UNREACHABLE
    assert result.is_retryable
    network.sml.servfail = False
    assert (
        asyncio.run(resolver.lookup(RECEIVER, BIS_INVOICE, BIS_BILLING_PROCESS)).outcome
        is LookupOutcome.FOUND
    )


def test_sml_timeout_is_retryable(network: DevNetwork, clock: MutableClock) -> None:
    network.sml.stop()  # nobody answers on that port any more
    result = _lookup(network, clock, dns_timeout=0.5)
    assert result.outcome is LookupOutcome.SML_UNREACHABLE


@pytest.mark.parametrize(
    ("status", "outcome"), [(500, LookupOutcome.SMP_UNREACHABLE), (302, LookupOutcome.BAD_SMP_RESPONSE)]
)
def test_smp_errors_and_http_redirects_not_followed(
    network: DevNetwork, clock: MutableClock, status: int, outcome: LookupOutcome
) -> None:
    network.smp.fail_status = status
    network.smp.location = network.smp.url + "/elsewhere"
    result = _lookup(network, clock)
    assert result.outcome is outcome
    assert network.smp.requests == 1  # the 302 was not followed


def test_smp_unreachable(network: DevNetwork, clock: MutableClock) -> None:
    url = network.smp.url
    network.smp.stop()
    network.sml.register(RECEIVER, url)
    result = _lookup(network, clock)
    assert result.outcome is LookupOutcome.SMP_UNREACHABLE
    with pytest.raises(DiscoveryUnavailable):
        asyncio.run(resolver_for(network, clock).resolve(RECEIVER, BIS_INVOICE, BIS_BILLING_PROCESS))


def test_plain_http_smp_refused_outside_development(network: DevNetwork, clock: MutableClock) -> None:
    result = _lookup(network, clock, stage="test")
    assert result.outcome is LookupOutcome.BAD_SMP_RESPONSE
    assert "https only" in result.detail
    with pytest.raises(ConfigurationError, match="https only"):
        resolver_for(network, clock, stage="production", fixed_smp=True)


def _redirecting(pki: DevPKI, target: DevSMPServer, uid: str) -> DevService:
    return DevService(BIS_INVOICE, redirect_to=target.url, redirect_uid=uid)


def test_redirect_followed_once_when_signer_matches(
    network: DevNetwork, pki: DevPKI, clock: MutableClock
) -> None:
    assert pki.smp is not None
    with DevSMPServer(pki.smp) as first:
        first.register(
            RECEIVER, [_redirecting(pki, network.smp, pki.smp.certificate.subject.rfc4514_string())]
        )
        network.sml.register(RECEIVER, first.url)
        result = _lookup(network, clock)
    assert result.outcome is LookupOutcome.FOUND, result.detail
    assert network.smp.requests == 1


def test_redirect_target_signed_by_another_certificate(
    network: DevNetwork, pki: DevPKI, clock: MutableClock
) -> None:
    assert pki.smp is not None
    with DevSMPServer(pki.smp) as first:
        first.register(RECEIVER, [_redirecting(pki, network.smp, "CN=Another SMP,O=Elsewhere,C=BE")])
        network.sml.register(RECEIVER, first.url)
        result = _lookup(network, clock)
    assert result.outcome is LookupOutcome.BAD_SMP_SIGNATURE
    assert "CertificateUID" in result.detail


def test_second_redirect_refused(network: DevNetwork, pki: DevPKI, clock: MutableClock) -> None:
    assert pki.smp is not None
    uid = pki.smp.certificate.subject.rfc4514_string()
    with DevSMPServer(pki.smp) as first, DevSMPServer(pki.smp) as second:
        second.register(RECEIVER, [_redirecting(pki, network.smp, uid)])
        first.register(RECEIVER, [_redirecting(pki, second, uid)])
        network.sml.register(RECEIVER, first.url)
        result = _lookup(network, clock)
    assert result.outcome is LookupOutcome.BAD_SMP_RESPONSE
    assert "redirects again" in result.detail
    assert network.smp.requests == 0


def test_cache_serves_until_ttl_and_negative_ttl_is_shorter(
    network: DevNetwork, pki: DevPKI, clock: MutableClock
) -> None:
    cache: LookupCache = LookupCache(ttl=timedelta(minutes=15), negative_ttl=timedelta(minutes=2))  # type: ignore[type-arg]
    resolver = resolver_for(network, clock, cache=cache)

    def lookup(document: object = BIS_INVOICE) -> LookupOutcome:
        return asyncio.run(resolver.lookup(RECEIVER, document, BIS_BILLING_PROCESS)).outcome  # type: ignore[arg-type]

    assert lookup() is LookupOutcome.FOUND
    assert lookup(BIS_CREDIT_NOTE) is LookupOutcome.DOCUMENT_TYPE_NOT_SUPPORTED
    served = (network.sml.queries, network.smp.requests)
    network.smp.unregister(RECEIVER)  # changes are not seen while cached
    network.publish(
        RECEIVER, [invoice_service(pki), DevService(BIS_CREDIT_NOTE, invoice_service(pki).processes)]
    )
    clock.advance(timedelta(minutes=1))
    assert lookup() is LookupOutcome.FOUND
    assert lookup(BIS_CREDIT_NOTE) is LookupOutcome.DOCUMENT_TYPE_NOT_SUPPORTED
    assert (network.sml.queries, network.smp.requests) == served
    clock.advance(timedelta(minutes=2))  # the negative entry expired, the positive one not
    assert lookup(BIS_CREDIT_NOTE) is LookupOutcome.FOUND
    assert network.smp.requests == served[1] + 1
    network.smp.tampered.add(RECEIVER)
    clock.advance(timedelta(minutes=13))  # positive TTL over: looked up again
    assert lookup() is LookupOutcome.BAD_SMP_SIGNATURE


def test_cached_endpoint_not_served_past_its_expiration(
    network: DevNetwork, pki: DevPKI, clock: MutableClock
) -> None:
    network.publish(RECEIVER, [invoice_service(pki, expiration=NOW + timedelta(minutes=5))])
    resolver = resolver_for(network, clock)
    assert (
        asyncio.run(resolver.lookup(RECEIVER, BIS_INVOICE, BIS_BILLING_PROCESS)).outcome
        is LookupOutcome.FOUND
    )
    clock.advance(timedelta(minutes=6))  # within the 15-minute TTL, but past ServiceExpirationDate
    result = asyncio.run(resolver.lookup(RECEIVER, BIS_INVOICE, BIS_BILLING_PROCESS))
    assert result.outcome is LookupOutcome.ENDPOINT_NOT_ACTIVE


def test_endpoint_not_active_is_not_cached_past_its_activation(
    network: DevNetwork, pki: DevPKI, clock: MutableClock
) -> None:
    # The negative TTL is 2 minutes; the endpoint becomes active in 30 s: from then on it is found.
    network.publish(RECEIVER, [invoice_service(pki, activation=NOW + timedelta(seconds=30))])
    resolver = resolver_for(network, clock)
    first = asyncio.run(resolver.lookup(RECEIVER, BIS_INVOICE, BIS_BILLING_PROCESS))
    assert first.outcome is LookupOutcome.ENDPOINT_NOT_ACTIVE, first.detail
    clock.advance(timedelta(seconds=29))
    assert asyncio.run(resolver.lookup(RECEIVER, BIS_INVOICE, BIS_BILLING_PROCESS)).cached
    clock.advance(timedelta(seconds=1))  # the activation date: asked again, and active (inclusive)
    result = asyncio.run(resolver.lookup(RECEIVER, BIS_INVOICE, BIS_BILLING_PROCESS))
    assert result.outcome is LookupOutcome.FOUND, result.detail
    assert not result.cached


@pytest.mark.parametrize(
    ("smp_url", "outcome"),
    [
        ("https://[zz/smp", LookupOutcome.NOT_REGISTERED),  # urlsplit: "Invalid IPv6 URL"
        ("https://\u2100.example/smp", LookupOutcome.NOT_REGISTERED),  # invalid under NFKC normalisation
        ("file:///etc/passwd", LookupOutcome.NOT_REGISTERED),
        ("https://user:secret@smp.example/smp", LookupOutcome.BAD_SMP_RESPONSE),
        ("http://10.0.0.1:8080/smp", LookupOutcome.BAD_SMP_RESPONSE),  # plain http off loopback
        ("https://xn--zz.example/smp", LookupOutcome.BAD_SMP_RESPONSE),  # not valid IDNA
    ],
)
def test_a_hostile_naptr_answer_ends_in_a_typed_outcome(
    network: DevNetwork, clock: MutableClock, smp_url: str, outcome: LookupOutcome
) -> None:
    # Whoever answers the SML name chooses the SMP URL: no answer may escape the lookup as an exception.
    other = ParticipantID.parse("0208:0000000196")
    network.sml.set_records(
        participant_host(other, network.sml.zone),
        [NaptrRecord(100, 10, "U", "Meta:SMP", f"!^.*$!{smp_url}!")],
    )
    result = asyncio.run(resolver_for(network, clock).lookup(other, BIS_INVOICE, BIS_BILLING_PROCESS))
    assert result.outcome is outcome, result.detail


@pytest.mark.parametrize("smp_url", ["https://127.0.0.1:8443/smp", "https://169.254.169.254/smp"])
def test_production_does_not_follow_a_naptr_answer_to_an_internal_address(
    network: DevNetwork, clock: MutableClock, smp_url: str
) -> None:
    other = ParticipantID.parse("0208:0000000196")
    network.sml.set_records(
        participant_host(other, network.sml.zone),
        [NaptrRecord(100, 10, "U", "Meta:SMP", f"!^.*$!{smp_url}!")],
    )
    resolver = resolver_for(network, clock, stage="production")
    result = asyncio.run(resolver.lookup(other, BIS_INVOICE, BIS_BILLING_PROCESS))
    assert result.outcome is LookupOutcome.BAD_SMP_RESPONSE, result.detail
    assert "not a public host" in result.detail

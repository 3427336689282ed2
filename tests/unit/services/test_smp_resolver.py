"""SMPResolver configuration checks and its EndpointResolver shape (lookups are in tests/integration)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gateway.crypto import TrustStore, generate_dev_pki
from gateway.errors import ConfigurationError
from gateway.services.ports import EndpointResolver
from gateway.services.smp_resolver import SMPResolver
from gateway.smp import DiscoveryPolicy, NaptrAnswer, SMPHTTPResponse, SMPSignaturePolicy

NOW = datetime(2026, 12, 4, tzinfo=UTC)
_PKI = generate_dev_pki(now=NOW, seat_ids=(), key_size=1024)
assert _PKI.smp_ca is not None
POLICY = DiscoveryPolicy(
    stage="production",
    smp_signature=SMPSignaturePolicy(
        TrustStore.from_certificates([_PKI.root.certificate, _PKI.smp_ca.certificate]).pinned_to_smp_cas()
    ),
    ap_trust=TrustStore.from_certificates([_PKI.root.certificate, _PKI.ap_ca.certificate]),
)


class _Clock:
    def now(self) -> datetime:
        return NOW


class _Never:
    async def naptr(self, name: str) -> NaptrAnswer:
        raise AssertionError("no DNS in this test")

    async def get(self, url: str) -> SMPHTTPResponse:
        raise AssertionError("no HTTP in this test")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "exactly one"),
        ({"sml_zone": "test", "smp_url": "https://smp.example"}, "exactly one"),
        ({"sml_zone": "test"}, "DNS"),
        ({"smp_url": "http://127.0.0.1:8054"}, "https only"),
    ],
)
def test_configuration_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        SMPResolver(fetcher=_Never(), policy=POLICY, clock=_Clock(), **kwargs)  # type: ignore[arg-type]


def test_is_an_endpoint_resolver() -> None:
    resolver: EndpointResolver = SMPResolver(
        fetcher=_Never(), policy=POLICY, clock=_Clock(), naptr=_Never(), sml_zone="production"
    )
    assert callable(resolver.resolve)

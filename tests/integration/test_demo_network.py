"""The demo's local Peppol network: the environment it writes makes each AP find the other through the
development SML and SMP only (the composition root builds the sml mode from it)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from gateway.bootstrap import build_services
from gateway.cli.demo_network import demo_network
from gateway.config import Settings
from gateway.model.identifiers import BIS_BILLING_PROCESS, BIS_CREDIT_NOTE, BIS_INVOICE, ParticipantID
from gateway.services.smp_resolver import SMPResolver
from gateway.smp import LookupOutcome

COOPERATIVE = "0208:0739484052"
CLIENT = "9930:DE123456789"
SUPPLIER = "0208:0412345614"
INVOICE_ONLY = "0208:0442000096"


def test_each_access_point_finds_the_other_through_the_sml_and_smp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with demo_network(
        tmp_path / "demo",
        cooperative=COOPERATIVE,
        clients=[CLIENT],
        suppliers=[SUPPLIER],
        invoice_only=[INVOICE_ONLY],
    ) as net:
        answers = {}
        for ap, asked, document in (
            (net.cooperative, CLIENT, BIS_INVOICE),
            (net.cooperative, INVOICE_ONLY, BIS_CREDIT_NOTE),
            (net.cooperative, "0208:0442004056", BIS_INVOICE),
            (net.partner, COOPERATIVE, BIS_INVOICE),
        ):
            with monkeypatch.context() as env:
                for name, value in ap.env.items():
                    env.setenv(name, value)
                services = build_services(Settings())
            try:
                assert isinstance(services.directory, SMPResolver)
                assert services.settings.directory.path is None  # no participant directory at all
                result = asyncio.run(
                    services.directory.lookup(ParticipantID.parse(asked), document, BIS_BILLING_PROCESS)
                )
            finally:
                services.close()
            answers[(ap.name, asked)] = result
        found = answers[("cooperative", CLIENT)]
        assert found.outcome is LookupOutcome.FOUND, found.detail
        assert found.endpoint is not None
        assert found.endpoint.url == net.partner.as4_url
        back = answers[("partner", COOPERATIVE)]
        assert back.endpoint is not None
        assert back.endpoint.url == net.cooperative.as4_url
        assert answers[("cooperative", INVOICE_ONLY)].outcome is LookupOutcome.DOCUMENT_TYPE_NOT_SUPPORTED
        assert answers[("cooperative", "0208:0442004056")].outcome is LookupOutcome.NOT_REGISTERED

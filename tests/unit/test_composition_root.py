"""One composition root: bootstrap wires every use case once per process; entry points only take them."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any, cast

import pytest

from gateway.api.routes.outbound import HTTP_STATUS
from gateway.bootstrap import Services
from gateway.config import Settings
from gateway.errors import ConfigurationError
from gateway.model import ParticipantID
from gateway.model.identifiers import (
    BIS_BILLING_PROCESS,
    BIS_INVOICE,
    INVOICE_RESPONSE,
    INVOICE_RESPONSE_PROCESS,
)
from gateway.model.responses import MLS_DOCUMENT_TYPE, MLS_PROCESS, ResponseCode
from gateway.services.outbound import SubmissionOutcome, SubmissionResult
from gateway.services.responses import PeppolInvoiceResponder
from tests.as4_support import dev_pki

GATEWAY = Path(__file__).resolve().parents[2] / "gateway"
USE_CASES = (
    "OutboundSubmitter",
    "AS4Receiver",
    "Deliverer",
    "WebhookDispatcher",
    "PeppolInvoiceResponder",
    "MessageStatusService",
    "ReceivedAnswers",
)
#: Adapters and engines that bootstrap builds from the settings (entry points ask it for them).
BUILT_BY_BOOTSTRAP = ("ValidationEngine", "SQLDocumentStore", "ArtefactStore")


class _NoResolver:
    async def resolve(self, *args: object) -> Any:
        raise AssertionError("not called")


def _services(**settings: Any) -> Services:
    # The use-case constructors touch neither the store nor the engine: stand-ins suffice.
    return Services(
        settings=Settings.model_validate(settings),
        validation=cast(Any, object()),
        store=cast(Any, object()),
    )


@pytest.mark.parametrize("names", [USE_CASES, BUILT_BY_BOOTSTRAP], ids=["use-cases", "engines-and-adapters"])
def test_entry_points_never_construct_a_use_case(names: tuple[str, ...]) -> None:
    builders = re.compile(r"\b(" + "|".join(names) + r")\(")
    offenders = [
        f"{path.relative_to(GATEWAY)}: {match.group(0)}"
        for package in ("api", "worker", "cli", "bench")
        for path in sorted((GATEWAY / package).rglob("*.py"))
        for match in builders.finditer(path.read_text())
    ]
    assert offenders == []


def test_each_use_case_is_built_once_per_process() -> None:
    pki = dev_pki()
    services = _services(webhooks={"url": "https://hooks.example/gw", "secret": "s" * 20})
    services.identity, services.trust, services.directory = pki.sender, pki.trust, _NoResolver()
    assert services.submitter is services.submitter
    assert services.receiver is not None
    assert services.receiver is services.receiver
    assert services.receiver._finisher._max_document == services.settings.validation.max_document_bytes
    assert services.deliverer is services.deliverer
    assert services.webhook_dispatcher is not None
    assert services.webhook_dispatcher is services.webhook_dispatcher
    asyncio.run(services.aclose())  # the HTTP clients made on first use


def test_business_responses_are_wired_with_our_spid() -> None:
    pki = dev_pki()
    services = _services(as4={"served": ["0208:0739484052"]})
    services.identity, services.trust, services.directory = pki.sender, pki.trust, _NoResolver()
    services.served = frozenset({ParticipantID.parse("0208:0739484052")})
    assert isinstance(services.invoice_responder, PeppolInvoiceResponder)
    assert services.invoice_responder is services.invoice_responder
    assert services.our_spid == ParticipantID.parse("0242:000001")  # seat POP000001
    receiver = services.receiver
    assert receiver is not None
    spid, cooperative = ParticipantID.parse("0242:000001"), ParticipantID.parse("0208:0739484052")
    assert receiver._serves(spid, MLS_DOCUMENT_TYPE, MLS_PROCESS)  # MLS come to our SPID ...
    assert not receiver._serves(spid, BIS_INVOICE, BIS_BILLING_PROCESS)  # ... and nothing else
    assert not receiver._serves(spid, INVOICE_RESPONSE, INVOICE_RESPONSE_PROCESS)
    assert receiver._serves(cooperative, BIS_INVOICE, BIS_BILLING_PROCESS)
    assert services.deliverer._settings.mls_to == services.our_spid
    assert services.deliverer._settings.mls_type == "ALWAYS_SEND"
    # Answers held by the receiver are applied in the deliverer's receipt unit of work: one service.
    assert services.message_status.answers is services.received_answers
    assert services.deliverer._on_receipt == services.received_answers.after_receipt
    asyncio.run(services.aclose())


def test_mls_can_be_switched_off() -> None:
    services = _services(responses={"mls": False, "invoice_response_statuses": ["AB", "AP"]})
    services.identity = dev_pki().sender
    assert services.our_spid is None
    assert services.invoice_responder._statuses == {ResponseCode.ACKNOWLEDGED, ResponseCode.ACCEPTED}


def test_without_keys_there_is_no_receiver_and_no_deliverer() -> None:
    services = _services()
    assert services.receiver is None
    assert services.webhook_dispatcher is None
    with pytest.raises(ConfigurationError, match="keystore"):
        _ = services.deliverer


def test_services_report_outcomes_and_the_api_chooses_the_http_status() -> None:
    assert "status_code" not in SubmissionResult.__dataclass_fields__
    assert HTTP_STATUS == {
        SubmissionOutcome.ACCEPTED: 202,
        SubmissionOutcome.DUPLICATE: 200,
        SubmissionOutcome.REFUSED: 422,
    }


def test_the_expense_drafts_know_every_participant_we_serve() -> None:
    # A BT-49 naming another of the cooperative's served ids than the SBDH receiver is not a buyer in doubt.
    services = _services(as4={"served": ["0208:0739484052", "0088:5412345000013"]})
    served = frozenset(ParticipantID.parse(p) for p in ("0208:0739484052", "0088:5412345000013"))
    services.served = served
    assert services.expenses._policy.served == served

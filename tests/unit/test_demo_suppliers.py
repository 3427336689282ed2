"""The documents ``gateway demo`` sends for the partner AP's suppliers: each routes where the demo expects
(several units, tolerated spellings, an order reference, one unroutable), the credit note names the
invoice it credits, and the answers the demo waits for follow from its play."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from gateway.cli.demo import DEFAULT_SAMPLES
from gateway.cli.demo_expenses import DEMO_UNITS, PLAY, expected_responses
from gateway.cli.demo_suppliers import SUPPLIERS, SupplierDocument, supplier_documents
from gateway.model import CreditNote, complete_document
from gateway.model.units import ProductionUnit
from gateway.services.conversion import parse_document_json
from gateway.services.routing import RoutingOutcome, RoutingRule, route

UNITS = {u.key: u for u in (ProductionUnit(str(d["code"]), str(d["name"])) for d in DEMO_UNITS)}


def _documents() -> list[SupplierDocument]:
    return supplier_documents(sorted(DEFAULT_SAMPLES.glob("*.json")))


def test_every_supplier_document_routes_where_the_demo_expects() -> None:
    documents = _documents()
    assert [d.number for d in documents] == [
        "SUP-2026-0001",
        "SUP-2026-0002",
        "SUP-2026-0003",
        "SUP-2026-0004",
        "SUP-2026-C-0001",
    ]
    landed = {}
    for doc in documents:
        model = complete_document(parse_document_json(doc.body))
        assert model.seller.endpoint is not None
        assert f"{model.seller.endpoint.scheme}:{model.seller.endpoint.value}" == doc.supplier.participant
        decision = route(model, units=UNITS, mapping=None, at=datetime.now(UTC))
        landed[doc.number] = (decision.outcome, decision.unit_code, decision.rule)
        assert decision.unit_code == doc.expected_unit, decision.reason
    assert landed["SUP-2026-0001"] == (RoutingOutcome.ROUTED, "PU04711", RoutingRule.BUYER_REFERENCE)
    assert landed["SUP-2026-0002"] == (RoutingOutcome.ROUTED, "PU00123", RoutingRule.BUYER_REFERENCE)
    assert landed["SUP-2026-0003"] == (RoutingOutcome.ROUTED, "PU04711", RoutingRule.ORDER_REFERENCE)
    assert landed["SUP-2026-0004"] == (RoutingOutcome.TRIAGE, None, None)
    # The partner AP sends in its seller's name only (a BT-34 of another company is refused): SUPPLIERS[0].
    assert {d.supplier for d in documents} == {SUPPLIERS[0]}


def test_the_credit_note_credits_one_of_the_invoices() -> None:
    credit = _documents()[-1]
    model = complete_document(parse_document_json(credit.body))
    assert isinstance(model, CreditNote)
    assert [p.number for p in model.preceding_invoices] == ["SUP-2026-0003"]
    assert json.loads(credit.body)["kind"] == "credit_note"


def test_the_demo_waits_for_an_answer_per_action_and_an_acknowledgement_per_document() -> None:
    expected = expected_responses(_documents())
    assert expected == {
        "SUP-2026-0001": ["AB", "AP", "PD"],
        "SUP-2026-0002": ["AB", "UQ"],
        "SUP-2026-0003": ["AB", "RE"],
        "SUP-2026-0004": [],  # in triage: not routed to a unit, so not acknowledged (nobody assigns it)
        "SUP-2026-C-0001": ["AB"],
    }
    assert {action for _who, action, *_ in PLAY} == {"approve", "reject", "query", "mark-paid"}

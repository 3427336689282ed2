"""Routing of received documents to production units: each rule, the tolerated spellings, conflicts,
unknown and inactive codes, the supplier mapping (fallback, expiry) and the configurable order."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from gateway.model import CreditNote, Invoice
from gateway.model.units import ProductionUnit, SupplierMapping
from gateway.services.conversion import parse_document_json
from gateway.services.routing import (
    RoutingOutcome,
    RoutingRule,
    TriageReason,
    code_finder,
    find_codes,
    named_codes,
    route,
)

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
SAMPLE = Path(__file__).resolve().parents[2] / "data" / "documents" / "be-domestic-mixed-rates.json"
UNITS = {
    u.key: u
    for u in (
        ProductionUnit("PU-04711", "Schrijnwerkerij De Eik", members=("an",)),
        ProductionUnit("PU-00123", "Bakkerij Het Graan"),
        ProductionUnit("PU-00999", "Closed workshop", active=False),
    )
}
SUPPLIER = "0208:0412345614"
R = RoutingRule


def document(**changes: Any) -> Invoice | CreditNote:
    base = parse_document_json(SAMPLE.read_bytes())
    # The sample's own references carry no unit code (PO-77812 is not a unit prefix).
    base = base.model_copy(update={"buyer_reference": None, "purchase_order_reference": None, "notes": ()})
    lines = changes.pop("lines", None)
    if lines is not None:
        base = base.model_copy(
            update={"lines": tuple(line.model_copy(update=lines) for line in base.lines[:1]) + base.lines[1:]}
        )
    return base.model_copy(update=changes)


def mapping(unit: str = "PU00123", *, days: int = 30) -> SupplierMapping:
    return SupplierMapping(SUPPLIER, unit, "helpdesk", NOW - timedelta(days=1), NOW + timedelta(days=days))


@pytest.mark.parametrize(
    "reference",
    ["PU-04711", "pu04711", "PU 04711", "Pu - 04711", "Ref: PU04711 / site Gent", "uw ref.PU-04711."],
)
def test_buyer_reference_tolerates_case_blanks_dash_and_text(reference: str) -> None:
    decision = route(document(buyer_reference=reference), units=UNITS, mapping=None, at=NOW)
    assert decision.outcome is RoutingOutcome.ROUTED
    assert (decision.unit_code, decision.rule) == ("PU04711", R.BUYER_REFERENCE)
    assert "BT-10" in decision.reason
    assert reference in decision.reason


@pytest.mark.parametrize("reference", ["XPU04711", "PU047110", "PO-77812", "4711"])
def test_codes_glued_to_other_characters_or_other_prefixes_are_no_hint(reference: str) -> None:
    decision = route(document(buyer_reference=reference), units=UNITS, mapping=None, at=NOW)
    if reference == "PU047110":  # a longer number is another (unknown) code of the same prefix
        assert decision.outcome is RoutingOutcome.TRIAGE
        assert "unknown unit code PU047110" in decision.reason
    else:
        assert decision.outcome is RoutingOutcome.TRIAGE
        assert decision.hints == ()
        assert decision.reason == "no unit code in the document and no supplier mapping"


@pytest.mark.parametrize(
    ("changes", "rule", "field"),
    [
        ({"purchase_order_reference": "PU00123-PO-2026-0042"}, R.ORDER_REFERENCE, "BT-13"),
        ({"accounting_cost": "kost PU-00123"}, R.ACCOUNTING_REFERENCE, "BT-19"),
        ({"lines": {"accounting_cost": "PU00123"}}, R.ACCOUNTING_REFERENCE, "BT-133 line 1"),
        ({"lines": {"order_line_reference": "PU-00123/3"}}, R.LINE_ORDER_REFERENCE, "BT-132 line 1"),
        ({"notes": ("Levering voor atelier pu 00123",)}, R.NOTE, "BT-22"),
    ],
)
def test_each_document_rule(changes: dict[str, Any], rule: RoutingRule, field: str) -> None:
    decision = route(document(**changes), units=UNITS, mapping=None, at=NOW)
    assert decision.outcome is RoutingOutcome.ROUTED, decision.reason
    assert (decision.unit_code, decision.rule) == ("PU00123", rule)
    assert decision.hints[0].field == field


def test_the_same_unit_in_several_fields_is_no_conflict_and_the_first_rule_is_recorded() -> None:
    doc = document(buyer_reference="PU-00123", notes=("for PU00123",), purchase_order_reference="PU00123-7")
    decision = route(doc, units=UNITS, mapping=mapping("PU04711"), at=NOW)
    assert (decision.outcome, decision.unit_code, decision.rule) == (
        RoutingOutcome.ROUTED,
        "PU00123",
        R.BUYER_REFERENCE,
    )
    assert [h.rule for h in decision.hints] == [R.BUYER_REFERENCE, R.ORDER_REFERENCE, R.NOTE]


def test_the_configured_order_decides_which_rule_is_recorded_and_which_run() -> None:
    doc = document(buyer_reference="PU-00123", notes=("for PU00123",))
    decision = route(doc, units=UNITS, mapping=None, rules=(R.NOTE, R.BUYER_REFERENCE), at=NOW)
    assert decision.rule is R.NOTE
    # A rule left out of the list is not consulted at all.
    decision = route(document(buyer_reference="PU-00123"), units=UNITS, mapping=None, rules=(R.NOTE,), at=NOW)
    assert decision.outcome is RoutingOutcome.TRIAGE


def test_conflicting_hints_go_to_triage_with_both_candidates() -> None:
    doc = document(buyer_reference="PU-04711", notes=("atelier PU-00123",))
    decision = route(doc, units=UNITS, mapping=None, at=NOW)
    assert decision.outcome is RoutingOutcome.TRIAGE
    assert decision.unit_code is None
    assert [(h.unit_code, h.field) for h in decision.hints] == [("PU04711", "BT-10"), ("PU00123", "BT-22")]
    assert decision.reason == "conflicting hints: PU04711 in BT-10, PU00123 in BT-22"
    candidates = decision.to_dict()["candidates"]
    assert {c["unit"] for c in candidates} == {"PU04711", "PU00123"}


def test_two_codes_in_one_field_conflict_too() -> None:
    decision = route(document(buyer_reference="PU04711 / PU00123"), units=UNITS, mapping=None, at=NOW)
    assert decision.outcome is RoutingOutcome.TRIAGE
    assert len(decision.hints) == 2


def test_unknown_and_inactive_codes_go_to_triage_even_with_a_mapping() -> None:
    decision = route(document(buyer_reference="PU-55555"), units=UNITS, mapping=mapping(), at=NOW)
    assert decision.outcome is RoutingOutcome.TRIAGE
    assert decision.reason == "unknown unit code PU55555 in BT-10 ('PU-55555')"
    decision = route(document(buyer_reference="PU-00999"), units=UNITS, mapping=None, at=NOW)
    assert decision.outcome is RoutingOutcome.TRIAGE
    assert decision.reason.startswith("inactive unit code PU00999")


def test_an_unknown_code_beside_a_known_one_is_a_conflict() -> None:
    decision = route(
        document(buyer_reference="PU-55555", notes=("PU00123",)), units=UNITS, mapping=None, at=NOW
    )
    assert decision.outcome is RoutingOutcome.TRIAGE
    assert decision.reason == "conflicting hints: PU55555 (unknown) in BT-10, PU00123 in BT-22"


def test_supplier_mapping_is_the_fallback() -> None:
    decision = route(document(), units=UNITS, mapping=mapping(), at=NOW)
    assert (decision.outcome, decision.unit_code, decision.rule) == (
        RoutingOutcome.ROUTED,
        "PU00123",
        R.SUPPLIER_MAPPING,
    )
    assert "helpdesk" in decision.reason


def test_an_expired_or_disabled_or_inactive_mapping_is_not_used() -> None:
    expired = mapping(days=-1)
    decision = route(document(), units=UNITS, mapping=expired, at=NOW)
    assert decision.outcome is RoutingOutcome.TRIAGE
    assert "expired" in decision.reason
    decision = route(document(), units=UNITS, mapping=mapping(), rules=(R.BUYER_REFERENCE,), at=NOW)
    assert decision.outcome is RoutingOutcome.TRIAGE
    decision = route(document(), units=UNITS, mapping=mapping("PU00999"), at=NOW)
    assert decision.outcome is RoutingOutcome.TRIAGE
    assert "not an active unit" in decision.reason


@pytest.mark.parametrize(
    ("changes", "supplier_mapping", "kind"),
    [
        ({"buyer_reference": "PU-04711", "notes": ("PU00123",)}, None, TriageReason.CONFLICT),
        ({"buyer_reference": "PU-55555"}, None, TriageReason.UNKNOWN_UNIT),
        ({"buyer_reference": "PU-00999"}, None, TriageReason.INACTIVE_UNIT),
        ({}, mapping(days=-1), TriageReason.MAPPING_EXPIRED),
        ({}, mapping("PU00999"), TriageReason.MAPPING_INACTIVE),
        ({}, None, TriageReason.NO_UNIT),
    ],
)
def test_each_triage_reason_says_its_kind_by_how_it_starts(
    changes: dict[str, Any], supplier_mapping: SupplierMapping | None, kind: TriageReason
) -> None:
    decision = route(document(**changes), units=UNITS, mapping=supplier_mapping, at=NOW)
    assert decision.outcome is RoutingOutcome.TRIAGE
    assert TriageReason.of(decision.reason) is kind


def test_a_routed_reason_or_another_text_is_no_triage_reason() -> None:
    routed = route(document(buyer_reference="PU-04711"), units=UNITS, mapping=None, at=NOW)
    mapped = route(document(), units=UNITS, mapping=mapping(), at=NOW)
    for reason in (routed.reason, mapped.reason, "the buyer's electronic address (BT-49) ...", "", None):
        assert TriageReason.of(reason) is None


def test_without_units_everything_goes_to_triage() -> None:
    decision = route(document(buyer_reference="PU-04711"), units={}, mapping=None, at=NOW)
    assert decision.outcome is RoutingOutcome.TRIAGE


def test_find_codes() -> None:
    finder = code_finder(["PU", "ATL"])
    assert finder is not None
    assert find_codes("atl-12, PU 4711 and pu4711 again; ATL12", finder) == ["ATL12", "PU4711"]
    assert code_finder([]) is None


def test_with_only_the_named_units_loaded_the_prefixes_still_find_unknown_codes() -> None:
    doc = document(buyer_reference="PU-55555")
    named = {key for *_, key in named_codes(doc, prefixes={"PU"})}
    assert named == {"PU55555"}
    subset = {key: UNITS[key] for key in named if key in UNITS}
    decision = route(doc, units=subset, mapping=None, prefixes={"PU"}, at=NOW)
    assert decision.reason == "unknown unit code PU55555 in BT-10 ('PU-55555')"
    routed = route(
        document(buyer_reference="PU04711"), units={"PU04711": UNITS["PU04711"]}, mapping=None, at=NOW
    )
    assert routed.unit_code == "PU04711"


def test_a_note_naming_thousands_of_codes_is_triaged_quickly_with_a_bounded_decision() -> None:
    """A hostile supplier's long note naming many code-shaped references: the routing decision (stored with
    the expense, shown to support) stays small and is made in linear time, the units loaded are few; the
    outcome is the same conflict."""
    note = " ".join(f"PU-{n}" for n in range(20_000))
    doc = document(notes=(note,), buyer_reference="PU-04711 " + "x" * 100_000)
    started = time.perf_counter()
    named = {key for *_, key in named_codes(doc, prefixes={"PU"})}
    decision = route(doc, units=UNITS, mapping=None, at=NOW)
    assert time.perf_counter() - started < 2
    assert decision.outcome is RoutingOutcome.TRIAGE
    assert decision.reason.startswith("conflicting hints: PU04711 in BT-10, PU0 (unknown) in BT-22")
    assert len(named) <= 100
    assert len(json.dumps(decision.to_dict())) < 20_000
    candidates = decision.to_dict()["candidates"]
    assert isinstance(candidates, list)
    assert candidates[0]["text"].startswith("PU-04711 xxx")
    assert len(candidates[0]["text"]) < 300


def test_a_single_code_beyond_the_kept_hints_still_makes_a_conflict() -> None:
    """Hints of one code repeated on many lines are kept only up to a bound, yet a second code after them is
    still seen: the outcome is the conflict, as it was without the bound."""
    lines = [f"PU-04711 line {n}" for n in range(500)]
    note_texts = (*lines, "PU-00123")
    decision = route(document(notes=note_texts), units=UNITS, mapping=None, at=NOW)
    assert decision.outcome is RoutingOutcome.TRIAGE
    assert "PU00123 in BT-22" in decision.reason
    one = route(document(notes=tuple(lines)), units=UNITS, mapping=None, at=NOW)
    assert one.outcome is RoutingOutcome.ROUTED
    assert one.unit_code == "PU04711"

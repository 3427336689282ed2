"""The expense draft of a large received document, read line by line (``read_for_draft`` from
``LINE_BY_LINE_ABOVE_BYTES`` up): the same draft, routing and errors as the whole document's model gives,
without that model in memory (BENCHMARKS.md, *Memory, eighth pass*)."""

from __future__ import annotations

import gc
import re
import tracemalloc
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import cast

import pytest

from gateway.bench.large import many_lines_invoice
from gateway.errors import GatewayError
from gateway.model import BIS_INVOICE, ParticipantID
from gateway.model.units import ProductionUnit, SupplierMapping
from gateway.services import expense_draft_reading, receive_finish
from gateway.services.expense_draft_reading import read_for_draft
from gateway.services.expense_drafts import build_draft
from gateway.services.routing import RoutingRule, named_codes, route
from gateway.ubl import read_ubl, read_ubl_line_by_line
from tests.unit.ubl.test_pull_read import _documents, _many_lines, _mutants

SENDER = ParticipantID.parse("iso6523-actorid-upis::0208:0412345614")
NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
UNITS = {
    u.key: u
    for u in (
        ProductionUnit("PU-04711", "De Eik"),
        ProductionUnit("PU-00123", "Het Graan"),
        ProductionUnit("PU-00999", "Closed", active=False),
    )
}
MAPPING = SupplierMapping(
    SENDER.key, "PU00123", "helpdesk", datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)
)
RULE_ORDERS = (
    tuple(RoutingRule),
    (RoutingRule.LINE_ORDER_REFERENCE, RoutingRule.ACCOUNTING_REFERENCE, RoutingRule.SUPPLIER_MAPPING),
)


def _line_references(ubl: bytes) -> Iterator[bytes]:
    """Routing references on some lines (BT-133, BT-132), one unit or several, known or not."""
    line_end = b"</cac:InvoiceLine>" if b"<cac:InvoiceLine>" in ubl else b"</cac:CreditNoteLine>"
    cost = b"<cbc:AccountingCost>site PU-04711</cbc:AccountingCost>"
    order = b"<cac:OrderLineReference><cbc:LineID>pu 00999 / 3</cbc:LineID></cac:OrderLineReference>"
    yield ubl.replace(line_end, cost + line_end, 1)
    yield ubl.replace(line_end, order + line_end)
    yield ubl.replace(line_end, cost + line_end).replace(b"PU-04711", b"PU00123", 1)
    yield ubl.replace(line_end, cost + order + line_end, 2)


def _variants() -> Iterator[tuple[str, bytes]]:
    for name, ubl in _documents():
        line = b"<cac:InvoiceLine>" if b"<cac:InvoiceLine>" in ubl else b"<cac:CreditNoteLine>"
        yield name, ubl
        if line == b"<cac:InvoiceLine>":
            yield f"{name} x3", _many_lines(ubl, 3)  # duplicate BT-126 identifiers
        for n, mutant in enumerate(_mutants(ubl)):
            yield f"{name} mutant {n}", mutant
        for n, mutant in enumerate(_line_references(ubl)):
            yield f"{name} references {n}", mutant
        # A line the model refuses (after a valid first one), and a second line with the first one's id.
        end = line.replace(b"<", b"</")
        first_end = ubl.index(end) + len(end)
        second = ubl[ubl.index(line) : first_end]
        yield (
            f"{name} bad 2nd line",
            ubl[:first_end] + second.replace(b"<cbc:ID>", b"<cbc:ID/><x>", 1) + (ubl[first_end:]),
        )
        yield f"{name} repeated line", ubl[:first_end] + second + ubl[first_end:]


def _whole(ubl: bytes) -> object:
    try:
        model = read_ubl(ubl)
    except GatewayError as exc:
        return f"{type(exc).__name__}: {exc}"
    values = build_draft(model, sender=SENDER)
    decisions = [
        (
            named_codes(model, prefixes={"PU"}, rules=rules),
            route(model, units=UNITS, mapping=MAPPING, rules=rules, at=NOW).to_dict(),
        )
        for rules in RULE_ORDERS
    ]
    return values, decisions


def _line_by_line(ubl: bytes) -> object:
    try:
        model, lines = read_for_draft(ubl)
    except GatewayError as exc:
        return f"{type(exc).__name__}: {exc}"
    values, routed = expense_draft_reading.draft_of(model, lines, SENDER)
    decisions = [
        (
            named_codes(routed, prefixes={"PU"}, rules=rules),
            route(routed, units=UNITS, mapping=MAPPING, rules=rules, at=NOW).to_dict(),
        )
        for rules in RULE_ORDERS
    ]
    return values, decisions


@pytest.fixture(name="line_by_line")
def line_by_line_fixture(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(expense_draft_reading, "LINE_BY_LINE_ABOVE_BYTES", 0)


@pytest.mark.usefixtures("line_by_line")
@pytest.mark.parametrize(("name", "ubl"), list(_variants()), ids=lambda v: v if isinstance(v, str) else "")
def test_the_draft_read_line_by_line_is_the_whole_models_draft(name: str, ubl: bytes) -> None:
    assert _line_by_line(ubl) == _whole(ubl), name


@pytest.mark.usefixtures("line_by_line")
def test_valid_documents_hand_their_lines_on_and_keep_only_the_first() -> None:
    taken = 0
    for name, ubl in _documents():
        model, lines = read_for_draft(ubl)
        assert lines is not None, name
        assert len(model.lines) == 1, name
        assert len(lines.rows) == len(read_ubl(ubl).lines), name
        taken += 1
    assert taken >= 10


def test_a_document_the_model_refuses_falls_back_on_the_whole_read() -> None:
    ubl = next(u for _, u in _documents() if b"<cac:InvoiceLine>" in u)
    start = ubl.index(b"<cac:InvoiceLine>")
    end = ubl.index(b"</cac:InvoiceLine>") + len(b"</cac:InvoiceLine>")
    # The second line's quantity is no number: the first line is handed on before that one is seen.
    bad = ubl[start:end].replace(b"<cbc:ID>", b"<cbc:ID>2-", 1)
    bad = re.sub(rb"(<cbc:InvoicedQuantity[^>]*>)[^<]*", rb"\1many", bad)
    seen: list[str] = []
    with pytest.raises(GatewayError) as line_by_line:
        read_ubl_line_by_line(ubl[:end] + bad + ubl[end:], lambda line, credit: seen.append(line.id))
    with pytest.raises(GatewayError) as whole:
        read_ubl(ubl[:end] + bad + ubl[end:])
    assert len(seen) == 1
    assert str(line_by_line.value) == str(whole.value)
    assert "lines.1.quantity" in str(whole.value)


def test_small_documents_keep_the_whole_read() -> None:
    for name, ubl in _documents():
        model, lines = read_for_draft(ubl)
        assert lines is None, name
        assert model == read_ubl(ubl), name


def _peak(read: Callable[[], object]) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        kept = read()
        _, peak = tracemalloc.get_traced_memory()
        del kept
    finally:
        tracemalloc.stop()
    return peak


def test_a_large_document_never_holds_every_lines_model() -> None:
    ubl = many_lines_invoice(1500, tag="mem8").ubl
    assert len(ubl) >= expense_draft_reading.LINE_BY_LINE_ABOVE_BYTES
    whole = _peak(lambda: build_draft(read_ubl(ubl), sender=SENDER))
    lines = _peak(lambda: expense_draft_reading.draft_of(*read_for_draft(ubl), SENDER))
    # Measured: 1,500 lines, the whole model 7-10 MiB at its peak, line by line the draft's rows ≈ 1 MiB.
    assert lines * 3 < whole, (lines, whole)


def test_the_receive_path_reads_a_large_validated_document_line_by_line() -> None:
    # What a document validated without a tree (from 1 MiB up) hands the expense intake.
    ubl = many_lines_invoice(1500, tag="mem8").ubl
    facts = cast(
        receive_finish.ReceivedFacts,
        SimpleNamespace(document_id="d", document_type=BIS_INVOICE, sender=SENDER, receiver=None),
    )
    validated = receive_finish._read(facts, ubl)
    assert validated.model is not None
    assert validated.lines is not None
    assert len(validated.model.lines) == 1
    assert len(validated.lines.rows) == 1500

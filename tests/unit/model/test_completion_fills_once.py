"""``complete_document`` hands its own computed totals to ``fill_amounts`` instead of having them computed a
second time: the completed document is the one ``fill_amounts`` gives when it computes them itself, over
every JSON test document (as posted, with its line net amounts stated in another written form, with line
and document amounts stated), every official example and artefact file ``read_ubl`` takes, and generated
documents."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from gateway.errors import GatewayError
from gateway.model import CreditNote, Invoice, complete_document, completion, fill_amounts
from gateway.model.totals import ComputedTotals
from gateway.model.values import format_decimal
from gateway.services.conversion import parse_document_json
from gateway.ubl import read_ubl
from tests.property.test_ubl_roundtrip import document

DOCUMENTS = Path(__file__).resolve().parents[2] / "data" / "documents"
ARTEFACTS = Path(__file__).resolve().parents[3].parent / "shared" / "artefacts"


def _computing_itself(
    doc: Invoice | CreditNote, computed: ComputedTotals | None = None
) -> Invoice | CreditNote:
    return fill_amounts(doc)


def same_completion(doc: Invoice | CreditNote) -> bool:
    """Whether completion takes ``doc``; asserts the completed document is the one ``fill_amounts`` gives
    computing the totals itself (or that both refuse alike)."""
    try:
        completed = complete_document(doc)
    except GatewayError as exc:
        refusal: GatewayError | None = exc
    else:
        refusal = None
    with pytest.MonkeyPatch.context() as patched:
        patched.setattr(completion, "fill_amounts", _computing_itself)
        if refusal is not None:
            with pytest.raises(type(refusal)) as raised:
                complete_document(doc)
            assert str(raised.value) == str(refusal)
            return False
        expected = complete_document(doc)
    assert completed == expected
    assert completed.model_dump_json() == expected.model_dump_json()  # 10.000 == 10.00: the written forms
    return True


def _posted() -> Iterator[dict[str, Any]]:
    for path in sorted(DOCUMENTS.glob("*.json")):
        yield json.loads(path.read_text())


def _with_amounts_stated(data: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The document with its computed line net amounts stated, in the written form ``10.000`` (equal in
    value, written as stated), then with its allowance/charge amounts and totals stated as well."""
    completed = complete_document(parse_document_json(json.dumps(data).encode()))
    lines = [
        dict(
            line,
            net_amount=format_decimal(filled.net_amount)
            + ("0" if "." in format_decimal(filled.net_amount) else ".000"),
        )
        for line, filled in zip(data["lines"], completed.lines, strict=True)
        if filled.net_amount is not None
    ]
    yield dict(data, lines=lines)
    assert completed.totals is not None
    totals = {
        key: format_decimal(value)
        for key, value in completed.totals.model_dump().items()
        if value is not None
    }
    acs = [
        dict(ac, amount=format_decimal(filled.amount))
        for ac, filled in zip(data.get("allowances_charges", []), completed.allowances_charges, strict=True)
        if filled.amount is not None
    ]
    yield dict(data, lines=lines, allowances_charges=acs, totals=totals)


def test_json_documents() -> None:
    completed = 0
    for data in _posted():
        for variant in (data, *_with_amounts_stated(data)):
            doc = parse_document_json(json.dumps(variant).encode())
            completed += same_completion(doc)
    assert completed == 3 * len(list(_posted()))


def test_artefacts_read_back() -> None:
    completed = 0
    for path in sorted(p for p in ARTEFACTS.rglob("*") if p.suffix.lower() == ".xml"):
        try:
            doc = read_ubl(path.read_bytes())
        except (GatewayError, ValueError):
            continue
        completed += same_completion(doc)
    assert completed >= 10  # 11 on 2026-12-07


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(document())
def test_generated_documents(doc: Invoice | CreditNote) -> None:
    same_completion(doc)

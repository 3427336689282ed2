"""The budget of official-stylesheet compiles: a token bucket, and a fused layer beyond it reports its
own error instead of compiling (a burst of unevaluable documents cannot hold Saxon's lock for long)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gateway.validation import ValidationEngine
from gateway.validation.compile_budget import CompileBudget
from gateway.validation.report import RULE_ERROR, Layer
from gateway.validation.saxon import SaxonRuntime


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_bucket_spends_its_size_then_refills_by_the_minute() -> None:
    clock = FakeClock()
    budget = CompileBudget(3, clock=clock)
    assert [budget.take() for _ in range(4)] == [True, True, True, False]
    assert budget.refused == 1
    clock.now += 19.0  # 3 a minute: one every 20 s
    assert not budget.take()
    clock.now += 1.0
    assert budget.take()
    assert not budget.take()
    clock.now += 3600.0  # never more than its size
    assert [budget.take() for _ in range(4)] == [True, True, True, False]


def test_a_budget_of_zero_never_compiles_and_a_negative_one_is_refused() -> None:
    assert not CompileBudget(0).take()
    with pytest.raises(ValueError, match="negative"):
        CompileBudget(-1)


def _two_errors(artefacts_dir: Path) -> bytes:
    """The base example with two XPath errors (as test_fused_errors): officially the cast's error, the
    fused walk meets the other one first."""
    example = (artefacts_dir / "peppol-bis-billing-3.0.21/examples/base-example.xml").read_text("utf-8")
    scheme = "<cac:TaxScheme>\n                    <cbc:ID>VAT</cbc:ID>"
    amount = '<cbc:LineExtensionAmount currencyID= "EUR">2800</cbc:LineExtensionAmount>'
    document = example.replace(scheme, scheme + "<cbc:ID>VAT</cbc:ID>", 1)
    return document.replace(amount, amount.replace("2800", "1e3"), 1).encode()


def test_beyond_the_budget_the_fused_error_is_reported_without_compiling(
    artefacts_dir: Path, validation_engine: ValidationEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = ValidationEngine(validation_engine.store, official_compiles_per_minute=1)
    engine.warm_up()
    compiled: list[str] = []
    compile_stylesheet = SaxonRuntime.compile

    def counting(runtime: SaxonRuntime, stylesheet: bytes, *, name: str) -> Any:
        compiled.append(name)
        return compile_stylesheet(runtime, stylesheet, name=name)

    monkeypatch.setattr(SaxonRuntime, "compile", counting)
    document = _two_errors(artefacts_dir)
    first = engine.validate(document, layers={Layer.CEN})
    (official,) = [f for f in first.findings if f.rule == RULE_ERROR]
    assert 'Cannot convert string "1e3" to xs:decimal' in official.message
    assert len(compiled) == 1  # the official CEN stylesheet, for this document
    second = engine.validate(document, layers={Layer.CEN})
    (own,) = [f for f in second.findings if f.rule == RULE_ERROR]
    assert len(compiled) == 1  # beyond the budget: no compile
    assert own.message != official.message  # the fused walk's error: the document is still refused
    assert "could not be evaluated" in own.message

"""``gateway bench validation``'s steps timed in place add up to one validation, in the engine's order."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from gateway.bench.validation_phases import steps_in_place
from gateway.validation import DEFAULT_RULE_SET_ID, ValidationEngine

_PARTS = ["lxml parse", "XSD", "stub + text", "Saxon parse", "transform", "findings"]


def test_the_steps_in_place_add_up_to_their_sum(
    validation_engine: ValidationEngine, artefacts_dir: Path
) -> None:
    example = (artefacts_dir / "peppol-bis-billing-3.0.21/examples/base-example.xml").read_bytes()

    steps = steps_in_place(validation_engine, DEFAULT_RULE_SET_ID, [example], repeat=1)

    assert list(steps) == [*_PARTS, "sum", "whole validate()"]
    assert all(ms >= 0 for ms in steps.values())
    # One document, one run: the median of best is that run, so the steps are its parts exactly.
    assert math.isclose(sum(steps[name] for name in _PARTS), steps["sum"], rel_tol=1e-9, abs_tol=1e-9)
    assert steps["transform"] > 0
    assert steps["whole validate()"] > 0


def test_no_steps_without_a_shared_stylesheet(validation_engine: ValidationEngine) -> None:
    compiled = validation_engine.compiled(DEFAULT_RULE_SET_ID)
    shared, compiled.shared = compiled.shared, None
    try:
        assert steps_in_place(validation_engine, DEFAULT_RULE_SET_ID, [b"<x/>"], repeat=1) == {}
    finally:
        compiled.shared = shared


def test_a_pause_precedes_every_timed_validation(
    validation_engine: ValidationEngine, artefacts_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    example = (artefacts_dir / "peppol-bis-billing-3.0.21/examples/base-example.xml").read_bytes()
    slept: list[float] = []
    monkeypatch.setattr("gateway.bench.validation_phases.time.sleep", slept.append)

    steps_in_place(validation_engine, DEFAULT_RULE_SET_ID, [example, example], repeat=2, pause=0.02)

    # Per round and document: one before its steps, one before its whole validate().
    assert slept == [0.02] * 8

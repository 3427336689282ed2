"""The official TSR 1.0.5 / EUSR 1.1.5 examples validate with zero fatal findings under the pinned rule sets,
and the bad examples are refused (Peppol reporting, peppol-as4.md §11)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.validation import ValidationEngine

TSR = "peppol-tsr-1.0.5"
EUSR = "peppol-eusr-1.1.5"


def _fatal(engine: ValidationEngine, xml: bytes, rule_set: str) -> list[str]:
    return [f"{f.rule}: {f.message}" for f in engine.validate(xml, rule_set=rule_set).fatal]


@pytest.mark.parametrize(("folder", "rule_set"), [("tsr-1.0.5", TSR), ("eusr-1.1.5", EUSR)])
def test_official_examples_validate(
    validation_engine: ValidationEngine, artefacts_dir: Path, folder: str, rule_set: str
) -> None:
    examples = sorted((artefacts_dir / "peppol-reporting" / folder / "examples").glob("*.xml"))
    assert len(examples) >= 6
    for path in examples:
        assert _fatal(validation_engine, path.read_bytes(), rule_set) == [], path.name


@pytest.mark.parametrize(
    ("folder", "rule_set", "name"),
    [("tsr-1.0.5", TSR, "tsr-06.xml"), ("eusr-1.1.5", EUSR, "eusr-09-1.xml")],
)
def test_official_bad_examples_are_fatal(
    validation_engine: ValidationEngine, artefacts_dir: Path, folder: str, rule_set: str, name: str
) -> None:
    path = artefacts_dir / "peppol-reporting" / folder / "bad-examples" / name
    assert _fatal(validation_engine, path.read_bytes(), rule_set)

"""The official TSR 1.0.5 / EUSR 1.1.5 examples validate with zero fatal findings under the pinned rule sets,
and the bad examples are refused (Peppol reporting, peppol-as4.md §11)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from lxml import etree

from gateway.model.report import ReportMonth, country_code, end_user_statistics, transaction_statistics
from gateway.ubl.reporting import build_eusr, build_tsr
from gateway.validation import ValidationEngine
from tests.reporting_month import IN, INV, MONTH, SEAT, TRAFFIC, transmission

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


@pytest.mark.parametrize("month", [MONTH, ReportMonth(2026, 2)], ids=["synthetic-month", "empty-month"])
def test_built_reports_validate_with_zero_fatal(
    validation_engine: ValidationEngine, month: ReportMonth
) -> None:
    tsr = build_tsr(transaction_statistics(month, SEAT, TRAFFIC))
    eusr = build_eusr(end_user_statistics(month, SEAT, TRAFFIC))
    assert _fatal(validation_engine, tsr, TSR) == []
    assert _fatal(validation_engine, eusr, EUSR) == []
    assert validation_engine.validate(tsr, rule_set=TSR).findings == ()
    assert validation_engine.validate(eusr, rule_set=EUSR).findings == ()


def test_built_tsr_totals_are_in_the_xml() -> None:
    root = etree.fromstring(build_tsr(transaction_statistics(MONTH, SEAT, TRAFFIC)))
    ns = {"t": "urn:fdc:peppol:transaction-statistics-report:1.0"}
    assert root.findtext("t:Total/t:Incoming", namespaces=ns) == "3"
    assert root.findtext("t:Header/t:ReportPeriod/t:EndDate", namespaces=ns) == "2026-11-30"
    assert root.findtext("t:Header/t:ReporterID", namespaces=ns) == SEAT


@pytest.mark.parametrize("sent", ["UK", "XX", "QQ"])
def test_a_sender_country_outside_the_code_list_does_not_make_the_tsr_invalid(
    validation_engine: ValidationEngine, sent: str
) -> None:
    # A sending AP writes a well-formed COUNTRY_C1 that is no ISO 3166 code ("UK" for GB): the receive path
    # accepts it (two letters), and the record must not carry it into the TSR, where SCH-TSR-20 is fatal
    # and would keep the whole month's report from being sent.
    c1 = country_code(sent)
    one = transmission(
        "u1", datetime(2026, 11, 3, tzinfo=UTC), IN, "POP000002", INV, c1, "BE", "0208:0739484052"
    )
    tsr = build_tsr(transaction_statistics(MONTH, SEAT, [*TRAFFIC, one]))
    assert _fatal(validation_engine, tsr, TSR) == []
    assert c1 == "ZZ"

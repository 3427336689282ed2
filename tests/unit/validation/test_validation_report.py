"""ValidationReport / Finding as data, and ensure_valid."""

from __future__ import annotations

import pytest

from gateway.errors import DocumentRejected
from gateway.validation import Finding, Layer, Severity, ValidationReport, ensure_valid
from gateway.validation.svrl import findings_from_svrl, severity_of

FATAL = Finding("BR-CO-15", Severity.FATAL, Layer.CEN, "totals", "/Invoice[1]")
WARN = Finding("UBL-CR-679", Severity.WARNING, Layer.CEN, "shall not be used", "")


def test_report_with_only_warnings_is_valid() -> None:
    report = ValidationReport("rs", (WARN,))
    assert report.valid
    assert report.warnings == (WARN,)
    assert report.fatal == ()
    ensure_valid(report)


def test_report_with_a_fatal_is_invalid_and_ensure_valid_raises() -> None:
    report = ValidationReport("rs", (WARN, FATAL))
    assert not report.valid
    assert report.fatal == (FATAL,)
    with pytest.raises(DocumentRejected) as info:
        ensure_valid(report)
    assert info.value.report is report
    assert "BR-CO-15" in str(info.value)


def test_to_dict_shapes() -> None:
    assert FATAL.to_dict() == {
        "rule": "BR-CO-15",
        "severity": "fatal",
        "layer": "cen",
        "message": "totals",
        "location": "/Invoice[1]",
    }
    assert ValidationReport("rs", (FATAL,)).to_dict() == {
        "rule_set": "rs",
        "valid": False,
        "issues": [FATAL.to_dict()],
    }


@pytest.mark.parametrize(
    ("flag", "severity"),
    [
        ("fatal", Severity.FATAL),
        ("warning", Severity.WARNING),
        ("information", Severity.WARNING),
        (None, Severity.FATAL),  # vefa: no flag -> error
        ("bogus", Severity.FATAL),  # unknown flags fail closed
    ],
)
def test_flag_mapping(flag: str | None, severity: Severity) -> None:
    assert severity_of(flag) is severity


def test_svrl_findings_keep_order_and_normalise_text() -> None:
    svrl = b"""<svrl:schematron-output xmlns:svrl="http://purl.oclc.org/dsdl/svrl">
      <svrl:fired-rule context="x"/>
      <svrl:failed-assert id="R1" flag="warning" location="/a[1]" test="x">
        <svrl:text>  two
           lines </svrl:text></svrl:failed-assert>
      <svrl:successful-report id="R2" location="/b[1]" test="y">
        <svrl:text>reported</svrl:text></svrl:successful-report>
    </svrl:schematron-output>"""
    assert findings_from_svrl(svrl, Layer.PEPPOL) == [
        Finding("R1", Severity.WARNING, Layer.PEPPOL, "two lines", "/a[1]"),
        Finding("R2", Severity.FATAL, Layer.PEPPOL, "reported", "/b[1]"),
    ]

"""Validation outcomes as data: findings, the report of one document, and ``ensure_valid``."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from gateway.errors import DocumentRejected
from gateway.validation.schematron import RULE_ERROR_ID


class Severity(StrEnum):
    """Severity of a finding. BIS compliance: a document is compliant when no FATAL finding exists."""

    FATAL = "fatal"
    WARNING = "warning"


class Layer(StrEnum):
    """The validation layer a finding comes from (bis-billing.md §2: XSD -> CEN EN 16931 -> Peppol CIUS)."""

    XSD = "xsd"
    CEN = "cen"
    PEPPOL = "peppol"


#: Rule id of an XSD finding.
XSD_RULE = "XSD"
#: Rule id of a finding that stands for a Schematron layer that could not be evaluated (dynamic XPath
#: error, bis-billing.md §3.2 trap 2): the layer reports "invalid", never "pass".
RULE_ERROR = RULE_ERROR_ID


@dataclass(frozen=True, slots=True)
class Finding:
    """One fired rule.

    Attributes:
        rule: rule id as in the artefacts ("BR-CO-15", "PEPPOL-EN16931-R001"); "XSD" for schema errors.
        severity: fatal or warning.
        layer: xsd, cen or peppol.
        message: the rule text (whitespace-normalised svrl:text) or the schema error.
        location: XPath of the offending node as the SVRL gives it, "line N" for XSD, "" if unknown.
    """

    rule: str
    severity: Severity
    layer: Layer
    message: str
    location: str = ""

    def to_dict(self) -> dict[str, str]:
        """Return the JSON form ``{"rule", "severity", "layer", "message", "location"}``."""
        return {
            "rule": self.rule,
            "severity": self.severity.value,
            "layer": self.layer.value,
            "message": self.message,
            "location": self.location,
        }


@dataclass(frozen=True, slots=True)
class ValidationReport:
    """All findings of one document under one rule set, in layer order (xsd, cen, peppol).

    Attributes:
        rule_set: id of the rule set used (e.g. "peppol-bis-billing-3.0.21").
        findings: every finding, fatal and warning.
    """

    rule_set: str
    findings: tuple[Finding, ...]

    @property
    def valid(self) -> bool:
        """True when no FATAL finding exists (warnings are allowed, BIS compliance rules)."""
        return not any(f.severity is Severity.FATAL for f in self.findings)

    @property
    def fatal(self) -> tuple[Finding, ...]:
        """The FATAL findings."""
        return tuple(f for f in self.findings if f.severity is Severity.FATAL)

    @property
    def warnings(self) -> tuple[Finding, ...]:
        """The WARNING findings."""
        return tuple(f for f in self.findings if f.severity is Severity.WARNING)

    def to_dict(self) -> dict[str, Any]:
        """Return ``{"rule_set": ..., "valid": ..., "issues": [...]}``."""
        return {
            "rule_set": self.rule_set,
            "valid": self.valid,
            "issues": [f.to_dict() for f in self.findings],
        }


def ensure_valid(report: ValidationReport) -> None:
    """Raise when the report holds a fatal finding.

    Args:
        report: a validation report.

    Raises:
        DocumentRejected: the report is not valid; ``exc.report`` carries it.
    """
    if not report.valid:
        rules = ", ".join(sorted({f.rule for f in report.fatal}))
        raise DocumentRejected(report, f"document is not valid under {report.rule_set}: {rules}")

"""SVRL (ISO Schematron Validation Report Language) output -> findings."""

from __future__ import annotations

from typing import Final

from gateway.validation.report import Finding, Layer, Severity
from gateway.xmlcore import parse_xml

SVRL_NS: Final = "http://purl.oclc.org/dsdl/svrl"
_FIRED: Final = (f"{{{SVRL_NS}}}failed-assert", f"{{{SVRL_NS}}}successful-report")

# The official CEN and Peppol stylesheets only use "fatal" and "warning" (counted on 1.3.16 / 3.0.21).
# Informational flags never make a document invalid; a missing or unknown flag is an error, as in the
# vefa-validator (svrl-parser.xslt: no flag -> error): failing closed is the safe reading.
_FLAGS: Final = {
    "fatal": Severity.FATAL,
    "error": Severity.FATAL,
    "warning": Severity.WARNING,
    "warn": Severity.WARNING,
    "information": Severity.WARNING,
    "info": Severity.WARNING,
}


def severity_of(flag: str | None) -> Severity:
    """Map an SVRL ``@flag`` to a severity (no flag or an unknown flag -> FATAL)."""
    if flag is None:
        return Severity.FATAL
    return _FLAGS.get(flag.strip().lower(), Severity.FATAL)


def normalise_text(text: str) -> str:
    """Collapse whitespace runs to one blank and strip, like XPath ``normalize-space``."""
    return " ".join(text.split())


def findings_from_svrl(svrl: bytes, layer: Layer) -> list[Finding]:
    """Turn an SVRL report into findings, in document order.

    Args:
        svrl: the serialised ``svrl:schematron-output``.
        layer: the layer to attribute the findings to.

    Returns:
        One finding per ``svrl:failed-assert`` / ``svrl:successful-report``.
    """
    root = parse_xml(svrl, what="SVRL report")
    findings: list[Finding] = []
    for node in root.iter(*_FIRED):
        rule = node.get("id") or f"assert:{normalise_text(node.get('test', ''))}"
        text_node = node.find(f"{{{SVRL_NS}}}text")
        text = "" if text_node is None else normalise_text(str(text_node.xpath("string(.)")))
        findings.append(Finding(rule, severity_of(node.get("flag")), layer, text, node.get("location", "")))
    return findings

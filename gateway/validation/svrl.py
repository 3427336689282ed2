"""SVRL (ISO Schematron Validation Report Language) output -> findings."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from gateway.validation.report import Finding, Layer, Severity
from gateway.validation.schematron import SVRLFinding, parse_svrl

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


def findings_of(found: Iterable[SVRLFinding], layer: Layer) -> list[Finding]:
    """Findings of the failed asserts / successful reports ``found`` (read from a report), in order."""
    return [
        Finding(
            f.id or f"assert:{normalise_text(f.test)}",
            severity_of(f.flag or None),
            layer,
            f.text,
            f.location,
        )
        for f in found
    ]


def findings_from_svrl(svrl: bytes, layer: Layer) -> list[Finding]:
    """Turn an SVRL report into findings, in document order.

    Args:
        svrl: the serialised ``svrl:schematron-output``.
        layer: the layer to attribute the findings to.

    Returns:
        One finding per ``svrl:failed-assert`` / ``svrl:successful-report``.
    """
    if b"failed-assert" not in svrl and b"successful-report" not in svrl:
        return []  # the common case, a valid document: no need to parse the report
    return findings_of(parse_svrl(svrl), layer)

"""The fused stylesheets' report: their findings as length-prefixed text instead of SVRL XML.

The fused stylesheets are the gateway's own (gateway.validation.fused), so their output need not be
SVRL that Saxon serialises and Python then parses again: per official example that round trip cost
the Peppol layer ≈ 0.19 ms (BENCHMARKS.md, *Validation, fifth pass*). A fused stylesheet writes, with output
method text, ``MARKER`` and then, per finding in SVRL order, the six things ``parse_svrl`` reads of
an ``svrl:failed-assert`` / ``svrl:successful-report``: its kind (``a`` / ``r``), ``@id``, ``@flag``,
``@location``, ``@test`` and the string value of its first ``svrl:text`` (absent: empty). Each field
is its length in characters, a colon, then the field itself, so any character may occur in a field
(a document's text reaches the location and text of some findings). The marker makes a run with no
findings a non-empty output: an empty output stays "no report", as for SVRL.

``read_report`` reads either form: SVRL (the official stylesheets) or this one.
"""

from __future__ import annotations

from typing import Final

from gateway.validation.report import Finding, Layer
from gateway.validation.schematron import SVRLFinding, parse_svrl
from gateway.validation.svrl import findings_of

#: First line of a compact report (never the start of an XML document).
MARKER: Final = "#gateway-findings 1\n"
_SVRL: Final = "Q{http://purl.oclc.org/dsdl/svrl}"
_FIELDS: Final = (
    f"(if (self::{_SVRL}successful-report) then 'r' else 'a'), string(@id), string(@flag),"
    f" string(@location), string(@test), string({_SVRL}text[1])"
)
#: XPath writing the findings of a finding element (its descendants included, as ``parse_svrl``
#: reads every failed-assert / successful-report of the report) in the compact form.
FINDING_XPATH: Final = (
    f"string-join(descendant-or-self::*[self::{_SVRL}failed-assert or self::{_SVRL}successful-report]"
    f" ! (for $f in ({_FIELDS}) return string-length($f) || ':' || $f), '')"
)
_FIELD_COUNT: Final = 6


class ReportError(ValueError):
    """A compact report that does not read as one (a defect of the generator, never of a document)."""


def read_compact(output: str) -> list[SVRLFinding]:
    """The findings of a compact report (``output`` starts with ``MARKER``), in report order.

    Raises:
        ReportError: a field's length is missing or runs past the end, or a finding is incomplete.
    """
    findings: list[SVRLFinding] = []
    fields: list[str] = []
    at, end = len(MARKER), len(output)
    while at < end:
        field = _field_at(output, at)
        if field is None:
            raise ReportError(f"unreadable compact report at character {at}")
        start, at = field
        fields.append(output[start:at])
        if len(fields) == _FIELD_COUNT:
            kind, identifier, flag, location, test, text = fields
            if kind not in ("a", "r"):
                raise ReportError(f"unknown finding kind {kind!r} in a compact report")
            findings.append(
                SVRLFinding(identifier, flag, location, " ".join(text.split()), test, kind == "r")
            )
            fields = []
    if fields:
        raise ReportError("a compact report ends inside a finding")
    return findings


def _field_at(output: str, at: int) -> tuple[int, int] | None:
    """Where the field whose length prefix starts at ``at`` has its text: ``(start, end)``; None when
    the length is missing or runs past the end of ``output``."""
    colon = output.find(":", at)
    length = output[at:colon]
    if colon < 0 or not (length.isascii() and length.isdigit()) or colon + 1 + int(length) > len(output):
        return None
    return colon + 1, colon + 1 + int(length)


def split_reports(output: str) -> list[str]:
    """The compact reports one after the other in ``output`` (a stylesheet of several layers writes
    one per layer, each from its ``MARKER``), each with its marker; ``[output]`` when it is not a
    compact report or does not read as one (``read_compact`` then says why).

    A marker can only start where a finding does: every field starts with a digit, and a field's
    length says where it ends, so a marker's text inside a field is never taken for one.
    """
    if not output.startswith(MARKER):
        return [output]
    starts = [0]
    fields = 0
    at, end = len(MARKER), len(output)
    while at < end:
        if fields % _FIELD_COUNT == 0 and output.startswith(MARKER, at):
            starts.append(at)
            at += len(MARKER)
            continue
        field = _field_at(output, at)
        if field is None:
            return [output]
        at = field[1]
        fields += 1
    return [output[start:stop] for start, stop in zip(starts, [*starts[1:], end], strict=True)]


def read_report(output: str) -> list[SVRLFinding]:
    """The findings of a Schematron layer's output: a compact report or SVRL.

    Raises:
        ReportError: an unreadable compact report.
        XMLInputError: SVRL that is not well-formed XML.
    """
    if output.startswith(MARKER):
        return read_compact(output)
    return parse_svrl(output.encode("utf-8"))


def findings_from_report(output: str, layer: Layer) -> list[Finding]:
    """Findings of a layer's output (compact or SVRL), attributed to ``layer``, in report order."""
    if output.startswith(MARKER):
        return findings_of(read_compact(output), layer)
    if "failed-assert" not in output and "successful-report" not in output:
        return []  # the common case of SVRL, a valid document: no need to parse the report
    return findings_of(parse_svrl(output.encode("utf-8")), layer)

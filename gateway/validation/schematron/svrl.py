"""Reading SVRL: the failed asserts and successful reports of a Schematron run, as data."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from gateway.validation.schematron.namespaces import svrl
from gateway.xmlcore import parse_xml, string_value

#: Rule id of the failed-assert emitted when a rule hits an XPath dynamic error (bis-billing.md
#: §3.2 trap 2): the document is reported invalid, the other rules still run.
RULE_ERROR_ID: Final = "GATEWAY-RULE-ERROR"


@dataclass(frozen=True, slots=True)
class SVRLFinding:
    """One ``svrl:failed-assert`` or ``svrl:successful-report``.

    Attributes:
        id: the assert/report @id ("" when absent).
        flag: the @flag ("" when absent; vefa counts a missing flag as an error).
        location: XPath of the context node.
        text: the whitespace-normalised ``svrl:text``.
        test: the XPath test as written in the schema.
        report: True for a successful-report, False for a failed-assert.
    """

    id: str
    flag: str
    location: str
    text: str
    test: str
    report: bool = False


def parse_svrl(data: bytes) -> list[SVRLFinding]:
    """Return the findings of an SVRL document in document order.

    Args:
        data: the SVRL bytes a compiled Schematron wrote.

    Returns:
        One finding per failed-assert and successful-report.

    Raises:
        XMLInputError: the bytes are not well-formed XML.
    """
    root = parse_xml(data, what="SVRL")
    findings: list[SVRLFinding] = []
    for node in root.iter(svrl("failed-assert"), svrl("successful-report")):
        text = node.find(svrl("text"))
        findings.append(
            SVRLFinding(
                id=node.get("id", ""),
                flag=node.get("flag", ""),
                location=node.get("location", ""),
                text=" ".join(string_value(text).split()) if text is not None else "",
                test=node.get("test", ""),
                report=node.tag == svrl("successful-report"),
            )
        )
    return findings

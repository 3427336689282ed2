"""The one Peppol finding waived for a buyer e-mailed outside Peppol, and nothing else; the receiver forms."""

from __future__ import annotations

import pytest

from gateway.errors import InvalidIdentifier
from gateway.model.identifiers import EmailReceiver, ParticipantID, parse_receiver
from gateway.services.email_only import WAIVED_RULE, waive_email_address_rule
from gateway.validation import Finding, Layer, Severity, ValidationReport

_NS = "[namespace-uri()='urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2'][1]"
_BASIC = "[namespace-uri()='urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2'][1]"
ROOT = "/*:Invoice[namespace-uri()='urn:oasis:names:specification:ubl:schema:xsd:Invoice-2'][1]"
BUYER_ENDPOINT = f"{ROOT}/*:AccountingCustomerParty{_NS}/*:Party{_NS}/*:EndpointID{_BASIC}"
SELLER_ENDPOINT = f"{ROOT}/*:AccountingSupplierParty{_NS}/*:Party{_NS}/*:EndpointID{_BASIC}"
EMAIL = EmailReceiver("lies@mail.example")


def _report(*findings: tuple[str, str]) -> ValidationReport:
    return ValidationReport(
        "peppol-bis-billing-3.0.21",
        tuple(Finding(rule, Severity.FATAL, Layer.PEPPOL, f"[{rule}]-text", at) for rule, at in findings),
    )


def test_the_buyers_code_list_finding_is_kept_as_a_waived_warning() -> None:
    report = waive_email_address_rule(_report((WAIVED_RULE, BUYER_ENDPOINT)), EMAIL)
    assert report.valid
    (finding,) = report.findings
    assert finding.severity is Severity.WARNING
    assert finding.message.startswith("waived: the buyer is e-mailed outside Peppol")
    assert finding.location == BUYER_ENDPOINT


@pytest.mark.parametrize(
    ("findings", "receiver"),
    [
        ([(WAIVED_RULE, BUYER_ENDPOINT)], ParticipantID.parse("0208:0412345614")),  # a Peppol buyer
        ([(WAIVED_RULE, BUYER_ENDPOINT)], None),
        ([(WAIVED_RULE, SELLER_ENDPOINT)], EMAIL),  # the seller's address is Peppol's business
        ([("PEPPOL-EN16931-R010", BUYER_ENDPOINT)], EMAIL),  # another rule
        ([(WAIVED_RULE, BUYER_ENDPOINT + "/@schemeID")], EMAIL),  # not the EndpointID itself
    ],
)
def test_nothing_else_is_waived(findings: list[tuple[str, str]], receiver: object) -> None:
    report = _report(*findings)
    assert waive_email_address_rule(report, receiver) == report  # type: ignore[arg-type]


def test_a_waived_report_still_refuses_for_any_other_fatal_finding() -> None:
    report = waive_email_address_rule(_report((WAIVED_RULE, BUYER_ENDPOINT), ("BR-CO-15", ROOT)), EMAIL)
    assert not report.valid
    assert [f.rule for f in report.fatal] == ["BR-CO-15"]


def test_receivers_parse_and_compare_case_insensitively() -> None:
    assert parse_receiver("EM:Lies@Mail.example") == EmailReceiver("Lies@Mail.example")
    assert parse_receiver("em:lies@mail.example") == EmailReceiver("LIES@mail.example")
    assert str(parse_receiver("EM:lies@mail.example")) == "EM:lies@mail.example"
    assert parse_receiver("0208:0412345614") == ParticipantID.parse("0208:0412345614")
    for bad in ("EM:not an address", "EM:a@b.example, c@d.example", "EM:" + "x" * 190 + "@b.example"):
        with pytest.raises(InvalidIdentifier):
            parse_receiver(bad)

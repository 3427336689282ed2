"""Validation of received business documents: which rule set applies to which document type (BIS Billing,
Invoice Response, MLS), the document size limit, and the verdict recorded for the inbound document."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from gateway.errors import XMLInputError
from gateway.model import DocumentTypeID
from gateway.model.message import InboundStatus, JSONObject
from gateway.services.ports import DocumentValidator

if TYPE_CHECKING:
    from lxml import etree

    from gateway.xmlcore.held import HeldDocument

log = logging.getLogger("gateway.receive")

#: Payload roots validated with the BIS Billing rule set; other document types are stored as RECEIVED.
UBL_BILLING_STANDARDS: Final = frozenset(
    {
        "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2",
        "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2",
    }
)
#: ApplicationResponse profiles validated with their own rule set, by CustomizationID.
RESPONSE_RULE_SETS: Final = {
    "urn:fdc:peppol.eu:poacc:trns:invoice_response:3": "peppol-invoice-response-3-t111",
    "urn:peppol:edec:mls:1.0": "peppol-mls-1.0.1",
}
#: Rule id of the finding recorded for a business document above the document size limit.
SIZE_RULE: Final = "DOCUMENT-SIZE"


@dataclass(frozen=True, slots=True)
class Verdict:
    """What validation decided for a received document: its status, report and status reason."""

    status: InboundStatus
    report: JSONObject | None
    reason: str | None


def validate_inbound(
    validator: DocumentValidator,
    document_type: DocumentTypeID,
    business: bytes | HeldDocument,
    message_id: str,
    *,
    rules_in_force: Callable[[], str],
    max_document: int | None,
    on_parsed: Callable[[etree._Element], object] | None = None,
) -> Verdict:
    """Validate a received business document with the rule set of its type; never raises.

    Args:
        validator: the validation engine.
        document_type: the document type of the message (its root namespace and CustomizationID).
        business: the business document (a ``HeldDocument``: see ``DocumentValidator.validate``).
        message_id: the AS4 message (for the log).
        rules_in_force: returns the BIS Billing rule set in force.
        max_document: documents above this size are refused by name (``SIZE_RULE``); None: no limit.
        on_parsed: given, called with the parsed document before it is validated (see
            ``DocumentValidator.validate``); not called for a document that is not validated.
    """
    # An invalid document is still RECEIVED (the receipt means the MSH took responsibility, peppol-as4.md
    # §7.1); business rejection goes back later via Invoice Response / MLS.
    # The SBDH Standard is the payload root namespace (checked when the message was parsed), which the
    # document type id repeats; ApplicationResponses are validated by their profile (CustomizationID).
    standard = document_type.root_namespace
    response_rules = RESPONSE_RULE_SETS.get(document_type.customization_id)
    if standard not in UBL_BILLING_STANDARDS and response_rules is None:
        return Verdict(InboundStatus.RECEIVED, None, "no validation rule set for this document type")
    if max_document is not None and len(business) > max_document:
        # Stored as evidence and refused by name; never parsed or validated (the limit bounds that work).
        message = f"document of {len(business)} bytes exceeds the {max_document}-byte document limit"
        finding = {
            "rule": SIZE_RULE,
            "severity": "fatal",
            "layer": "xsd",
            "message": message,
            "location": "",
        }
        return Verdict(
            InboundStatus.INVALID, {"rule_set": "", "valid": False, "issues": [finding]}, SIZE_RULE
        )
    rule_set = ""
    try:
        rule_set = response_rules or rules_in_force()
        if on_parsed is None:
            report = validator.validate(business, rule_set=rule_set)
        else:
            report = validator.validate(business, rule_set=rule_set, on_parsed=on_parsed)
    except XMLInputError as exc:
        finding = {
            "rule": "XML",
            "severity": "fatal",
            "layer": "xsd",
            "message": str(exc),
            "location": "",
        }
        return Verdict(
            InboundStatus.INVALID, {"rule_set": rule_set, "valid": False, "issues": [finding]}, "XML"
        )
    except Exception:
        # Our problem (artefacts missing, engine bug), not the sender's: keep the document, flag it.
        log.exception("validation of AS4 message %s failed", message_id)
        return Verdict(InboundStatus.RECEIVED, None, "validation could not run")
    if report.valid:
        return Verdict(InboundStatus.VALID, report.to_dict(), None)
    rules = sorted({f.rule for f in report.fatal})
    return Verdict(InboundStatus.INVALID, report.to_dict(), ", ".join(rules)[:500])

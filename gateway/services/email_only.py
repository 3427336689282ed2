"""Documents for a buyer outside Peppol, reached by e-mail only (a private person): the one Peppol rule
such a document cannot meet.

Such a buyer's BT-49 holds its e-mail address under the EAS code ``EM`` ("Electronic mail"). The CEN rules
accept it (BR-CL-25: the CEF EAS list has ``EM``) and PEPPOL-EN16931-R010 (BT-49 present) is met, but the
Peppol CIUS restricts BT-49 to the EAS codes that Peppol routes on (PEPPOL-EN16931-CL008, fatal), and ``EM``
is not one of them. Exactly that finding, on the buyer's ``cbc:EndpointID`` and only when its scheme is
``EM``, is waived: it is kept in the report as a warning that says so, every other rule still refuses. Such
a document never enters the Peppol network (the worker e-mails it without any SML/SMP lookup), so the rule
that protects Peppol routing has nothing to protect.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import TYPE_CHECKING, Final

from gateway.model.identifiers import EmailReceiver, Receiver

if TYPE_CHECKING:
    from gateway.validation import ValidationReport

WAIVED_RULE: Final = "PEPPOL-EN16931-CL008"
"""The Peppol EAS code-list rule on electronic addresses; ``EM`` is outside Peppol's list."""
WAIVER_NOTE: Final = "waived: the buyer is e-mailed outside Peppol (BT-49 scheme EM) - "

# The SVRL location of the buyer's BT-49: .../AccountingCustomerParty[...][1]/Party[...][1]/EndpointID[...][1]
_BUYER_ENDPOINT: Final = re.compile(
    r"/\*:AccountingCustomerParty(\[[^\]]*\])*/\*:Party(\[[^\]]*\])*/\*:EndpointID(\[[^\]]*\])*$"
)


def waive_email_address_rule(report: ValidationReport, receiver: Receiver | None) -> ValidationReport:
    """The report with the buyer's CL008 finding turned into a warning when ``receiver`` is an e-mail one.

    Args:
        report: the validation report of the document.
        receiver: the document's receiver (BT-49 as read from it); anything but an ``EmailReceiver`` leaves
            the report as it is.

    Returns:
        The report, with the waived finding (if any) kept as a ``warning`` whose message says it was waived.
    """
    if not isinstance(receiver, EmailReceiver):
        return report
    # Imported here as the use cases do (TYPE_CHECKING above): a report exists, so the package is loaded.
    from gateway.validation.report import Severity

    findings = tuple(
        replace(f, severity=Severity.WARNING, message=WAIVER_NOTE + f.message)
        if f.rule == WAIVED_RULE
        and f.severity is Severity.FATAL
        and _BUYER_ENDPOINT.search(f.location) is not None
        else f
        for f in report.findings
    )
    return replace(report, findings=findings)

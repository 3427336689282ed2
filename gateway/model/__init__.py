"""Pure domain values: identifiers, the EN 16931 invoice model, message states. No I/O."""

from gateway.model.identifiers import (
    BIS_BILLING_CUSTOMIZATION,
    BIS_BILLING_PROCESS,
    BIS_BILLING_PROFILE,
    BIS_CREDIT_NOTE,
    BIS_INVOICE,
    INVOICE_RESPONSE,
    INVOICE_RESPONSE_PROCESS,
    DocumentTypeID,
    ParticipantID,
    ProcessID,
    is_valid_be_enterprise_number,
    normalise_be_enterprise_number,
)

__all__ = [
    "BIS_BILLING_CUSTOMIZATION",
    "BIS_BILLING_PROCESS",
    "BIS_BILLING_PROFILE",
    "BIS_CREDIT_NOTE",
    "BIS_INVOICE",
    "INVOICE_RESPONSE",
    "INVOICE_RESPONSE_PROCESS",
    "DocumentTypeID",
    "ParticipantID",
    "ProcessID",
    "is_valid_be_enterprise_number",
    "normalise_be_enterprise_number",
]

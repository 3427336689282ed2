"""The business-response port: the expense workflow asks for a Peppol Invoice Response (T111) to a supplier.

The expense workflow (``services/expenses.py``) calls :class:`InvoiceResponder` inside the unit of work of
each transition, so the response is queued atomically with the state change it reports. The adapter
(``services/responses.py``) decides whether the status is configured to be sent and whether the supplier's
endpoint accepts T111 (through the EndpointResolver), builds and validates the ApplicationResponse and queues
it for AS4 delivery; ``NullInvoiceResponder`` sends nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from gateway.services.ports.store import UnitOfWork


@dataclass(frozen=True, slots=True)
class InvoiceResponseRequest:
    """One Invoice Response to send for a received invoice or credit note.

    Attributes:
        inbound_document_id: the received document the response is about.
        status: the UNCL4343 response code of Peppol BIS Invoice Response 3: ``AB`` (received), ``IP``
            (in process), ``UQ`` (under query), ``CA`` (conditionally accepted), ``RE`` (rejected), ``AP``
            (accepted), ``PD`` (paid).
        reason_codes: OpenPeppol status reason codes (``REF``, ``LEG``, ``REC``, ``QUA``, ``DEL``, ``PRI``,
            ``QTY``, ``ITM``, ``PAY``, ``UNR``, ``FIN``, ``PPD``, ``OTH``, ``NON``) for RE, UQ and CA.
        note: the clarification text shown to the supplier (the reject reason, the question).
        at: when the decision was taken (the response's issue date and time).
    """

    inbound_document_id: str
    status: str
    at: datetime
    reason_codes: tuple[str, ...] = ()
    note: str | None = None


class InvoiceResponder(Protocol):
    """Queues Invoice Responses to suppliers."""

    def respond(self, uow: UnitOfWork, request: InvoiceResponseRequest) -> str | None:
        """Queue the response in ``uow`` (committed by the caller) when it is configured and deliverable.

        Returns:
            The id of the queued outbound response document, or None when nothing is sent (status not
            configured, supplier without a Peppol id or unable to receive T111). Never raises for those cases.

        Raises:
            StoreError: the store failed (the caller's transition is rolled back with it).
        """
        ...


class NullInvoiceResponder:
    """Sends no Invoice Response (receiving-only deployments and tests of the workflow alone)."""

    def respond(self, uow: UnitOfWork, request: InvoiceResponseRequest) -> str | None:
        return None

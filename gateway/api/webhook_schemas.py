"""The webhook events the gateway POSTs to ``GATEWAY_WEBHOOKS__URL``, described in the OpenAPI document's
``webhooks`` section (OpenAPI 3.1): one entry per event type, its body and the headers that sign it.

Documentation only: the payloads are built by ``services.webhooks`` (``outbound.status_changed``),
``services.expense_effects`` (``expense.<action>``) and ``services.inbound_webhooks`` (``inbound.invalid``);
tests check that what those build matches these models.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Header
from pydantic import BaseModel, ConfigDict, Field

from gateway.services.inbound_webhooks import MAX_FINDING_TEXT, MAX_FINDINGS

_SIGNATURE = (
    't=<unix time>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>; refuse timestamps more than 5 minutes off'
)
SignatureHeader = Annotated[str, Header(alias="X-Gateway-Signature", description=_SIGNATURE)]
EventIdHeader = Annotated[
    str,
    Header(alias="X-Gateway-Event-Id", description="The event id: delivery is at least once, dedupe on it"),
]
AttemptHeader = Annotated[
    str, Header(alias="X-Gateway-Delivery-Attempt", description="1 for the first attempt")
]


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(description="The event id (also X-Gateway-Event-Id)")
    created_at: datetime = Field(description="When the change happened")


class OutboundStatusChangedData(BaseModel):
    model_config = ConfigDict(extra="forbid")

    document_id: str
    document_number: str
    seller_id: str
    kind: str = Field(description="invoice, credit-note, ubl, invoice-response, mls, peppol-report")
    receiver: str
    status: str
    previous_status: str | None
    event: str
    reason: str | None
    as4_message_id: str | None


class OutboundStatusChanged(_Event):
    """An outbound document changed status."""

    type: Literal["outbound.status_changed"]
    data: OutboundStatusChangedData


class PaymentData(BaseModel):
    model_config = ConfigDict(extra="forbid")

    partial: bool = Field(description="Paid in part: the supplier got Invoice Response PD with reason PPD")
    paid_amount: str | None = Field(description="Partial: the amount paid, if given (invoice currency)")
    currency: str | None = Field(description="Partial: the invoice currency (BT-5)")
    reason: str | None = Field(description="Partial: the explanation sent to the supplier")


class ExpenseEventData(BaseModel):
    model_config = ConfigDict(extra="forbid")

    expense_id: str
    inbound_document_id: str
    kind: str = Field(description="invoice or credit_note")
    status: str
    previous_status: str | None
    unit: str | None = Field(description="The production unit code; null while in triage")
    supplier_id: str
    supplier_name: str
    number: str
    amount: str
    currency: str
    actor: str
    role: str
    detail: dict[str, Any] | None
    payment: PaymentData | None = Field(
        default=None, description="``expense.mark-paid`` only: whether the payment was partial, and how much"
    )


class ExpenseEventBody(_Event):
    """An expense was created or acted on (``expense.created``, ``expense.approve``, ...)."""

    type: str = Field(pattern=r"^expense\.[a-z-]+$")
    data: ExpenseEventData


class InvalidFinding(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rule: str = Field(max_length=MAX_FINDING_TEXT, description="Rule id, e.g. BR-CO-15, DOCUMENT-SIZE, XML")
    flag: str = Field(description="fatal or warning")
    layer: str = Field(description="xsd, cen or peppol")
    message: str = Field(max_length=MAX_FINDING_TEXT)
    location: str = Field(max_length=MAX_FINDING_TEXT, description="XPath, may be empty")


class RejectionMLS(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Literal["RE", "AB", "AP"] = Field(description="RE for an invalid document")
    outbound_document_id: str | None = Field(description="Follow it under /v1/outbound/{id}")
    sent: bool = Field(description="False: the MLS failed its own validation and is never sent")
    refused: str | None = Field(description="Why it failed its own validation")


class InboundInvalidData(BaseModel):
    model_config = ConfigDict(extra="forbid")

    inbound_document_id: str
    as4_message_id: str
    sender: str = Field(description="Sender participant id (SBDH, C1), e.g. 0208:0123456749")
    document_type: str
    document_number: str | None = Field(
        max_length=MAX_FINDING_TEXT,
        description="The supplier's number (BT-1) when the document was parsed; null when it was not "
        "(not well-formed, refused by size, or a large one validated without a tree)",
    )
    reason: str | None = Field(description="The fatal rule ids, DOCUMENT-SIZE or XML")
    rule_set: str | None
    findings: list[InvalidFinding] = Field(
        max_length=MAX_FINDINGS, description=f"At most {MAX_FINDINGS}, fatal first, in report order"
    )
    findings_total: int
    fatal_total: int
    report_url: str = Field(description="GET it (roles sender, support) for the full report")
    mls: RejectionMLS | None = Field(description="The MLS queued with the verdict; null: none is sent")


class InboundInvalid(_Event):
    """A received document was judged invalid (XSD, Schematron, not well-formed, or refused by size)."""

    type: Literal["inbound.invalid"]
    data: InboundInvalidData


def install_webhook_docs(app: FastAPI) -> None:
    """Describe the webhook events in ``app``'s OpenAPI document (no route is added)."""

    @app.webhooks.post("outbound.status_changed")
    def outbound_status_changed(
        body: OutboundStatusChanged,
        x_gateway_signature: SignatureHeader,
        x_gateway_event_id: EventIdHeader,
        x_gateway_attempt: AttemptHeader,
    ) -> None:
        """Each status change of an outbound document. Answer 2xx; 410 stops the deliveries of this event."""

    @app.webhooks.post("expense.<action>")
    def expense_event(
        body: ExpenseEventBody,
        x_gateway_signature: SignatureHeader,
        x_gateway_event_id: EventIdHeader,
        x_gateway_attempt: AttemptHeader,
    ) -> None:
        """Each expense creation and action (``created``, ``route``, ``triage``, ``approve``, ...,
        ``mark-paid`` with ``data.payment``, and ``settle``: the rest of a partial payment, recorded only)."""

    @app.webhooks.post("inbound.invalid")
    def inbound_invalid(
        body: InboundInvalid,
        x_gateway_signature: SignatureHeader,
        x_gateway_event_id: EventIdHeader,
        x_gateway_attempt: AttemptHeader,
    ) -> None:
        """A received document judged invalid, once per document (not for a duplicate AS4 message or a
        resend), written with its verdict. At most ``MAX_FINDINGS`` findings, texts cut to
        ``MAX_FINDING_TEXT`` characters; the full report is at ``report_url``."""

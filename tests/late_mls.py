"""A Message Level Status come late for a report we sent: its delivery ended ``failed`` (our receipt never
came, a timeout), and the receiving AP's MLS about the message is held (``pending_answers``), as the
receiver holds one for a document still awaiting its receipt (``services.received_answers``)."""

from __future__ import annotations

from datetime import UTC, datetime

from gateway.model.identifiers import ParticipantID
from gateway.model.message import DeliveryEvent, DocumentContent, InboundDocument, InboundStatus
from gateway.model.responses import MLS_DOCUMENT_TYPE, MLS_PROCESS, MessageLevelStatus, MLSCode
from gateway.services.ports import DocumentStore, PendingAnswer
from gateway.ubl.application_response import build_mls

AT = datetime(2026, 12, 3, tzinfo=UTC)
OPENPEPPOL_AP = ParticipantID("0242", "000999")
OUR_SPID = ParticipantID("0242", "000001")


def fail_after_sending(store: DocumentStore, document_id: str, *, message_id: str | None = None) -> None:
    """The document's message was sent (stored, its id on the document), then its delivery gave up."""
    with store.unit_of_work() as uow:
        uow.outbound.transition(
            document_id,
            DeliveryEvent.SEND_STARTED,
            at=AT,
            as4_message_id=message_id or f"msg-{document_id}@gateway",
        )
        uow.outbound.transition(
            document_id,
            DeliveryEvent.RETRIES_EXHAUSTED,
            at=AT,
            reason="retries-exhausted: transport: timeout",
        )
        uow.commit()


def hold_mls(store: DocumentStore, document_id: str, code: MLSCode, *, inbound_id: str) -> None:
    """An MLS ``code`` about the document's message, received valid and held for its receipt."""
    body = build_mls(
        MessageLevelStatus(
            id=f"mls-{inbound_id}",
            issued=AT,
            sender=OPENPEPPOL_AP,
            receiver=OUR_SPID,
            code=code,
            instance_id=f"instance-{document_id}",
            description="Refused: see the lines" if code is MLSCode.REJECTED else None,
        )
    )
    received = InboundDocument(
        id=inbound_id,
        as4_message_id=f"in-{inbound_id}@openpeppol",
        sender=OPENPEPPOL_AP,
        receiver=OUR_SPID,
        document_type=MLS_DOCUMENT_TYPE,
        process=MLS_PROCESS,
        status=InboundStatus.VALID,
        received_at=AT,
        updated_at=AT,
    )
    with store.unit_of_work() as uow:
        uow.inbound.add(received, DocumentContent(body, {"valid": True, "issues": []}))
        uow.answers.hold(PendingAnswer(inbound_id, document_id, AT))
        uow.commit()

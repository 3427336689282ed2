"""A Message Level Status come late for a report we sent: its delivery ended ``failed`` (our receipt never
came, a timeout) although the receiving AP got the message, and that AP's MLS about it then arrives. The
receiver hands it to ``ReceivedAnswers`` (as ``receive_in`` does with its verdict), which holds it: the
document still "awaits" its receipt (``pending_answers``)."""

from __future__ import annotations

from datetime import UTC, datetime

from gateway.model.identifiers import ParticipantID
from gateway.model.message import (
    AS4MessageRecord,
    DeliveryEvent,
    Direction,
    DocumentContent,
    InboundDocument,
    InboundStatus,
    RawHTTPMessage,
)
from gateway.model.responses import MLS_DOCUMENT_TYPE, MLS_PROCESS, MessageLevelStatus, MLSCode
from gateway.services.ports import DocumentStore
from gateway.services.received_answers import AnswerOutcome, ReceivedAnswers
from gateway.ubl.application_response import build_mls, read_application_response

AT = datetime(2026, 12, 3, tzinfo=UTC)
OPENPEPPOL_AP = ParticipantID("0242", "000999")
OUR_SPID = ParticipantID("0242", "000001")


class _Clock:
    def now(self) -> datetime:
        return AT


class _IDs:
    n = 0

    def new_id(self) -> str:
        _IDs.n += 1
        return f"00000000-0000-4000-c000-{_IDs.n:012d}"


def _instance(document_id: str) -> str:
    return f"instance-{document_id}"


def fail_after_sending(store: DocumentStore, document_id: str) -> None:
    """The document's AS4 message was built and sent (stored with its SBDH instance), then its delivery
    gave up: every attempt timed out."""
    message_id = f"msg-{document_id}@gateway"
    with store.unit_of_work() as uow:
        uow.messages.add(
            AS4MessageRecord(
                message_id=message_id,
                direction=Direction.OUT,
                request=RawHTTPMessage((), b"sent"),
                created_at=AT,
                document_id=document_id,
                sbdh_instance_id=_instance(document_id),
            )
        )
        uow.outbound.transition(document_id, DeliveryEvent.SEND_STARTED, at=AT, as4_message_id=message_id)
        uow.outbound.transition(
            document_id,
            DeliveryEvent.RETRIES_EXHAUSTED,
            at=AT,
            reason="retries-exhausted: transport: timeout",
        )
        uow.commit()


def hold_mls(store: DocumentStore, document_id: str, code: MLSCode, *, inbound_id: str) -> None:
    """The receiving AP's MLS ``code`` about the document's message, received valid: held for our receipt."""
    body = build_mls(
        MessageLevelStatus(
            id=f"mls-{inbound_id}",
            issued=AT,
            sender=OPENPEPPOL_AP,
            receiver=OUR_SPID,
            code=code,
            instance_id=_instance(document_id),
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
        uow.commit()
    answers = ReceivedAnswers(store=store, clock=_Clock(), ids=_IDs(), seller_id=str(OUR_SPID))
    assert answers.receive(received, read_application_response(body)) is AnswerOutcome.HELD

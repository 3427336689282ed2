"""The work after a receipt: validate the received business document once, reading the facts its expense
draft needs from the tree that validation parsed (the bytes are parsed once), record the verdict if the
document still awaits it together with its expense draft and its MLS, or for an invalid one its
``inbound.invalid`` webhook (one unit of work), then hand the document on (received answers).

Only the call that records the verdict queues its MLS and hands it on: two validations of one document (the
background task after the receipt and a recovery sweep, in this process or another) record one verdict,
one expense draft and at most one MLS. A call that finds the verdict recorded when its MLS is about to be
built (one read, only when an MLS is to be sent) builds none and records nothing: the work is the other
call's; found pending, the conditional record still decides. A store failure while the MLS is queued
rolls the verdict back: the document stays pending and the next finisher (resend, sweep, start-up) records
both.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Final, NamedTuple, Protocol

from lxml import etree

from gateway.errors import GatewayError, StoreError
from gateway.model import DocumentTypeID, ParticipantID
from gateway.model.document_number import stored_number
from gateway.model.message import InboundStatus
from gateway.services.expense_draft_reading import read_for_draft
from gateway.services.expense_intake import ValidatedInbound
from gateway.services.inbound_webhooks import InvalidReceipt
from gateway.services.message_status import (
    APPLICATION_RESPONSE_NS,
    PlannedMLS,
    ReceivedEnvelope,
    RecordedVerdict,
)
from gateway.services.ports import Clock, DocumentStore, DocumentValidator, UnitOfWork
from gateway.services.receive_records import is_pending
from gateway.services.receive_validation import UBL_BILLING_STANDARDS, Verdict, validate_inbound
from gateway.ubl import read_ubl_tree
from gateway.ubl.application_response import ReadResponse
from gateway.ubl.document_number import number_of_tree
from gateway.xmlcore.held import HeldDocument

log = logging.getLogger("gateway.receive")

#: How long the work after a receipt, handed over to run once the receipt is answered, may take to start
#: before it is taken for lost. It only waits behind the other receipts' work; longer than any such queue.
IN_FLIGHT_HOLD: Final = timedelta(minutes=15)
#: Smallest document held out of the process while its verdict is recorded (the validation's streamed path
#: starts at 1 MiB too: below it the temporary file would cost more than the bytes).
RESPILL_FROM: Final = 1024 * 1024


class VerdictAnswer(Protocol):
    """Decides the MLS of a document before its verdict's unit of work, and queues it in that unit of work;
    likewise reads a received answer (MLS, T111) and applies it in that unit of work
    (``MessageStatusService``)."""

    def prepare(
        self,
        document_id: str,
        envelope: ReceivedEnvelope,
        read: ReadResponse | None,
        *,
        awaited: Callable[[], bool] | None = None,
    ) -> PlannedMLS | None:
        """The MLS to queue with the verdict ``envelope.recorded``, or None; ``awaited`` is asked before it
        is built (False: the verdict was recorded meanwhile, none is built). ``read``: what the document
        reads as (:meth:`read_answer`; an MLS is never answered)."""

    def queue(self, uow: UnitOfWork, planned: PlannedMLS) -> str:
        """Store it in ``uow`` (StoreError: roll back)."""

    def queued(self, planned: PlannedMLS, mls_document: str) -> None:
        """Its unit of work was committed."""

    def read_answer(
        self, document_id: str, envelope: ReceivedEnvelope, business: bytes | None
    ) -> ReadResponse | None:
        """The answer (MLS, T111) ``business`` carries, read once for :meth:`prepare` and, with the verdict
        ``envelope.recorded`` VALID, :meth:`answer`; or None (no store access)."""

    def answer(self, uow: UnitOfWork, document_id: str, read: ReadResponse) -> None:
        """Apply it to the document we sent, or hold it until our receipt, in ``uow`` (StoreError: roll
        back)."""


class Finished(NamedTuple):
    """The status recorded for a document, and whether this call recorded it (False: it was validated
    meanwhile by another call, which handed it on)."""

    status: InboundStatus
    recorded: bool


@dataclass(frozen=True, slots=True)
class ReceivedFacts:
    """What the receiver knows of a stored document awaiting validation."""

    document_id: str
    document_type: DocumentTypeID
    sender: ParticipantID
    message_id: str
    envelope: ReceivedEnvelope
    receiver: ParticipantID | None = None
    """The SBDH receiver (C4), when known: the expense draft checks the buyer it names against it."""


class InboundFinisher:
    """Validates, records and hands on received documents. Thread-safe: every call opens its own units of
    work; :meth:`held` names the documents whose work after the receipt is still to run in this process.

    Args:
        store: the document store.
        validator: the validation engine.
        clock: time of the verdict.
        rule_set: returns the BIS Billing rule set in force.
        max_document: documents above this size are refused by name without being validated.
        on_received: called with the document id and envelope facts after a verdict was recorded.
        mls: prepares the document's MLS before the verdict's unit of work and queues it in it.
        on_valid: called with the unit of work recording a VALID verdict, the document id and its draft
            facts (the expense draft, committed with the verdict); if it raises, the verdict is recorded
            alone (with its MLS) and the expense recovery (start-up, periodic sweep) drafts it.
        on_invalid: called with the unit of work recording an INVALID verdict and what it tells (the
            ``inbound.invalid`` webhook, committed with the verdict: written once, by the call that records
            it); a StoreError rolls the verdict back (it stays pending), any other failure only loses it.
    """

    def __init__(
        self,
        *,
        store: DocumentStore,
        validator: DocumentValidator,
        clock: Clock,
        rule_set: Callable[[], str],
        max_document: int | None,
        on_received: Callable[[str, ReceivedEnvelope], object] | None,
        on_valid: Callable[[UnitOfWork, str, ValidatedInbound], object] | None,
        mls: VerdictAnswer | None = None,
        on_invalid: Callable[[UnitOfWork, InvalidReceipt], object] | None = None,
    ) -> None:
        self._store = store
        self._validator = validator
        self._clock = clock
        self._rule_set = rule_set
        self._max_document = max_document
        self._on_received = on_received
        self._on_valid = on_valid
        self._mls = mls
        self._on_invalid = on_invalid
        self._in_flight: dict[str, datetime] = {}  # document id -> when its work was handed over

    def hold(self, document_id: str) -> None:
        """Note that the work after ``document_id``'s receipt was handed over to run later in this process."""
        self._in_flight[document_id] = self._clock.now()

    def release(self, document_id: str) -> None:
        """That work ran (or gave up)."""
        self._in_flight.pop(document_id, None)

    def held(self, document_id: str) -> bool:
        """Whether the work after ``document_id``'s receipt is still to run here, so the sweep and a resend
        leave the document to it. A hold older than ``IN_FLIGHT_HOLD`` is taken for lost work and dropped:
        the document is theirs then. (Work the route knows it will not run, its receipt not sent, is
        released at once: ``AfterReceipt.release``; this catches what is lost without a word.)"""
        since = self._in_flight.get(document_id)
        if since is None:
            return False
        if self._clock.now() - since < IN_FLIGHT_HOLD:
            return True
        self._in_flight.pop(document_id, None)
        log.warning(
            "inbound document %s: its work after the receipt never ran; left to recovery", document_id
        )
        return False

    def finish(self, facts: ReceivedFacts, document: bytes | HeldDocument) -> Finished:
        """Validate a stored document, record the verdict if it still awaits one, then hand it on.

        A crash or store failure before the record's commit leaves the document RECEIVED with
        VALIDATION_PENDING: the sender's resend, the periodic sweep or the start-up recovery finish it.

        Raises:
            StoreError: the verdict could not be recorded (nothing was handed on; run it again).
        """
        verdict, validated, number = self._validate(facts, document)
        # The verdict goes with the envelope: the MLS decision need not read the document back.
        # An answer (MLS, T111) is applied from these bytes, not read back from the store.
        answer = facts.document_type.root_namespace == APPLICATION_RESPONSE_NS
        if isinstance(document, HeldDocument) and not answer:
            # Nothing reads the bytes from here on (they are in the store): a large document goes out of the
            # process again while its expense draft and verdict are recorded, and comes back only for a retry
            # of this call (it raised), never beside what the record left (BENCHMARKS.md, *Memory, eighteenth
            # pass*).
            document.data()  # HeldDocumentLost if validation's read-back failed: nothing recorded, pending
            held: contextlib.AbstractContextManager[bool] = document.spilled(
                from_bytes=RESPILL_FROM, read_back=False
            )
            business: bytes | None = None
        else:
            held = contextlib.nullcontext(False)
            business = document.data() if isinstance(document, HeldDocument) else document
        with held:
            known = RecordedVerdict(
                facts.document_type, verdict.status, verdict.report, business if answer else None
            )
            envelope = replace(facts.envelope, recorded=known)
            # An answer (MLS, T111) is read once: for its MLS (none answers an MLS) and to apply it.
            applier = self._mls if answer else None
            read = applier.read_answer(facts.document_id, envelope, business) if applier is not None else None
            check = _StillPending(self._store, facts.document_id)
            planned = self._prepare_mls(facts.document_id, envelope, read, check)
            if check.recorded_meanwhile:  # another call recorded the verdict with its MLS: nothing is built
                return _recorded_elsewhere(facts.document_id, verdict.status)
            # A received answer is applied (or held until our receipt) in the verdict's unit of work: once
            # the document is VALID nothing looks at it again, so an answer applied after that commit would
            # be lost to a store failure or a stop in between ("nothing already accepted is lost").
            if verdict.status is not InboundStatus.VALID:
                read = None  # only a VALID answer is applied
            answered = applier is not None
            draft = verdict.status is InboundStatus.VALID and self._on_valid is not None
            recorded = self._record(facts, verdict, number, validated if draft else None, planned, read)
            if recorded is None:  # the draft or the answer spoiled the unit of work: the verdict and MLS
                # alone; the draft later (expense recovery), the answer handed on after the commit as before
                answered = answered and read is None
                recorded = self._record(facts, verdict, number, None, planned, None)
        if not recorded:
            return _recorded_elsewhere(facts.document_id, verdict.status)
        if answered:  # applied or held with the verdict, or nothing to apply: the hand-on must not apply it
            envelope = replace(envelope, recorded=replace(known, answered=True))
        if self._on_received is not None:
            try:
                self._on_received(facts.document_id, envelope)
            except Exception:
                log.exception("after-receipt handling of inbound document %s failed", facts.document_id)
        return Finished(verdict.status, True)

    def _prepare_mls(
        self, document_id: str, envelope: ReceivedEnvelope, read: ReadResponse | None, check: _StillPending
    ) -> PlannedMLS | None:
        """The MLS to queue with the verdict. Once one is to be sent, ``check`` reads whether the document
        still awaits its verdict; building it touches no store. If that fails (a bug, the MLS rule set
        missing) retrying would fail alike, so the verdict is recorded without it."""
        if self._mls is None:
            return None
        try:
            return self._mls.prepare(document_id, envelope, read, awaited=check)
        except Exception:
            log.exception("inbound document %s: its MLS could not be built; none is sent", document_id)
            return None

    def _record(
        self,
        facts: ReceivedFacts,
        verdict: Verdict,
        number: str | None,
        validated: ValidatedInbound | None,
        planned: PlannedMLS | None,
        read: ReadResponse | None,
    ) -> bool | None:
        """Record the verdict (with the document's ``number``) if the document still awaits it, its MLS
        (``planned``), given ``validated`` its expense draft and, given ``read``, the answer it carries
        (applied or held) in the same unit of work (one commit). True: recorded; False: not pending any
        more; None: the draft or the answer failed (a bug, or a store error a retry would repeat:
        ``StoreError.retryable`` False), nothing was committed (record the verdict alone; the expense
        recovery drafts it, the answer is handed on).

        Raises:
            StoreError: the store failed (nothing was committed: the document stays pending).
        """
        with self._store.unit_of_work() as uow:
            recorded = uow.inbound.record_validation(
                facts.document_id,
                status=verdict.status,
                report=verdict.report,
                reason=verdict.reason,
                at=self._clock.now(),
                only_pending=True,
                number=number,
            )
            mls_document = None
            if recorded and planned is not None and self._mls is not None:
                mls_document = self._mls.queue(uow, planned)
            if recorded and verdict.status is InboundStatus.INVALID and self._on_invalid is not None:
                self._announce_invalid(
                    uow, facts, verdict, number, planned if mls_document else None, mls_document
                )
            if recorded and read is not None and self._mls is not None:
                try:
                    self._mls.answer(uow, facts.document_id, read)
                except StoreError as exc:
                    if exc.retryable:  # lost connection, lock, timeout: nothing committed, the document
                        raise  # stays pending and the next finisher (sweep, start-up) applies it
                    # An integrity or data error repeats on every retry: kept pending, the document would
                    # be validated again by every sweep, forever. Roll back; the verdict alone, as below.
                    log.exception("inbound document %s: the store refused the answer", facts.document_id)
                    return None
                except Exception:  # its statements may have spoiled the transaction: roll it all back
                    log.exception("inbound document %s: applying the answer failed", facts.document_id)
                    return None
            if recorded and validated is not None and self._on_valid is not None:
                try:
                    self._on_valid(uow, facts.document_id, validated)
                except Exception:  # its statements may have spoiled the transaction: roll it all back
                    log.exception("inbound document %s: expense draft failed", facts.document_id)
                    return None
            uow.commit()
        if planned is not None and mls_document is not None and self._mls is not None:
            self._mls.queued(planned, mls_document)
        return recorded

    def _announce_invalid(
        self,
        uow: UnitOfWork,
        facts: ReceivedFacts,
        verdict: Verdict,
        number: str | None,
        planned: PlannedMLS | None,
        mls_document: str | None,
    ) -> None:
        """Hand the INVALID verdict to ``on_invalid`` in its unit of work. A StoreError rolls it all back (the
        document stays pending); a bug building the event costs the event only, never the verdict."""
        assert self._on_invalid is not None
        receipt = InvalidReceipt(
            document_id=facts.document_id,
            message_id=facts.message_id,
            sender=facts.sender,
            document_type=facts.document_type,
            number=number,
            report=verdict.report,
            reason=verdict.reason,
            at=self._clock.now(),
            mls_code=planned.code.value if planned is not None else None,
            mls_document=mls_document,
            mls_refused=planned.refused if planned is not None else None,
        )
        try:
            self._on_invalid(uow, receipt)
        except StoreError:
            raise
        except Exception:
            log.exception(
                "inbound document %s: its inbound.invalid webhook could not be built", facts.document_id
            )

    def _validate(
        self, facts: ReceivedFacts, business: bytes | HeldDocument
    ) -> tuple[Verdict, ValidatedInbound, str | None]:
        """The verdict, the draft facts read from the tree the validation parsed (invoices and credit
        notes only, when an expense hook is set) and the document's number, read from that tree too (any
        document validated, valid or not); a large valid document validated without a tree has the number
        its draft facts read, if any."""
        read: list[ValidatedInbound] = []
        numbers: list[str | None] = []
        wanted = self._on_valid is not None and facts.document_type.root_namespace in UBL_BILLING_STANDARDS

        def read_facts(root: etree._Element) -> None:
            numbers.append(number_of_tree(root))
            if wanted:
                read.append(_read(facts, root))

        verdict = validate_inbound(
            self._validator,
            facts.document_type,
            business,
            facts.message_id,
            rules_in_force=self._rule_set,
            max_document=self._max_document,
            on_parsed=read_facts,
        )
        number = numbers[0] if numbers else None
        if read:
            return verdict, read[0], number
        if wanted and verdict.status is InboundStatus.VALID:  # no tree handed on: a large document
            # (validated from a pull parse) or another validator
            drafted = _read(facts, business.data() if isinstance(business, HeldDocument) else business)
            if number is None and drafted.model is not None:
                number = stored_number(drafted.model.number)
            return verdict, drafted, number
        return (
            verdict,
            ValidatedInbound(facts.document_type, facts.sender, None, "not read", receiver=facts.receiver),
            number,
        )


def _recorded_elsewhere(document_id: str, status: InboundStatus) -> Finished:
    """The outcome when another call recorded the document's verdict (and handed it on) first."""
    log.info("inbound document %s was validated meanwhile by another call: not handed on again", document_id)
    return Finished(status, False)


class _StillPending:
    """Whether a document still awaits its verdict, read (once) just before its MLS would be built.

    A verdict, once recorded, is never taken back (only a new document is stored pending), and the call that
    recorded it queued its MLS in the same unit of work: a document found recorded needs no MLS from this
    call, which then records nothing either. Found pending, the MLS is built and the conditional record
    decides as before (the other call may still win: its work was done for nothing, never lost). A store
    failure reads as pending: the record then fails alike or decides."""

    def __init__(self, store: DocumentStore, document_id: str) -> None:
        self._store = store
        self._document_id = document_id
        self.recorded_meanwhile = False

    def __call__(self) -> bool:
        try:
            with self._store.unit_of_work(read_only=True) as uow:
                document = uow.inbound.get(self._document_id)
        except StoreError:
            return True
        self.recorded_meanwhile = document is None or not is_pending(document)
        return not self.recorded_meanwhile


def _read(facts: ReceivedFacts, document: etree._Element | bytes) -> ValidatedInbound:
    try:
        lines = None
        if isinstance(document, bytes):  # a large one line by line, without a tree or the whole model
            model, lines = read_for_draft(document)
        else:
            model = read_ubl_tree(document)
    except GatewayError as exc:  # a document the reader cannot map (also an invalid one): no draft
        return ValidatedInbound(facts.document_type, facts.sender, None, str(exc), receiver=facts.receiver)
    except Exception:  # a reader bug must not cost the document its verdict
        log.exception("inbound document %s: the UBL reader failed", facts.document_id)
        return ValidatedInbound(
            facts.document_type, facts.sender, None, "the UBL reader failed", receiver=facts.receiver
        )
    return ValidatedInbound(facts.document_type, facts.sender, model, lines=lines, receiver=facts.receiver)

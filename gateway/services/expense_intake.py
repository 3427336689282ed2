"""Expense intake: a valid received invoice or credit note becomes a routed draft (or is flagged on the
expense it duplicates). Called by the receive path right after validation and by the recovery pass.

The document is read for its draft by ``expense_draft_reading`` (the tree, or line by line when large),
its expense is stored by ``expense_creation``, and what became of it is told by ``expense_draft_result``."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from gateway.errors import DocumentNotFound, GatewayError, StoreError
from gateway.model import CreditNote, DocumentTypeID, Invoice, ParticipantID
from gateway.model.message import InboundStatus
from gateway.services.expense_creation import ExpenseCreator
from gateway.services.expense_draft_reading import draft_of, read_for_draft
from gateway.services.expense_draft_result import DraftOutcome, DraftResult
from gateway.services.expense_drafts import DraftLines
from gateway.services.expense_effects import ExpensePolicy
from gateway.services.ports import Clock, DocumentStore, IDFactory, InvoiceResponder, UnitOfWork
from gateway.ubl.codes import CREDIT_NOTE_NS, INVOICE_NS

log = logging.getLogger("gateway.expenses")

#: Most documents the recovery remembers giving up on (a few bytes each); beyond, the oldest is retried.
MAX_GIVEN_UP: Final = 10_000


@dataclass(frozen=True, slots=True)
class ValidatedInbound:
    """A received document its receiver has just recorded VALID, with what its draft needs, so the intake
    neither reads it back from the store nor parses it again.

    Attributes:
        document_type: its document type (only invoices and credit notes become expenses).
        sender: the sending participant (SBDH sender, C1).
        model: the document as read from the tree its validation parsed; None when it was not read. With
            ``lines``, its header and first line only.
        unread: why the reader could not map it (then ``model`` is None).
        lines: every line's draft row and routing references, when the document was read line by line
            (a large one: ``gateway.ubl.read_ubl_line_by_line``); None: ``model`` holds its lines.
        receiver: the receiving participant (SBDH receiver, C4), when known: the buyer the document names
            (BT-49) is checked against it (``expense_drafts.buyer_doubt``).
    """

    document_type: DocumentTypeID
    sender: ParticipantID
    model: Invoice | CreditNote | None
    unread: str | None = None
    lines: DraftLines | None = None
    receiver: ParticipantID | None = None


class ExpenseIntake:
    """Creates expenses from received documents. Thread-safe: every call opens its own unit of work."""

    def __init__(
        self,
        *,
        store: DocumentStore,
        clock: Clock,
        ids: IDFactory,
        responder: InvoiceResponder,
        policy: ExpensePolicy,
    ) -> None:
        self._store = store
        self._policy = policy
        self._creator = ExpenseCreator(clock=clock, ids=ids, responder=responder, policy=policy)
        # Documents the recovery gave up on (id -> reason): never read or logged again by this object.
        self._given_up: dict[str, str] = {}

    def create_from_inbound(self, inbound_document_id: str, body: bytes | None = None) -> DraftResult:
        """Build, route and store the expense of a valid received invoice or credit note (idempotent).

        Args:
            inbound_document_id: the received document.
            body: its stored bytes when the caller holds them (the receive path, right after validating
                them): they are not read back from the store. None: read from the store.

        Raises:
            StoreError: the store failed (nothing was stored; the recovery pass retries).
        """
        with self._store.unit_of_work(read_only=True) as uow:
            existing = uow.expenses.get_by_inbound(inbound_document_id)
            document = uow.inbound.get(inbound_document_id)
            if body is None and existing is None and document is not None:
                content = uow.inbound.get_content(inbound_document_id)
                body = content.body if content is not None else None
        if existing is not None:
            return DraftResult(DraftOutcome.EXISTING, existing)
        if document is None or body is None:
            raise DocumentNotFound(inbound_document_id, "inbound document")
        if document.document_type.root_namespace not in (INVOICE_NS, CREDIT_NOTE_NS):
            # Invoice Responses and MLS answer documents we sent (services/message_status.py): no expense.
            return DraftResult(DraftOutcome.SKIPPED, reason="not an invoice or credit note")
        if document.status is not InboundStatus.VALID:
            # Invalid documents stay in GET /v1/inbound with their report: never routed silently.
            return DraftResult(DraftOutcome.SKIPPED, reason=f"inbound document is {document.status.value}")
        try:
            model, lines = read_for_draft(body)
        except GatewayError as exc:  # a valid document the reader cannot map: shown, not guessed
            return self._unreadable(inbound_document_id, str(exc))
        return self._draft(inbound_document_id, model, lines, document.sender, document.receiver)

    def draft_validated(
        self, uow: UnitOfWork, inbound_document_id: str, validated: ValidatedInbound
    ) -> DraftResult:
        """Like :meth:`create_from_inbound`, inside the caller's unit of work, for a document the caller
        records VALID in it (the receive path: the verdict and the draft are one commit, the document is
        neither read back nor parsed again). The caller commits.

        Raises:
            StoreError: the store failed (roll back; the recovery pass retries).
        """
        if validated.document_type.root_namespace not in (INVOICE_NS, CREDIT_NOTE_NS):
            return DraftResult(DraftOutcome.SKIPPED, reason="not an invoice or credit note")
        if validated.model is None:
            result = self._unreadable(inbound_document_id, validated.unread or "not read")
            self._give_up(inbound_document_id, result.reason or "not read")  # logged: not again
            return result
        values, routed = draft_of(
            validated.model, validated.lines, validated.sender, validated.receiver, self._policy.served
        )
        # The caller has just recorded the document's first verdict in this unit of work, so it has no
        # expense yet; a twin (same duplicate key) is found by the insert's unique key, which leads to the
        # same outcome as looking first (``ExpenseCreator.create``'s DuplicateMessage branch): two SELECTs
        # fewer.
        result = self._creator.create(uow, inbound_document_id, routed, values, look_first=False)
        _log_created(inbound_document_id, result)
        return result

    @staticmethod
    def _unreadable(inbound_document_id: str, reason: str) -> DraftResult:
        log.error("inbound document %s: no expense draft: %s", inbound_document_id, reason)
        return DraftResult(DraftOutcome.SKIPPED, reason=f"the document cannot be read: {reason}")

    def _draft(
        self,
        inbound_document_id: str,
        model: Invoice | CreditNote,
        lines: DraftLines | None,
        sender: ParticipantID,
        receiver: ParticipantID,
    ) -> DraftResult:
        values, routed = draft_of(model, lines, sender, receiver, self._policy.served)
        with self._store.unit_of_work() as uow:
            result = self._creator.create(uow, inbound_document_id, routed, values)
            uow.commit()
        _log_created(inbound_document_id, result)
        return result

    def recover(
        self, *, batch_size: int = 50, received_since: datetime | None = None, retry_given_up: bool = False
    ) -> int:
        """Create the expenses of valid received documents that have none (a stop between validation and
        draft creation, or a draft that failed with its verdict's unit of work). Safe beside live traffic
        (creation is idempotent). Run at start-up over the whole history and by the periodic sweep of
        ``gateway serve`` over the documents received since ``received_since``.

        A document that can never become a draft (unreadable, or an unexpected error building it: the
        reason is logged once, as an error) is given up for the life of this object: later calls step over
        it without reading or logging it again, until a call with ``retry_given_up`` (the periodic
        whole-history pass) or the next start-up tries it once more.

        Returns:
            The number of documents handled.

        Raises:
            StoreError: the store failed (what was created before stays created).
        """
        if retry_given_up:
            self._given_up.clear()
        done = 0
        seen: set[str] = set()  # handled or given up by this call
        while True:
            with self._store.unit_of_work(read_only=True) as uow:
                waiting = [
                    inbound_id
                    for inbound_id in uow.expenses.awaiting_draft(
                        limit=batch_size + len(seen) + len(self._given_up), received_since=received_since
                    )
                    if inbound_id not in seen and inbound_id not in self._given_up
                ]
            if not waiting:
                return done
            for inbound_id in waiting:
                seen.add(inbound_id)
                try:
                    result = self.create_from_inbound(inbound_id)
                except DocumentNotFound:  # deleted meanwhile (retention)
                    continue
                except StoreError:
                    raise
                except Exception as exc:  # a bug this document hits: logged once, the others go on
                    log.exception("inbound document %s: no expense draft: unexpected error", inbound_id)
                    self._give_up(inbound_id, f"unexpected error: {exc!r}")
                    continue
                if result.outcome is DraftOutcome.SKIPPED:
                    self._give_up(inbound_id, result.reason or "skipped")
                else:
                    done += 1

    def _give_up(self, inbound_id: str, reason: str) -> None:
        if len(self._given_up) >= MAX_GIVEN_UP:  # the oldest is tried (and logged) once more
            del self._given_up[next(iter(self._given_up))]
        self._given_up[inbound_id] = reason


def _log_created(inbound_document_id: str, result: DraftResult) -> None:
    if result.outcome is DraftOutcome.CREATED and result.expense is not None:
        log.info(
            "expense %s from inbound document %s: %s (%s)",
            result.expense.id,
            inbound_document_id,
            result.expense.status.value,
            result.expense.routing.get("reason"),
        )

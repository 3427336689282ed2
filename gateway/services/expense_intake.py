"""Expense intake: a valid received invoice or credit note becomes a routed draft (or is flagged on the
expense it duplicates). Called by the receive path right after validation and by the recovery pass."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Final

from gateway.errors import DocumentNotFound, DuplicateMessage, GatewayError, StoreError
from gateway.model import CreditNote, DocumentTypeID, Invoice, ParticipantID
from gateway.model.expense import (
    INITIAL_STATUS,
    SYSTEM_ACTOR,
    Expense,
    ExpenseAction,
    ExpenseEvent,
    ExpenseStatus,
)
from gateway.model.message import InboundStatus
from gateway.model.units import unit_prefix
from gateway.services.expense_drafts import DraftLines, DraftValues, build_draft
from gateway.services.expense_effects import ExpensePolicy, announce, respond
from gateway.services.ports import Clock, DocumentStore, IDFactory, InvoiceResponder, UnitOfWork
from gateway.services.routing import (
    DocumentReferences,
    RoutedDocument,
    RoutingOutcome,
    named_codes,
    route,
)
from gateway.ubl import read_ubl, read_ubl_line_by_line
from gateway.ubl.codes import CREDIT_NOTE_NS, INVOICE_NS

log = logging.getLogger("gateway.expenses")

#: Most documents the recovery remembers giving up on (a few bytes each); beyond, the oldest is retried.
MAX_GIVEN_UP: Final = 10_000


class DraftOutcome(StrEnum):
    """What became of a received document."""

    CREATED = "created"
    EXISTING = "existing"
    """The document already has its expense (a repeated call)."""
    DUPLICATE = "duplicate"
    """Same supplier, kind, number and amount as an existing expense: flagged on it, not created twice."""
    SKIPPED = "skipped"
    """Not a valid invoice or credit note, or unreadable: no expense (the inbound listing shows it)."""


@dataclass(frozen=True, slots=True)
class DraftResult:
    """The outcome of :meth:`ExpenseWorkflow.create_from_inbound`."""

    outcome: DraftOutcome
    expense: Expense | None = None
    reason: str | None = None


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
    """

    document_type: DocumentTypeID
    sender: ParticipantID
    model: Invoice | CreditNote | None
    unread: str | None = None
    lines: DraftLines | None = None


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
        self._clock = clock
        self._ids = ids
        self._responder = responder
        self._policy = policy
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
        return self._draft(inbound_document_id, model, lines, document.sender)

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
        values, routed = _draft_of(validated.model, validated.lines, validated.sender)
        # The caller has just recorded the document's first verdict in this unit of work, so it has no
        # expense yet; a twin (same duplicate key) is found by the insert's unique key, which leads to the
        # same outcome as looking first (``_create``'s DuplicateMessage branch): two SELECTs fewer.
        result = self._create(uow, inbound_document_id, routed, values, look_first=False)
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
    ) -> DraftResult:
        values, routed = _draft_of(model, lines, sender)
        with self._store.unit_of_work() as uow:
            result = self._create(uow, inbound_document_id, routed, values)
            uow.commit()
        _log_created(inbound_document_id, result)
        return result

    def _create(
        self,
        uow: UnitOfWork,
        inbound_id: str,
        document: RoutedDocument,
        values: DraftValues,
        *,
        look_first: bool = True,
    ) -> DraftResult:
        """Store the draft, or find it or its twin. ``look_first=False`` skips the two look-ups before the
        insert: the unique keys refuse an existing expense or twin, and the DuplicateMessage branch below
        finds it and answers as the look-ups would have."""
        now = self._clock.now()
        if look_first:
            existing = uow.expenses.get_by_inbound(inbound_id)
            if existing is not None:
                return DraftResult(DraftOutcome.EXISTING, existing)
            original = uow.expenses.find_duplicate(values.dedupe_key)
            if original is not None:
                return self._flag_duplicate(uow, original, inbound_id, now)
        # Only the units the document names (and the mapping's) are loaded; all prefixes are (cheap).
        prefixes = {unit_prefix(key) for key in uow.units.all_keys()}
        mapping = uow.units.get_mapping(values.supplier_key)
        named = {key for *_, key in named_codes(document, prefixes=prefixes, rules=self._policy.rules)}
        if mapping is not None:
            named.add(mapping.unit_code)
        units = uow.units.get_many(named)
        decision = route(
            document, units=units, mapping=mapping, rules=self._policy.rules, at=now, prefixes=prefixes
        )
        credited = None
        for number in values.credited_numbers:
            invoice = uow.expenses.find_invoice(values.supplier_key, number)
            if invoice is not None:
                credited = invoice.id
                break
        expense = Expense(
            id=self._ids.new_id(),
            inbound_document_id=inbound_id,
            kind=values.kind,
            status=INITIAL_STATUS,
            unit_code=None,
            supplier_key=values.supplier_key,
            supplier_name=values.supplier_name,
            number=values.number,
            currency=values.currency,
            amount=values.amount,
            issue_date=values.issue_date,
            draft=values.draft,
            routing=decision.to_dict(),
            created_at=now,
            updated_at=now,
            credited_expense_id=credited,
        )
        created = ExpenseEvent(
            expense.id, now, SYSTEM_ACTOR.name, SYSTEM_ACTOR.role, ExpenseAction.CREATED, None, INITIAL_STATUS
        )
        routed = decision.outcome is RoutingOutcome.ROUTED
        step = ExpenseEvent(
            expense.id,
            now,
            SYSTEM_ACTOR.name,
            SYSTEM_ACTOR.role,
            ExpenseAction.ROUTE if routed else ExpenseAction.TRIAGE,
            INITIAL_STATUS,
            ExpenseStatus.TO_APPROVE if routed else ExpenseStatus.TO_TRIAGE,
            decision.unit_code,
            {"rule": decision.rule.value if decision.rule else None, "reason": decision.reason},
        )
        # Stored as it stands after routing (one row, both audit entries): the same rows as inserting it
        # new and then recording the step, two statements fewer under the write lock.
        stored = replace(
            expense,
            status=step.to_status,
            unit_code=step.unit_code,
            status_reason=None if routed else decision.reason,
        )
        try:
            uow.expenses.add(stored, dedupe_key=values.dedupe_key, event=created, then=step)
        except DuplicateMessage:
            # This document or its twin is stored already (by a concurrent unit of work, or earlier when not
            # looked up first).
            winner = uow.expenses.get_by_inbound(inbound_id)
            if winner is not None:
                return DraftResult(DraftOutcome.EXISTING, winner)
            twin = uow.expenses.find_duplicate(values.dedupe_key)
            if twin is None:
                raise
            return self._flag_duplicate(uow, twin, inbound_id, now)
        # The Invoice Response and the webhooks as before: CREATED (the new expense), then the step.
        ab = respond(self._responder, uow, expense, ExpenseAction.CREATED, now)
        announce(
            uow,
            self._ids,
            self._policy.webhook_url,
            expense,
            created,
            {"response_document_id": ab} if ab else None,
        )
        announce(uow, self._ids, self._policy.webhook_url, stored, step, step.detail)
        return DraftResult(DraftOutcome.CREATED, stored)

    def _flag_duplicate(
        self, uow: UnitOfWork, original: Expense, inbound_id: str, now: datetime
    ) -> DraftResult:
        if inbound_id not in original.duplicates:
            event = ExpenseEvent(
                original.id,
                now,
                SYSTEM_ACTOR.name,
                SYSTEM_ACTOR.role,
                ExpenseAction.DUPLICATE,
                original.status,
                original.status,
                original.unit_code,
                {"inbound_document_id": inbound_id},
            )
            try:
                uow.expenses.add_duplicate(original.id, inbound_id, event)
            except DuplicateMessage:  # a concurrent call flagged it first
                return DraftResult(DraftOutcome.DUPLICATE, original)
            original = replace(original, duplicates=(*original.duplicates, inbound_id))
            announce(uow, self._ids, self._policy.webhook_url, original, event, event.detail)
            log.warning(
                "inbound document %s repeats expense %s: flagged, not created", inbound_id, original.id
            )
        return DraftResult(DraftOutcome.DUPLICATE, original)

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


#: From this size up a document is read for its draft line by line (``read_for_draft``): its header's
#: model and each line's draft row, never the model of every line at once (README, *Memory, eighth pass*).
LINE_BY_LINE_ABOVE_BYTES: Final = 1024 * 1024


def read_for_draft(body: bytes) -> tuple[Invoice | CreditNote, DraftLines | None]:
    """A received document read for its draft: the whole model and None below
    ``LINE_BY_LINE_ABOVE_BYTES``; from there up, by ``read_ubl_line_by_line``: the header's model and
    the lines' draft rows and routing references (or the whole model and None, when that reader fell back
    on it). Either way the same draft and routing follow, and the same errors.

    Raises:
        XMLInputError, MappingError: as ``gateway.ubl.read_ubl``.
    """
    if len(body) < LINE_BY_LINE_ABOVE_BYTES:
        return read_ubl(body), None
    lines = DraftLines()
    read = read_ubl_line_by_line(body, lines.add)
    return read.document, lines if read.handed_on else None


def _draft_of(
    model: Invoice | CreditNote, lines: DraftLines | None, sender: ParticipantID
) -> tuple[DraftValues, RoutedDocument]:
    """The draft values and what routing reads, of a model holding its lines (``lines`` None) or of a
    header read line by line."""
    if lines is None:
        return build_draft(model, sender=sender), model
    values = build_draft(model, sender=sender, lines=lines.rows)
    return values, DocumentReferences.of(model, lines.references)


def _log_created(inbound_document_id: str, result: DraftResult) -> None:
    if result.outcome is DraftOutcome.CREATED and result.expense is not None:
        log.info(
            "expense %s from inbound document %s: %s (%s)",
            result.expense.id,
            inbound_document_id,
            result.expense.status.value,
            result.expense.routing.get("reason"),
        )

"""Use cases of outbound submission: accept a JSON or UBL document exactly once (Idempotency-Key, else the
(seller, document type, document number) triple: an invoice and a credit note may share a number), validate
it, and store it with its first timeline entry and its delivery job in one unit of work; and support's
request for a new delivery attempt."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Final

from gateway.errors import (
    DocumentNotFound,
    DocumentNumberConflict,
    DuplicateMessage,
    IdempotencyConflict,
    InvalidDocumentData,
    LaterResponseQueued,
    ReportSuperseded,
    StoreError,
)
from gateway.model import BIS_BILLING_PROCESS
from gateway.model.identifiers import ParticipantID
from gateway.model.message import (
    INITIAL_STATUS,
    DeliveryEvent,
    DocumentContent,
    JSONObject,
    OutboundDocument,
    TimelineEvent,
)
from gateway.services.delivery_deferral import wake_waiting_response
from gateway.services.email_only import waive_email_address_rule
from gateway.services.outbound_input import PreparedDocument
from gateway.services.ports import Clock, DocumentStore, IdempotencyRecord, IDFactory, UnitOfWork
from gateway.services.report_transmissions import remade_since
from gateway.services.response_order import retry_refused_by
from gateway.services.seller_identity import seller_identity_problems, seller_name_problems, seller_problem
from gateway.services.webhooks import status_change_webhook
from gateway.xmlcore.held import HeldDocument

if TYPE_CHECKING:
    from gateway.validation import ValidationEngine, ValidationReport


# A concurrent post of the same number can win the race between our check and our insert (PostgreSQL);
# the next round then finds its document. Two rounds suffice; the third is slack.
_WRITE_ROUNDS: Final = 3
#: Smallest posted document stored from a temporary file (the SQLite store writes bodies from 1 MiB in
#: slices: ``gateway.store.blobs.STREAM_FROM``; a smaller one would be read back whole).
SLICED_FROM: Final = 1024 * 1024


class SubmissionOutcome(StrEnum):
    """What a submission led to."""

    ACCEPTED = "accepted"
    """Stored and queued for delivery."""
    DUPLICATE = "duplicate"
    """The same document was stored before under its number; nothing new stored or sent."""
    REFUSED = "refused"
    """Validation found fatal rules; nothing stored for sending."""


#: How an outcome is recorded in ``IdempotencyRecord.response_status``. A storage code, not an answer: the
#: numbers equal what earlier versions stored (the HTTP statuses they answered) so that their keys still
#: replay; the HTTP status of an answer is the API's decision (``gateway.api.routes.outbound``).
_RECORDED_OUTCOME: Final = {
    SubmissionOutcome.ACCEPTED: 202,
    SubmissionOutcome.DUPLICATE: 200,
    SubmissionOutcome.REFUSED: 422,
}
_OUTCOME_OF_RECORD: Final = {code: outcome for outcome, code in _RECORDED_OUTCOME.items()}


@dataclass(frozen=True, slots=True)
class Submission:
    """One POST as received.

    Attributes:
        route: the method and route template (e.g. ``POST /v1/outbound/invoices``), part of the fingerprint.
        body: the raw request body (a ``HeldDocument`` of it: ``PreparedDocument.source``).
        idempotency_key: the client's Idempotency-Key header, if any.
        client: the authenticated API client (its configured name). Keys are scoped by it: another client's
            request with the same key is a request of its own. The API always sets it; '' is one shared
            scope for callers without clients (tests, tools), and the scope of keys stored before 0011.
    """

    route: str
    body: bytes | HeldDocument
    idempotency_key: str | None = None
    client: str = ""

    @property
    def fingerprint(self) -> str:
        """SHA-256 (hex) of the route and the body: the same key with another fingerprint is a conflict."""
        digest = hashlib.sha256(self.route.encode("utf-8"))
        digest.update(b"\n")
        digest.update(self.body.data() if isinstance(self.body, HeldDocument) else self.body)
        return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class SubmissionResult:
    """The answer to a submission, as stored under its Idempotency-Key.

    Attributes:
        outcome: accepted, duplicate or refused (the API chooses the HTTP answer from it).
        body: the JSON facts of the answer: ``{"id", "status", "duplicate"}`` when accepted or duplicate,
            ``{"detail", "report"}`` when refused. The API renders it (status URL, problem+json) the same
            way for the first answer and for every replay.
        document_id: the stored document, None when refused.
        replayed: True when this is the stored answer of an earlier request with the same key.
    """

    outcome: SubmissionOutcome
    body: JSONObject
    document_id: str | None
    replayed: bool = False


def _out_of_process(
    prepared: PreparedDocument, report: ValidationReport | None
) -> contextlib.AbstractContextManager[bool]:
    """A valid large posted document's bytes out of the process while it is stored: the store writes them a
    slice at a time from the temporary file (``DocumentStore``'s ``add(..., body=)``), so they are not held
    beside the database's own copies of the row (BENCHMARKS.md, *Memory, eighteenth pass*). Nothing reads
    them after the submission: they are read back only if it raises, never after it stored them (a failed
    read then answered 500 for a document accepted: BENCHMARKS.md, *Held documents, second review pass*)."""
    source = prepared.source
    if isinstance(source, HeldDocument) and report is not None and report.valid:
        return source.spilled(from_bytes=SLICED_FROM, read_back=False)
    return contextlib.nullcontext(False)


def _refused_body(report: ValidationReport, problems: tuple[str, ...]) -> JSONObject:
    """The refusal of an invalid document: its report and, as ``errors``, what would stop it even if valid
    (``PreparedDocument.problems``): a BT-49 ``EM`` address the gateway cannot e-mail is not waived, so the
    report names only CL008 on the EndpointID, and the problem says why."""
    rules = ", ".join(sorted({finding.rule for finding in report.fatal}))
    body: JSONObject = {
        "detail": f"document is not valid under {report.rule_set}: {rules}",
        "report": report.to_dict(),
    }
    if problems:
        body["errors"] = list(problems)
    return body


def _replay(stored: IdempotencyRecord) -> SubmissionResult:
    outcome = _OUTCOME_OF_RECORD.get(stored.response_status, SubmissionOutcome.REFUSED)
    return SubmissionResult(outcome, stored.response_body, stored.document_id, replayed=True)


class _LostRace(Exception):
    """A concurrent unit of work stored the same (seller, type, number) between our check and our insert."""


@dataclass(frozen=True, slots=True)
class OutboundSubmitter:
    """Outbound use cases over the store.

    Attributes:
        store: the document store.
        validation: the validation engine.
        clock: the time source.
        ids: the id source (document ids).
        seller_id: the seller reference of the (seller, type, number) natural key. The cooperative is one
            legal entity with one numbering per document type: its configured participant id is the key for
            every document, so
            ``0208:`` and ``9925:`` spellings of the same seller can never send one number twice. It is also
            the only seller documents are sent for: a BT-34 naming another enterprise is refused, and so
            is a BT-29 to BT-32 naming another Belgian enterprise (``_in_our_name``); a document without
            BT-34 is sent under this id.
        seller_vat_number: the cooperative's VAT number (BT-31, ``BE`` and 10 digits) when it is not ``BE``
            and its enterprise number: a member of a VAT unit invoices under the unit's number
            (``GATEWAY_SELLER_VAT_NUMBER``). None: ``BE`` and the enterprise number of ``seller_id``.
        seller_name: the cooperative's legal name, which a document's seller name (BT-27) must be, spelling
            aside (``GATEWAY_SELLER_NAME``, ``seller_name_problems``). None: BT-27 is not checked.
        webhook_url: where status changes are announced; each change this module makes queues one webhook
            in the outbox within the unit of work of the change. None: no webhooks.
    """

    store: DocumentStore
    validation: ValidationEngine
    clock: Clock
    ids: IDFactory
    seller_id: str
    webhook_url: str | None = None
    seller_vat_number: str | None = None
    seller_name: str | None = None

    def submit(
        self,
        submission: Submission,
        prepare: Callable[[], PreparedDocument],
        *,
        rule_set: str | None = None,
    ) -> SubmissionResult:
        """Accept a document once: validate it and store it with its timeline entry and delivery job.

        A repeat of an Idempotency-Key returns the first answer; without a key a repeat of a stored
        document number returns that document (outcome DUPLICATE) when the UBL is byte-identical.
        Refusals are stored under the key too, so a replay answers the same.

        Args:
            submission: the request (route, raw body, Idempotency-Key).
            prepare: turns the body into a PreparedDocument; not called when a key replays an answer.
            rule_set: the validation rule set in force (None: the engine's default).

        Raises:
            IdempotencyConflict: the key was used for a request with another fingerprint.
            DocumentNumberConflict: the number is stored with different content.
            InvalidDocumentData: the document is valid but cannot be sent (no usable BT-49, no BT-1, a
                BT-34 that is not the configured seller, a seller id of another Belgian enterprise, a seller
                name that is not the cooperative's: ``seller_problem``, ``seller_identity_problems``,
                ``seller_name_problems``).
            XMLInputError, MappingError, InvalidDocumentData: from ``prepare``.
            StoreError: the database failed.
        """
        key = submission.idempotency_key
        fingerprint = submission.fingerprint
        if key is not None:
            with self.store.unit_of_work(read_only=True) as uow:
                stored = uow.idempotency.get(submission.client, key)
            if stored is not None:
                return self._held_answer(stored, key, fingerprint)
        prepared = self._in_our_name(prepare())
        report: ValidationReport | None = None
        earlier = None if prepared.problems else self._earlier_answer(prepared)
        if earlier is not None and key is None:
            return earlier
        if earlier is None:
            report = self._validate(prepared, rule_set)
            if report.valid and prepared.problems:
                raise InvalidDocumentData(list(prepared.problems))
            if not report.valid and key is None:
                refused = _refused_body(report, prepared.problems)
                return SubmissionResult(SubmissionOutcome.REFUSED, refused, None)
        # The number was read as free just now: the first write round inserts without reading it again (a
        # concurrent insert of the same number makes the insert fail, and the next round reads it).
        number_free = earlier is None and not prepared.problems
        with _out_of_process(prepared, report):
            for _ in range(_WRITE_ROUNDS):
                try:
                    result = self._write(prepared, report, fingerprint, submission, number_free=number_free)
                except _LostRace:
                    number_free = False
                    continue
                if result is not None:
                    return result
                # The number was free after all (cannot happen: documents are never deleted); validate now.
                report = self._validate(prepared, rule_set)
        raise StoreError("document number kept being taken concurrently; try again")

    def _in_our_name(self, prepared: PreparedDocument) -> PreparedDocument:
        """``prepared`` with a problem added when its BT-34 names another enterprise than ``seller_id``:
        the access point would send it in that enterprise's name (``seller_problem``), and one for each of
        its other seller ids (BT-29 to BT-32) that names another Belgian enterprise: the document would
        still state that enterprise as the seller (``seller_identity_problems``), and one for each seller
        name (BT-27) that is not ``seller_name``, when configured (``seller_name_problems``)."""
        seller = ParticipantID.parse(self.seller_id)
        problem = seller_problem(prepared, seller)
        found = ((problem,) if problem is not None else ()) + seller_identity_problems(
            prepared, seller, self.seller_vat_number
        )
        if self.seller_name is not None:
            found += seller_name_problems(prepared, self.seller_name)
        return replace(prepared, problems=(*found, *prepared.problems)) if found else prepared

    def _validate(self, prepared: PreparedDocument, rule_set: str | None) -> ValidationReport:
        """Validate; a buyer e-mailed outside Peppol has its BT-49 code-list finding waived (email_only)."""
        report = self.validation.validate(prepared.source, rule_set=rule_set)
        return waive_email_address_rule(report, prepared.receiver)

    def _held_answer(self, stored: IdempotencyRecord, key: str, fingerprint: str) -> SubmissionResult:
        if stored.fingerprint != fingerprint:
            raise IdempotencyConflict(key)
        return _replay(stored)

    def _earlier_answer(self, prepared: PreparedDocument) -> SubmissionResult | None:
        """The DUPLICATE answer if the number is stored with the same UBL, None if the number is free."""
        assert prepared.number is not None
        with self.store.unit_of_work(read_only=True) as uow:
            existing = self._stored_under(uow, prepared.number, prepared)
            return None if existing is None else self._duplicate(uow, existing, prepared)

    def _write(
        self,
        prepared: PreparedDocument,
        report: ValidationReport | None,
        fingerprint: str,
        submission: Submission,
        *,
        number_free: bool = False,
    ) -> SubmissionResult | None:
        """One write round; None if the document needs validating first.

        ``fingerprint``: the submission's, computed before its body was spilled (``_out_of_process``).

        ``number_free``: the number was just read as free, so it is not read again (the unique index still
        refuses a concurrent insert of it: ``_LostRace``).
        """
        key = submission.idempotency_key
        now = self.clock.now()
        document: OutboundDocument | None = None
        with self.store.unit_of_work() as uow:
            existing = (
                self._stored_under(uow, prepared.number, prepared)
                if prepared.number is not None and not prepared.problems and not number_free
                else None
            )
            if existing is not None:
                result = self._duplicate(uow, existing, prepared)
            elif report is None:
                return None
            elif not report.valid:
                result = SubmissionResult(
                    SubmissionOutcome.REFUSED, _refused_body(report, prepared.problems), None
                )
            else:
                document = self._new_document(prepared, now)
                result = SubmissionResult(
                    SubmissionOutcome.ACCEPTED,
                    {"id": document.id, "status": document.status.value, "duplicate": False},
                    document.id,
                )
            if key is not None:
                record = IdempotencyRecord(
                    submission.client,
                    key,
                    fingerprint,
                    _RECORDED_OUTCOME[result.outcome],
                    result.body,
                    now,
                    result.document_id,
                )
                # On PostgreSQL a concurrent claim of the same key waits here for the other transaction and
                # then returns its record: we answer with it and roll back (nothing of ours is written).
                held = uow.idempotency.claim(record)
                if held != record:
                    return _replay(held)
            if document is not None:
                assert report is not None
                try:
                    source = prepared.source
                    sliced = source if isinstance(source, HeldDocument) and not source.in_memory else None
                    body = b"" if sliced is not None else prepared.ubl
                    content = DocumentContent(body, report.to_dict(), prepared.buyer_country)
                    event = uow.outbound.add(document, content, body=sliced)
                except DuplicateMessage as exc:
                    raise _LostRace from exc
                uow.jobs.enqueue(document.id, due_at=now)
                self._announce(uow, document, event)
            uow.commit()
        return result

    def _stored_under(
        self, uow: UnitOfWork, number: str, prepared: PreparedDocument
    ) -> OutboundDocument | None:
        """The document stored under ``number`` in ``prepared``'s series: numbers are unique per seller and
        per document type, so a credit note numbered as an invoice is a new document (number_series)."""
        found = uow.outbound.find_by_number(self.seller_id, number, (prepared.document_type,))
        return found[0] if found else None

    def _duplicate(
        self, uow: UnitOfWork, existing: OutboundDocument, prepared: PreparedDocument
    ) -> SubmissionResult:
        content = uow.outbound.get_content(existing.id)
        # Same number, same UBL bytes: the client repeated its post (lost answer, restart). Anything else
        # under that number would be a second, different invoice with the same number: refuse it.
        if content is None or content.body != prepared.ubl:
            raise DocumentNumberConflict(existing.seller_id, existing.document_number, existing.id)
        return SubmissionResult(
            SubmissionOutcome.DUPLICATE,
            {"id": existing.id, "status": existing.status.value, "duplicate": True},
            existing.id,
        )

    def _new_document(self, prepared: PreparedDocument, now: datetime) -> OutboundDocument:
        assert prepared.number is not None
        assert prepared.receiver is not None
        return OutboundDocument(
            id=self.ids.new_id(),
            kind=prepared.kind,
            seller_id=self.seller_id,
            document_number=prepared.number,
            sender=prepared.sender or ParticipantID.parse(self.seller_id),
            receiver=prepared.receiver,
            document_type=prepared.document_type,
            process=BIS_BILLING_PROCESS,
            status=INITIAL_STATUS,
            created_at=now,
            updated_at=now,
        )

    def _announce(self, uow: UnitOfWork, document: OutboundDocument, change: TimelineEvent) -> None:
        if self.webhook_url is not None:
            uow.outbox.add(
                status_change_webhook(
                    event_id=self.ids.new_id(),
                    document=document,
                    change=change,
                    reason=document.status_reason,
                )
            )

    def request_retry(self, document_id: str, *, requested_by: str) -> OutboundDocument:
        """Give a failed document a new series of attempts, or bring a retrying one's next attempt forward.

        Applies RETRY_REQUESTED (TRANSITIONS) and makes the delivery job due now, in one unit of work.
        The worker resends the stored AS4 message (same message id, same bytes).

        Args:
            document_id: the outbound document.
            requested_by: who asked (the API key's name), recorded in the timeline.

        Returns:
            The document after the change.

        Raises:
            DocumentNotFound: no such document.
            InvalidTransition: its status allows no retry (accepted, sending, delivered).
            ReportSuperseded: it carried a Peppol report remade since (a new document carries it).
            LaterResponseQueued: a failed Invoice Response after which another response to the same
                received document was queued (it may have gone: this one would follow it).
        """
        now = self.clock.now()
        with self.store.unit_of_work() as uow:
            # Locked before the report's link is read: a remake of its report (which locks it too) either
            # commits first, and the link is read gone, or waits and finds it retrying (PostgreSQL).
            document = uow.outbound.get(document_id, for_update=True)
            if document is None:
                raise DocumentNotFound(document_id, "outbound document")
            if remade_since(uow, document):  # the offer of a retry asks the same
                raise ReportSuperseded(document.status, DeliveryEvent.RETRY_REQUESTED, document_id)
            # A later response to the same received document may have reached the supplier already: this
            # one would follow it (bis-billing.md §9, no going back). The offer of a retry asks the same.
            later = retry_refused_by(uow, document)
            if later is not None:
                raise LaterResponseQueued(document.status, DeliveryEvent.RETRY_REQUESTED, document_id, later)
            event = uow.outbound.transition(
                document_id,
                DeliveryEvent.RETRY_REQUESTED,
                at=now,
                reason=f"retry requested by {requested_by}",
                detail={"requested_by": requested_by, "previous_reason": document.status_reason},
                next_attempt_at=now,
                locked=document,
            )
            uow.jobs.enqueue(document_id, due_at=now)
            wake_waiting_response(uow, document, at=now)
            updated = uow.outbound.get(document_id)
            assert updated is not None
            self._announce(uow, updated, event)
            uow.commit()
        return updated

"""Finishing received documents whose validation was cut short (a crash, or a store failure while the
verdict was recorded): at start-up, periodically for those older than an age threshold (``sweep``), one
claimed document at a time for the workers that do the work after every receipt (``next``,
``GATEWAY_AS4__AFTER_RECEIPT=worker``), and from an accepted message's stored raw bytes when its document
is missing (an older release).

Safe beside live traffic: documents whose work after the receipt is still to run in this process are
stepped over, and a verdict is recorded only for a document that still awaits it (``InboundFinisher``),
so a document is never handed on twice (one expense draft, at most one MLS).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from gateway.as4 import parse_incoming
from gateway.crypto import KeyMaterial, TrustStore
from gateway.errors import DuplicateMessage, InboundMessageRejected
from gateway.model.message import (
    AS4MessageRecord,
    Direction,
    DocumentContent,
    InboundDocument,
    InboundStatus,
)
from gateway.services.message_status import ReceivedEnvelope
from gateway.services.ports import Clock, DocumentStore, UnitOfWork
from gateway.services.receive_finish import Finished, InboundFinisher, ReceivedFacts
from gateway.services.receive_records import (
    first_headers,
    pending_document,
    received_envelope,
    summary_envelope,
)

log = logging.getLogger("gateway.receive")

#: How long a claim on a received document (``GATEWAY_AS4__AFTER_RECEIPT=worker``: a worker's, or the
#: pending sweep's) keeps the others off it: longer than the validation of the largest document accepted
#: takes, so a live claimer is never doubled (a doubled one would only waste the work: the verdict is
#: recorded once).
CLAIM_FOR: Final = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class PendingRecovery:
    """Finishes received documents left awaiting their validation.

    Attributes:
        store: the document store.
        finisher: validates, records and hands on.
        clock: "now" of the sweep's age threshold and of re-derived documents.
        identity / trust / max_payload: read an accepted message's stored raw bytes again.
    """

    store: DocumentStore
    finisher: InboundFinisher
    clock: Clock
    identity: KeyMaterial
    trust: TrustStore
    max_payload: int

    def pending(self, *, batch_size: int = 50, older_than: timedelta | None = None) -> int:
        """Validate every inbound document still awaiting validation (received before ``now - older_than``
        when given), oldest first, stepping over those in flight in this process.

        Returns:
            The number of documents whose verdict this call recorded.

        Raises:
            StoreError: the store failed (what was recorded before stays recorded).
        """
        cutoff = None if older_than is None else self.clock.now() - older_than
        done = 0
        seen: set[str] = set()  # stepped over or finished: not asked for again
        while True:
            with self.store.unit_of_work(read_only=True) as uow:  # the rows only, no body
                candidates = [
                    document
                    for document in uow.inbound.pending_validation(limit=batch_size + len(seen))
                    if document.id not in seen and _old_enough(document.received_at, cutoff)
                ]
                # Those whose own work after the receipt is still to run in this process are left to it.
                pending = [d for d in candidates if not self.finisher.held(d.id)]
            if not candidates:
                return done
            seen.update(document.id for document in candidates)
            for document in pending:
                finished = self._finish(document, self._read(document))
                if finished is not None and finished.recorded:
                    log.warning(
                        "inbound document %s of AS4 message %s: interrupted validation finished (%s)",
                        document.id,
                        document.as4_message_id,
                        finished.status.value,
                    )
                    done += 1

    def next(self, *, claim_for: timedelta, received_before: datetime | None = None) -> bool:
        """Claim the oldest pending document no other call holds (``InboundRepository.claim_pending``: its
        claim is committed before the validation starts, so a concurrent call, in this process or another,
        takes the next one) and finish it as the sweep would; with ``received_before``, among the documents
        received no later than that only (the sweep's age). A claim older than ``claim_for`` is taken
        for lost (its claimer died or stalled): the document is claimable again. Documents held by
        the work after a receipt in this process are not stepped over: the caller runs none
        (``GATEWAY_AS4__AFTER_RECEIPT=worker``), and a verdict is recorded once whoever validates.

        Returns:
            False when no document was left to claim; True once one was claimed (and finished, or found
            finished meanwhile by another call).

        Raises:
            StoreError: the store failed (a claimed document stays pending, claimable after ``claim_for``
                and swept meanwhile).
        """
        now = self.clock.now()
        with self.store.unit_of_work() as uow:
            document = uow.inbound.claim_pending(
                now=now, claimed_before=now - claim_for, received_before=received_before
            )
            # Its body and envelope read in the claim's transaction (one unit of work, not two).
            read = self._read_in(uow, document) if document is not None else None
            uow.commit()
        if document is None:
            return False
        finished = self._finish(document, read)
        if finished is not None and finished.recorded:
            log.info(
                "inbound document %s of AS4 message %s: validated after its receipt (%s)",
                document.id,
                document.as4_message_id,
                finished.status.value,
            )
        return True

    def _finish(
        self, document: InboundDocument, read: tuple[bytes, ReceivedEnvelope] | None
    ) -> Finished | None:
        """Validate, record and hand on one pending document whose body and envelope are ``read`` (None: it
        was gone); None when it is gone."""
        # One document at a time: its body (and its receipt summary, read for the envelope) is read just
        # before and released here before the next one is read, so a pass holds one body, never a batch of
        # them (the after-receipt backlog leaves the documents beyond its bound to this sweep: README,
        # *after-receipt backlog*).
        if read is None:  # deleted meanwhile
            return None
        body, envelope = read
        del read
        # The SBDH's MLS scopes as the receipt summary recorded them (the defaults for summaries from
        # before they were recorded).
        facts = ReceivedFacts(
            document.id,
            document.document_type,
            document.sender,
            document.as4_message_id,
            envelope,
            document.receiver,
        )
        finished = self.finisher.finish(facts, body)
        del body  # released before the next document's body is read
        return finished

    def _read(self, document: InboundDocument) -> tuple[bytes, ReceivedEnvelope] | None:
        """A pending document's body and the envelope facts its receipt summary recorded; None when the
        document is gone."""
        with self.store.unit_of_work(read_only=True) as uow:
            return self._read_in(uow, document)

    @staticmethod
    def _read_in(uow: UnitOfWork, document: InboundDocument) -> tuple[bytes, ReceivedEnvelope] | None:
        """``_read`` in ``uow``; the envelope from the receipt summary alone (not the message's bytes)."""
        content = uow.inbound.get_content(document.id)
        if content is None:
            return None
        envelope = summary_envelope(uow.messages.signal_summary(document.as4_message_id, Direction.IN))
        return content.body, envelope

    def from_evidence(self, stored: AS4MessageRecord) -> InboundStatus | None:
        """Re-derive the inbound document of an accepted message from its stored raw bytes, validate it."""
        try:
            incoming = parse_incoming(
                first_headers(stored.request.headers),
                stored.request.body,
                our_key=self.identity,
                trust=self.trust,
                at=stored.created_at,  # judged as when it was accepted
                served=None,  # it was served then; the receipt is already given
                max_payload=self.max_payload,
            )
        except InboundMessageRejected as exc:
            # E.g. our key was rotated since. The receipt stands; the evidence is kept; an operator must act.
            log.error("cannot recover the document of accepted AS4 message %s: %s", stored.message_id, exc)
            return None
        assert stored.document_id is not None
        with self.store.unit_of_work() as uow:
            try:
                uow.inbound.add(
                    pending_document(stored, incoming, self.clock.now()),
                    DocumentContent(incoming.sbdh.business_document, None),
                )
            except DuplicateMessage:
                pass  # a concurrent duplicate delivery stored it first; only one verdict is recorded
            else:
                uow.commit()
        facts = ReceivedFacts(
            stored.document_id,
            incoming.document_type,
            incoming.sbdh.sender,
            stored.message_id,
            received_envelope(incoming),
            incoming.sbdh.receiver,
        )
        return self.finisher.finish(facts, incoming.sbdh.business_document).status


def _old_enough(received_at: datetime, cutoff: datetime | None) -> bool:
    return cutoff is None or received_at <= cutoff

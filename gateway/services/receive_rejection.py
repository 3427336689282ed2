"""Rejected AS4 requests: the signed ebMS Error answered and the evidence kept (under ``rejected-<uuid>``:
a rejected request's claimed MessageId is unverified and must not block the genuine message)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from gateway.as4 import EbmsError, build_error
from gateway.crypto import KeyMaterial
from gateway.errors import InboundMessageRejected
from gateway.model.message import (
    AS4MessageRecord,
    AS4Signal,
    Direction,
    JSONObject,
    RawHTTPMessage,
    SignalKind,
)
from gateway.services.ports import DocumentStore, IDFactory
from gateway.services.receive_result import MAX_ID_LENGTH, SIGNAL_HEADERS, ReceiveOutcome, ReceiveResult
from gateway.services.rejected_evidence import REJECTED_KEY_PREFIX, EvidenceLimits, rejected_evidence

log = logging.getLogger("gateway.receive")


@dataclass(frozen=True, slots=True)
class Rejection:
    """Answers and records rejected requests. Thread-safe: every call opens its own unit of work.

    Attributes:
        store: where the evidence goes.
        identity: signs the ebMS Error.
        ids: signal ids and evidence keys.
        domain: signal MessageIds are ``<uuid>@<domain>``.
        evidence: what a rejected request keeps (before and after its signer is authenticated).
    """

    store: DocumentStore
    identity: KeyMaterial
    ids: IDFactory
    domain: str
    evidence: EvidenceLimits

    def reject(
        self,
        raw: RawHTTPMessage,
        exc: InboundMessageRejected,
        now: datetime,
        *,
        truncated: bool = False,
        authenticated: bool = False,
        received_bytes: int | None = None,
    ) -> ReceiveResult:
        """Sign the ebMS Error for ``exc``, store the request's evidence and return the answer.

        Raises:
            StoreError: the evidence could not be stored (answer 5xx).
        """
        ref = (
            exc.ref_to_message_id
            if exc.ref_to_message_id and len(exc.ref_to_message_id) <= MAX_ID_LENGTH
            else None
        )
        error: EbmsError = exc.ebms
        signal_id = f"{self.ids.new_id()}@{self.domain}"
        # Toward the peer only the generic short description and the public ErrorDetail (no oracle).
        body = build_error(
            ref,
            error,
            key=self.identity,
            message_id=signal_id,
            timestamp=now,
            detail=exc.error_detail,
            new_id=self.ids.new_id,
        )
        facts: JSONObject = {
            "signalMessageId": signal_id,
            "refToMessageId": ref,
            "errorCode": error.code,
            "errorDetail": exc.error_detail or None,
            "reason": exc.detail,  # internal: our store and log only
        }
        # Before the signer is authenticated only a prefix, bounded headers and hashes.
        kept = rejected_evidence(
            raw.headers,
            raw.body,
            RawHTTPMessage(SIGNAL_HEADERS, body),
            self.evidence,
            facts=facts,
            authenticated=authenticated,
            truncated=truncated,
            received_bytes=received_bytes,
        )
        key = REJECTED_KEY_PREFIX + self.ids.new_id()
        record = AS4MessageRecord(
            message_id=key,
            direction=Direction.IN,
            request=RawHTTPMessage(kept.headers, kept.body),
            created_at=now,
            signal=AS4Signal(SignalKind.ERROR, kept.signal, now, error.code, kept.summary),
        )
        with self.store.unit_of_work() as uow:
            uow.messages.add(record)
            uow.commit()
        log.warning(
            "AS4 request rejected (%s, MessageId %s, evidence %s): %s", error.code, ref, key, exc.detail
        )
        return ReceiveResult(ReceiveOutcome.REJECTED, body, key, ref, ebms=error)

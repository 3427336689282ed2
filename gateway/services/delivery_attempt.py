"""The values one delivery attempt works with: its settings and result, the loaded document, the message
of the attempt, the internal stop/refusal signals, and the outcome of a failed discovery."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from gateway.as4 import OutgoingMessage
from gateway.errors import DiscoveryError, EndpointNotFound, ParticipantNotRegistered
from gateway.model.identifiers import ParticipantID
from gateway.model.message import (
    AS4MessageRecord,
    DeliveryEvent,
    DeliveryStatus,
    JSONObject,
    OutboundDocument,
)
from gateway.services.delivery_outcome import AttemptOutcome, AttemptResult
from gateway.services.ports import SentFacts


@dataclass(frozen=True, slots=True)
class DeliverySettings:
    """Values of the delivery recipe that come from settings.

    Attributes:
        country_c1: SBDH COUNTRY_C1 (ISO 3166 alpha-2 of the sender, C1).
        message_id_domain: eb:MessageId is ``<uuid>@<domain>`` (``@`` expected, peppol-as4.md §14 item 2).
        lease_for: how long each step's lease renewal lasts; must exceed the longest send (connect + response
            timeout) so that a live worker keeps its job while it waits for the answer.
        webhook_url: where status changes are POSTed (an outbox row per change); None: no webhooks.
        mls_to: our SPID participant (``0242:…``), written as the SBDH MLS_TO scope of every business
            document we send so that the receiving AP knows where its Message Level Status goes (peppol-as4.md
            §8, §12); never on an MLS itself (no MLS answers an MLS). None: no MLS scopes.
        mls_type: the MLS_TYPE scope sent with MLS_TO (``ALWAYS_SEND``: we record every outcome).
    """

    message_id_domain: str
    lease_for: timedelta
    country_c1: str = "BE"
    webhook_url: str | None = None
    mls_to: ParticipantID | None = None
    mls_type: str | None = None


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """What ``deliver_one`` did with a lease (for logs, metrics and tests).

    Attributes:
        document_id: the document.
        status: its status afterwards; None when this worker changed nothing (lease lost, stale job).
        event: the outcome event applied (None: nothing applied).
        reason: the status reason recorded.
        message_id: the AS4 message id, once built.
        outcome: how the send ended; None when nothing was sent.
        sent: True when the message was POSTed in this attempt.
        deferred: the attempt did not start: the job was handed back (endpoint busy or circuit open, or an
            Invoice Response waiting for the earlier response to the same received document), not counted
            as an attempt (``services.delivery_deferral``).
    """

    document_id: str
    status: DeliveryStatus | None
    event: DeliveryEvent | None = None
    reason: str | None = None
    message_id: str | None = None
    outcome: AttemptOutcome | None = None
    sent: bool = False
    deferred: bool = False


@dataclass(frozen=True, slots=True)
class PreparedDocument:
    """A leased document loaded for an attempt.

    Attributes:
        document: the document.
        record: its stored message (AS4 or e-mail), when one was built before.
        body: its content, loaded only when no message is stored yet.
        invalid: stored with a failed validation (a refused Invoice Response or MLS): never sent.
        buyer_country: the buyer country stored at submit, read with ``body`` (the reporting record of
            its delivery); None: not read or not stored.
        waits_for: an Invoice Response: the earlier response to the same received document that is not
            final yet; it must not be overtaken, so this one is not sent now (``defer_behind``).
        after_failed: an Invoice Response: the earlier response it waited for ended failed; it goes, and
            its SEND_STARTED entry says so.
    """

    document: OutboundDocument
    record: AS4MessageRecord | None
    body: bytes | None
    invalid: bool = False
    buyer_country: str | None = None
    waits_for: str | None = None
    after_failed: str | None = None


@dataclass(frozen=True, slots=True)
class StartedAttempt:
    """What the SEND_STARTED unit of work committed, so that recording the outcome need not read it back.

    Attributes:
        document: the document as SEND_STARTED left it (status, attempts, message id): the outcome's
            transition applies to it if its row is still so (``transition_if``), else reads the row.
        previously_sent: the business document was sent before (the receiver may hold it).
        sent: the sent message's stored time and the buyer country, for the reporting record of a
            delivery; None: read them then (``sent_facts``).
    """

    document: OutboundDocument
    previously_sent: bool
    sent: SentFacts | None = None


@dataclass(frozen=True, slots=True)
class AttemptMessage:
    """The message of this attempt.

    Attributes:
        outgoing: what is sent.
        instance_id: its SBDH InstanceIdentifier.
        new: built in this attempt (to be stored before sending).
        replaces: the MessageId of the stored message this one was rebuilt from (receiver key rotation).
    """

    outgoing: OutgoingMessage
    instance_id: str | None
    new: bool
    replaces: str | None = None


@dataclass(frozen=True, slots=True)
class Unbuilt:
    """No message could be built for this attempt: the outcome to record, under ``message_id`` (the stored
    message's, if any)."""

    outcome: AttemptOutcome
    message_id: str | None


class StopAttempt(Exception):
    """Internal: this worker must leave the document alone (lease lost, or the document is final already)."""

    def __init__(self, result: DeliveryResult) -> None:
        self.result = result
        super().__init__(result.document_id)


class AttemptRefused(Exception):
    """Internal: the attempt ends before sending with this outcome."""

    def __init__(self, outcome: AttemptOutcome) -> None:
        self.outcome = outcome
        super().__init__(outcome.reason)


def discovery_failure(exc: DiscoveryError) -> AttemptOutcome:
    """The attempt outcome of a failed lookup: its typed reason, retried only when ``exc.retryable``."""
    outcome = getattr(exc.outcome, "value", None)
    if isinstance(exc, ParticipantNotRegistered):
        code = "receiver-not-registered"
    elif isinstance(exc, EndpointNotFound) and outcome is None:
        code = "endpoint-not-found"  # the local directory: no finer class
    else:
        code = outcome or "discovery-failed"
    detail: JSONObject = {"discovery": outcome} if outcome else {}
    result = AttemptResult.RETRY if exc.retryable else AttemptResult.GIVE_UP
    return AttemptOutcome(result, f"{code}: {exc}", detail=detail)

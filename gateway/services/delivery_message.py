"""The AS4 message of a delivery attempt: restored from storage (retries), built once (first attempt) or
rebuilt for a receiver whose certificate changed, always after validating that certificate."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

from cryptography import x509

from gateway.as4 import EbmsError, OutgoingMessage, build_user_message
from gateway.as4.restore import restore_outgoing
from gateway.crypto import (
    CertificateVerdicts,
    KeyMaterial,
    RevocationChecker,
    TrustStore,
    validate_ap_certificate,
)
from gateway.errors import CertificateRejected, LocalProtocolError, MappingError, XMLInputError
from gateway.model.identifiers import ParticipantID
from gateway.model.message import DocumentKind, OutboundDocument
from gateway.services.delivery_attempt import (
    AttemptMessage,
    AttemptRefused,
    DeliverySettings,
    PreparedDocument,
)
from gateway.services.delivery_outcome import AttemptOutcome, AttemptResult
from gateway.services.ports import Clock, Endpoint, IDFactory
from gateway.ubl.sbdh import build_sbd, built_header

log = logging.getLogger("gateway.deliver")


class MessageFactory:
    """Builds, restores and rebuilds the AS4 messages of delivery attempts (one per ``Deliverer``).

    Args:
        identity: our AP key and certificate (signs the messages).
        trust: AP trust anchors the receiver certificate is validated against.
        clock / ids: time and identifiers (message and SBDH instance ids).
        settings: the delivery recipe values (COUNTRY_C1, MessageId domain, MLS scopes).
        random_bytes: key/IV/boundary source of the AS4 builder (``os.urandom``).
        revocation: the receiver certificate's revocation check; None: not checked.
        verdicts: the memory of receiver certificate paths that validated (the ``Deliverer``'s, shared
            with the receipt check); None: each path is verified again.
    """

    def __init__(
        self,
        *,
        identity: KeyMaterial,
        trust: TrustStore,
        clock: Clock,
        ids: IDFactory,
        settings: DeliverySettings,
        random_bytes: Callable[[int], bytes] = os.urandom,
        revocation: RevocationChecker | None = None,
        verdicts: CertificateVerdicts | None = None,
    ) -> None:
        self._identity = identity
        self._validate_certificate = (
            verdicts.validate_ap_certificate if verdicts is not None else validate_ap_certificate
        )
        self._trust = trust
        self._clock = clock
        self._ids = ids
        self._settings = settings
        self._random_bytes = random_bytes
        self._revocation = revocation

    def for_attempt(
        self, prepared: PreparedDocument, endpoint: Endpoint, content: Callable[[str], bytes]
    ) -> AttemptMessage:
        """The stored message (retries), a new one (first attempt) or a rebuilt one (key rotation).

        The certificate the message is (or will be) encrypted to is validated first (peppol-as4.md §13,
        sender: before sending; failure is final), so nothing is built or stored for a rejected receiver.

        A retry resends the stored bytes: same MessageId, identical digests (AS4 1.0 §3.2). When discovery
        now publishes another receiver certificate, those bytes can no longer be decrypted by the receiver;
        the same business document is then rebuilt for the new certificate as an application-level resend:
        a new MessageId (a resend with other digests is not an AS4 retry; peppol-as4.md §14 item 9: "App-level
        resends get new MessageIds") and the SAME SBDH InstanceIdentifier, so a receiver that got the first
        message after all recognises the business document as a duplicate (§13 item 13). The first message
        stays in the evidence.

        Raises:
            AttemptRefused: the receiver certificate is rejected.
            LocalProtocolError: the message cannot be built or the stored one cannot be read back.
        """
        if prepared.record is not None:
            record = prepared.record
            restored = restore_outgoing(
                record.request.headers, record.request.body, instance_id=record.sbdh_instance_id or ""
            )
            if restored.receiver_certificate == endpoint.certificate:
                self.check_certificate(restored.receiver_certificate)
                return AttemptMessage(restored, record.sbdh_instance_id, new=False)
            log.warning(
                "document %s: the receiver certificate changed (serial %x -> %x): rebuilding message %s",
                record.document_id,
                restored.receiver_certificate.serial_number,
                endpoint.certificate.serial_number,
                record.message_id,
            )
            self.check_certificate(endpoint.certificate)
            body = content(prepared.document.id)
            instance_id = record.sbdh_instance_id or self._ids.new_id()
            outgoing = self.build(prepared.document, body, endpoint, instance_id)
            return AttemptMessage(outgoing, instance_id, new=True, replaces=record.message_id)
        if prepared.invalid:
            raise AttemptRefused(
                AttemptOutcome(AttemptResult.GIVE_UP, "invalid-document: its validation failed")
            )
        self.check_certificate(endpoint.certificate)
        if prepared.body is None:
            raise LocalProtocolError(EbmsError.OTHER, "the document content is missing")
        instance_id = self._ids.new_id()
        return AttemptMessage(
            self.build(prepared.document, prepared.body, endpoint, instance_id), instance_id, True
        )

    def build(
        self, document: OutboundDocument, body: bytes, endpoint: Endpoint, instance_id: str
    ) -> OutgoingMessage:
        now = self._clock.now()
        receiver = document.receiver
        if not isinstance(receiver, ParticipantID):  # the worker e-mails those (``EmailAttempts.only``)
            raise LocalProtocolError(EbmsError.OTHER, f"{receiver} is not a Peppol participant")
        try:
            # peppol-as4.md §13 (sender): SBDH with COUNTRY_C1 and an InstanceIdentifier; From = our CN,
            # To = the receiver certificate CN (the builder takes both from the certificates).
            # ``parsed_before``: every stored outbound document was parsed and validated before it was
            # stored (submit, responses, reports; one that failed is never sent), so its bytes are spliced
            # into the SBD as they are, without a second parse (issue 12: one parse per document per side).
            envelope: dict[str, Any] = {
                "sender": document.sender,
                "receiver": receiver,
                "document_type": document.document_type,
                "process": document.process,
                "country_c1": self._settings.country_c1,
                "instance_id": instance_id,
                "created": now,
                **self._mls_scopes(document),
            }
            sbd = build_sbd(body, **envelope, parsed_before=True)
        except (MappingError, XMLInputError) as exc:
            # XMLInputError: a document its layout sends to a parse that refuses it, e.g. one in UTF-16
            # stored before submissions were refused in it (``xmlcore.encoding``): final, as for the header.
            raise LocalProtocolError(EbmsError.OTHER, f"cannot wrap the document in an SBD: {exc}") from exc
        try:
            # The header just written, not parsed back (BENCHMARKS.md, *Sender and worker instructions per
            # document*); its check of the business document's root kept, with the same answer.
            header = built_header(body, **envelope)
        except (MappingError, XMLInputError) as exc:
            raise LocalProtocolError(EbmsError.OTHER, f"cannot send: {exc}") from exc
        return build_user_message(
            sbd,
            sender=self._identity,
            receiver_certificate=endpoint.certificate,
            message_id=f"{self._ids.new_id()}@{self._settings.message_id_domain}",
            timestamp=now,
            random_bytes=self._random_bytes,
            header=header,
        )

    def _mls_scopes(self, document: OutboundDocument) -> dict[str, Any]:
        """The SBDH MLS_TO / MLS_TYPE scopes for ``document`` (none for an MLS, none when not configured)."""
        if self._settings.mls_to is None or document.kind is DocumentKind.MLS:
            return {}
        return {"mls_to": self._settings.mls_to, "mls_type": self._settings.mls_type}

    def check_certificate(self, certificate: x509.Certificate) -> None:
        """Validate the receiver AP certificate now (peppol-as4.md §10.2); raise AttemptRefused if so."""
        try:
            self._validate_certificate(
                certificate, self._trust, at=self._clock.now(), revocation=self._revocation
            )
        except CertificateRejected as exc:
            reason = getattr(exc.reason, "value", exc.reason)
            raise AttemptRefused(
                AttemptOutcome(AttemptResult.GIVE_UP, f"receiver-certificate-rejected: {reason}: {exc}")
            ) from exc

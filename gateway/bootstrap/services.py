"""The composition root proper: :class:`Services` (every use case, built once per process) and
:func:`build_services`; the small adapters it plugs in are in ``adapters``, the delivery wiring in
``delivery``."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property

from gateway.bootstrap.adapters import (
    LimitedPrinter,
    Process,
    SystemClock,
    UUIDFactory,
    build_store,
    build_validation_engine,
    render_pdf,
    system_jitter,
)
from gateway.bootstrap.delivery import build_deliverer
from gateway.bootstrap.discovery import build_smp_resolver
from gateway.bootstrap.loading import build_revocation, load_identity, load_trust, parse_served
from gateway.bootstrap.slots import PrintSlots
from gateway.bootstrap.stage import check_certificates, check_stage
from gateway.config import Settings
from gateway.crypto import (
    KeyMaterial,
    RevocationChecker,
    TrustStore,
    common_name,
)
from gateway.crypto.lifecycle import WatchedCertificate, watched_certificates
from gateway.errors import GatewayError
from gateway.model import ParticipantID
from gateway.model.responses import spid_of_seat
from gateway.services.backoff import BackoffPolicy
from gateway.services.deliver import Deliverer
from gateway.services.email_fallback import EmailChannel
from gateway.services.expense_effects import ExpensePolicy
from gateway.services.expenses import ExpenseWorkflow
from gateway.services.inbound_webhooks import InvalidDocumentWebhooks
from gateway.services.message_status import MessageStatusService
from gateway.services.outbound import OutboundSubmitter
from gateway.services.participant_lookup import DirectoryLookup, ParticipantLookup
from gateway.services.ports import (
    AS4Transport,
    Clock,
    DocumentStore,
    EndpointResolver,
    IDFactory,
    InvoiceResponder,
    RandomSource,
    WebhookSender,
)
from gateway.services.receive import AS4Receiver
from gateway.services.received_answers import ReceivedAnswers
from gateway.services.rejected_evidence import EvidenceLimits
from gateway.services.reporting import OPENPEPPOL_REPORTING_RECEIVER, PeppolReporter, ReporterSettings
from gateway.services.responses import CapabilityCheck, PeppolInvoiceResponder, endpoint_capability
from gateway.services.routing import RoutingRule
from gateway.services.smp_resolver import SMPResolver
from gateway.services.webhooks import DEFAULT_WEBHOOK_TARGET, WebhookDispatcher
from gateway.store import SQLDocumentStore
from gateway.store.people import SQLPeopleStore
from gateway.transport.http import HTTPAS4Transport
from gateway.transport.smtp import SMTPMailer, SMTPSettings
from gateway.transport.webhook_http import HTTPWebhookSender
from gateway.validation import ValidationEngine, rule_set_for

log = logging.getLogger("gateway.bootstrap")


@dataclass
class Services:
    """Everything the entry points need, built once per process.

    The use cases (``submitter``, ``receiver``, ``deliverer``, ``webhook_dispatcher``) are built from these
    parts on first use and then kept: one of each per process. The HTTP adapters are made on first use too
    (an API process never opens the delivery client) unless a test injects ``as4_transport`` /
    ``webhook_sender``; ``aclose()`` closes the ones made here.
    """

    settings: Settings
    validation: ValidationEngine
    store: DocumentStore
    clock: Clock = field(default_factory=SystemClock)
    ids: IDFactory = field(default_factory=UUIDFactory)
    identity: KeyMaterial | None = None
    trust: TrustStore | None = None
    #: The receivers' resolver of the configured discovery mode: the local directory or an SMPResolver.
    directory: EndpointResolver | None = None
    #: The "can this participant receive?" lookup; None = built from ``directory`` on first use.
    lookup: ParticipantLookup | None = None
    served: frozenset[ParticipantID] = frozenset()
    revocation: RevocationChecker | None = None
    as4_transport: AS4Transport | None = None
    webhook_sender: WebhookSender | None = None
    jitter: RandomSource = field(default_factory=system_jitter)
    # Overrides the Invoice Response port of the expense workflow (tests); default: ``invoice_responder``.
    responder: InvoiceResponder | None = None
    _owned: list[HTTPAS4Transport | HTTPWebhookSender] = field(default_factory=list, repr=False)

    def rule_set_today(self) -> str:
        """The configured rule set, or the one in force today (switches by itself on a release date)."""
        manifest = self.validation.store.manifest  # the configured manifest (GATEWAY_ARTEFACTS__MANIFEST)
        return self.settings.validation.rule_set or rule_set_for(self.clock.now().date(), manifest)

    @cached_property
    def print_slots(self) -> PrintSlots:
        """The process's PDF print slots (``settings.render``): the API's renderings and the pages' PDF
        downloads wait for the same ones."""
        render = self.settings.render
        return PrintSlots(render.max_concurrent_pdfs, render.pdf_wait_seconds)

    @cached_property
    def submitter(self) -> OutboundSubmitter:
        """Outbound submission and support's retry requests."""
        return OutboundSubmitter(
            store=self.store,
            validation=self.validation,
            clock=self.clock,
            ids=self.ids,
            seller_id=self.settings.seller_id,
            webhook_url=self.settings.webhooks.url,
            seller_vat_number=self.settings.seller_vat_number,
            seller_name=self.settings.seller_name,
        )

    @cached_property
    def receiver(self) -> AS4Receiver | None:
        """The AS4 receive use case, or None when no AP key or trust store is configured."""
        if self.identity is None or self.trust is None:
            return None
        as4 = self.settings.as4
        return AS4Receiver(
            store=self.store,
            validator=self.validation,
            identity=self.identity,
            trust=self.trust,
            served=self.served,
            # MLS are addressed to our SPID (0242:…): received for it when MLS is on, and nothing else.
            spid=self.our_spid,
            clock=self.clock,
            ids=self.ids,
            rule_set=self.rule_set_today,
            message_id_domain=as4.message_id_domain,
            max_payload=as4.max_payload_bytes,
            max_document=self.settings.validation.max_document_bytes,
            revocation=self.revocation,
            evidence=EvidenceLimits(
                anonymous_body=as4.rejected_evidence_prefix_bytes,
                anonymous_headers=as4.rejected_evidence_header_bytes,
            ),
            on_received=self.message_status.on_received,
            on_valid=self.expenses.draft_validated,
            mls=self.message_status,
            our_country=as4.country_c1,
            # A received document judged invalid is announced with its verdict (``inbound.invalid``).
            on_invalid=InvalidDocumentWebhooks(self.ids) if self.settings.webhooks.url else None,
        )

    @cached_property
    def our_spid(self) -> ParticipantID | None:
        """Our Service Provider Id (``0242:…``, from our AP certificate's seat id CN), when MLS is on."""
        if not self.settings.responses.mls or self.identity is None:
            return None
        try:
            return spid_of_seat(common_name(self.identity.certificate) or "")
        except GatewayError as exc:
            log.warning("MLS disabled: %s", exc)
            return None

    @cached_property
    def capability(self) -> CapabilityCheck | None:
        """Whether a participant receives a document type (the participant directory); None without one."""
        return endpoint_capability(self.directory) if self.directory is not None else None

    @cached_property
    def received_answers(self) -> ReceivedAnswers:
        """Received MLS and Invoice Responses applied to what we sent (held until our receipt if early)."""
        return ReceivedAnswers(
            store=self.store,
            clock=self.clock,
            ids=self.ids,
            seller_id=self.settings.seller_id,
            webhook_url=self.settings.webhooks.url,
        )

    @cached_property
    def message_status(self) -> MessageStatusService:
        """MLS for what we receive; received MLS and Invoice Responses applied to what we sent."""
        return MessageStatusService(
            store=self.store,
            validation=self.validation,
            can_receive=self.capability,
            clock=self.clock,
            ids=self.ids,
            our_spid=self.our_spid,
            seller_id=self.settings.seller_id,
            webhook_url=self.settings.webhooks.url,
            answer_delay=timedelta(seconds=self.settings.responses.answer_delay_seconds),
            answers=self.received_answers,
        )

    @cached_property
    def people(self) -> SQLPeopleStore | None:
        """The accounts of people who log in to /web, in the document store's database; None when the store is
        not the SQL store (a test double), and then the pages are not mounted."""
        return SQLPeopleStore(self.store.engine) if isinstance(self.store, SQLDocumentStore) else None

    @cached_property
    def invoice_responder(self) -> InvoiceResponder:
        """Invoice Responses (T111) for the expense workflow's transitions (none without a directory)."""
        responses = self.settings.responses
        capability = self.capability
        return PeppolInvoiceResponder(
            validation=self.validation,
            can_receive=capability if capability is not None else (lambda *_: False),
            ids=self.ids,
            statuses=frozenset(responses.invoice_response_statuses),
            buyer_name=responses.buyer_name,
            webhook_url=self.settings.webhooks.url,
            answer_delay=timedelta(seconds=responses.answer_delay_seconds),
        )

    @cached_property
    def expenses(self) -> ExpenseWorkflow:
        """The expense workflow: drafts of valid received invoices, routing, approval."""
        settings = self.settings
        return ExpenseWorkflow(
            store=self.store,
            clock=self.clock,
            ids=self.ids,
            responder=self.responder if self.responder is not None else self.invoice_responder,
            policy=ExpensePolicy(
                rules=tuple(RoutingRule(rule) for rule in settings.expenses.routing_rules),
                mapping_ttl=timedelta(days=settings.expenses.supplier_mapping_days),
                webhook_url=settings.webhooks.url,
                served=self.served,
            ),
        )

    def backoff(self, *, max_attempts: int) -> BackoffPolicy:
        """The retry policy of deliveries and webhooks: ``settings.worker``'s base and cap."""
        worker = self.settings.worker
        return BackoffPolicy(
            base=timedelta(seconds=worker.backoff_base_seconds),
            cap=timedelta(seconds=max(worker.backoff_cap_seconds, worker.backoff_base_seconds)),
            max_attempts=max_attempts,
        )

    @property
    def lease_for(self) -> timedelta:
        """How long a delivery lease lasts (``GATEWAY_WORKER__LEASE_SECONDS``, checked by the settings)."""
        return timedelta(seconds=self.settings.worker.lease_seconds)

    @cached_property
    def deliverer(self) -> Deliverer:
        """The delivery use case, over the HTTP AS4 transport unless one was injected (``build_deliverer``).

        Raises:
            ConfigurationError: no AP key, no trust store or no participant directory is configured.
        """
        return build_deliverer(self)

    @cached_property
    def reporter(self) -> PeppolReporter | None:
        """The Peppol reporting use case, or None without an AP key (no Seat ID to report as).

        Reports go to OpenPeppol's reporting participant only in the production stage; a configured test
        receiver is sent to in any stage (peppol-as4.md §11: there is no test receiver at OpenPeppol).
        """
        if self.identity is None:
            return None
        seat = common_name(self.identity.certificate) or ""
        try:
            sender = spid_of_seat(seat)
        except GatewayError as exc:
            log.warning("Peppol reporting disabled: %s", exc)
            return None
        config = self.settings.reporting
        receiver = ParticipantID.parse(config.receiver)
        production = self.settings.truststore.stage == "production"
        send = config.enabled and (production or receiver != OPENPEPPOL_REPORTING_RECEIVER)
        return PeppolReporter(
            store=self.store,
            validator=self.validation,
            clock=self.clock,
            ids=self.ids,
            settings=ReporterSettings(
                reporter_seat=seat,
                sender=sender,
                receiver=receiver,
                send=send,
                webhook_url=self.settings.webhooks.url,
            ),
        )

    @cached_property
    def email_channel(self) -> EmailChannel | None:
        """The e-mail fallback (``GATEWAY_MAIL__HOST`` set), or None."""
        mail = self.settings.mail
        if mail.host is None:
            return None
        smtp = SMTPSettings(
            host=mail.host,
            port=mail.port,
            starttls=mail.starttls,
            username=mail.username,
            password=mail.password.get_secret_value() if mail.password is not None else None,
            timeout=mail.timeout_seconds,
        )
        printer = LimitedPrinter(render_pdf, self.settings.render.max_concurrent_pdfs)
        return EmailChannel(SMTPMailer(smtp), mail.sender, printer)

    @cached_property
    def certificates(self) -> tuple[WatchedCertificate, ...]:
        """Our AP certificate and every AP and SMP trust anchor: watched for expiry (/metrics, /readyz)."""
        smp_trust = self.lookup.smp_trust if isinstance(self.lookup, SMPResolver) else None
        identity = self.identity.certificate if self.identity is not None else None
        return watched_certificates(identity, self.trust, smp_trust)

    @cached_property
    def participants(self) -> ParticipantLookup | None:
        """The lookup behind ``GET /v1/participants``; None when no discovery is configured."""
        if self.lookup is not None:
            return self.lookup
        if self.directory is None:
            return None
        return DirectoryLookup(
            resolver=self.directory, trust=self.trust, clock=self.clock, revocation=self.revocation
        )

    @cached_property
    def webhook_dispatcher(self) -> WebhookDispatcher | None:
        """The outbox dispatcher; None when no webhook secret is configured (then no webhook can be signed,
        and the settings validator guarantees no URL is configured either).

        Backoff reuses the delivery worker's base and cap; ``settings.webhooks.max_attempts`` bounds the
        attempts. The lease outlasts two send timeouts, so a live dispatcher never loses its lease.
        """
        settings = self.settings
        hooks = settings.webhooks
        if hooks.secret is None:
            return None
        if self.webhook_sender is None:
            created = HTTPWebhookSender(timeout=hooks.timeout_seconds)
            self.adopt(created)
            self.webhook_sender = created
        worker = settings.worker
        return WebhookDispatcher(
            store=self.store,
            sender=self.webhook_sender,
            clock=self.clock,
            ids=self.ids,
            secrets=hooks.secret.get_secret_value().encode("utf-8"),
            retry=self.backoff(max_attempts=hooks.max_attempts),
            jitter=self.jitter,
            batch_size=worker.batch_size,
            lease_for=timedelta(seconds=2 * hooks.timeout_seconds + 30),
            # The outbox keeps only the target reference; the URL (it may carry a token) stays here.
            targets={DEFAULT_WEBHOOK_TARGET: hooks.url} if hooks.url else {},
        )

    def adopt(self, client: HTTPAS4Transport | HTTPWebhookSender) -> None:
        """Close this HTTP client, made for these services, in :meth:`aclose`."""
        self._owned.append(client)

    async def aclose(self) -> None:
        """Close the HTTP clients made here (call it in the event loop that used them)."""
        while self._owned:
            await self._owned.pop().aclose()

    def close(self) -> None:
        self.store.close()


def build_services(settings: Settings, process: Process = "command") -> Services:
    """Build the process-wide services from settings; the store's pool is sized for ``process``.

    Raises:
        ConfigurationError: a key, trust store, directory or database setting is unusable.
    """
    identity = load_identity(settings)
    trust = load_trust(settings)
    check_stage(settings, identity, trust)
    revocation = build_revocation(settings)
    clock = SystemClock()
    directory: EndpointResolver | None = None
    lookup: ParticipantLookup | None = None
    if settings.discovery.mode == "sml":
        lookup = build_smp_resolver(settings, trust, revocation, clock)
        directory = lookup
    elif settings.directory.path:
        from gateway.transport.directory import load_directory  # only a sending gateway needs it

        directory = load_directory(settings.directory.path)
    smp_trust = lookup.smp_trust if isinstance(lookup, SMPResolver) else None
    check_certificates(settings, identity, trust, at=clock.now(), smp_trust=smp_trust)
    return Services(
        settings=settings,
        validation=build_validation_engine(settings),
        store=build_store(settings, process),
        identity=identity,
        trust=trust,
        clock=clock,
        directory=directory,
        lookup=lookup,
        served=parse_served(settings),
        revocation=revocation,
    )

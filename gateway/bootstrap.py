"""Composition root: turn Settings into ready services and use cases. Only entry points call it and read
Settings; every use case (submit, receive, deliver, dispatch webhooks) is wired here, once per process, and
the entry points (API routes, workers, CLI) only take them from :class:`Services`."""

from __future__ import annotations

import logging
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.x509.oid import NameOID

from gateway.config import Settings
from gateway.crypto import (
    DEV_PKCS12_PASSWORD,
    CRLRevocationChecker,
    KeyMaterial,
    RevocationChecker,
    TrustStore,
    common_name,
    load_certificates,
    load_key_material,
    validate_ap_certificate,
)
from gateway.crypto.devpki import DEV_ORGANIZATION
from gateway.crypto.lifecycle import ExpiryState, WatchedCertificate, expiries, watched_certificates
from gateway.crypto.ocsp import CRLThenOCSP, OCSPRevocationChecker
from gateway.errors import CertificateRejected, ConfigurationError, GatewayError, KeyMaterialError
from gateway.model import ParticipantID
from gateway.model.responses import spid_of_seat
from gateway.render import OutputFormat, RenderOptions, render_document
from gateway.services.backoff import BackoffPolicy
from gateway.services.deliver import Deliverer, DeliverySettings
from gateway.services.email_fallback import EmailChannel
from gateway.services.expense_effects import ExpensePolicy
from gateway.services.expenses import ExpenseWorkflow
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
from gateway.services.smp_resolver import LookupResult, SMPResolver
from gateway.services.webhooks import DEFAULT_WEBHOOK_TARGET, WebhookDispatcher
from gateway.smp import DiscoveryPolicy, LookupCache, SMPSignaturePolicy, smp_trust_for_stage
from gateway.store import SQLDocumentStore, upgrade_database
from gateway.store.people import SQLPeopleStore
from gateway.transport import HTTPArtefactFetcher
from gateway.transport.crl_http import HTTPCRLFetcher
from gateway.transport.dns import DNSNaptrLookup
from gateway.transport.http import HTTPAS4Transport
from gateway.transport.ocsp_http import HTTPOCSPPoster
from gateway.transport.smp_http import HTTPSMPFetcher
from gateway.transport.smtp import SMTPMailer, SMTPSettings
from gateway.transport.webhook_http import HTTPWebhookSender
from gateway.validation import ArtefactStore, ValidationEngine, rule_set_for

log = logging.getLogger("gateway.bootstrap")


class SystemClock:
    """The real clock, always timezone-aware UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class UUIDFactory:
    """Random UUID4 identifiers as strings."""

    def new_id(self) -> str:
        return str(uuid.uuid4())


def build_artefact_store(settings: Settings) -> ArtefactStore:
    """The artefact store: mirror directory, then cache, then (if enabled) upstream download."""
    fetch = HTTPArtefactFetcher() if settings.artefacts.download else None
    return ArtefactStore.from_paths(
        mirror=settings.artefacts.mirror,
        cache_dir=settings.artefacts.cache_dir,
        fetch=fetch,
        manifest_path=settings.artefacts.manifest,
    )


def build_validation_engine(
    settings: Settings, *, store: ArtefactStore | None = None, rule_set: str | None = None
) -> ValidationEngine:
    """A validation engine; stylesheets compile on first use or on ``warm_up()``.

    Args:
        settings: the artefact and validation settings.
        store: the artefact store, when the caller already built one (default: a new one).
        rule_set: the default rule set (default: ``settings.validation.rule_set``).
    """
    return ValidationEngine(
        store or build_artefact_store(settings),
        default_rule_set=rule_set or settings.validation.rule_set,
        max_bytes=settings.validation.max_document_bytes,
    )


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"cannot read the {what} {path}: {exc.strerror}") from exc


def load_identity(settings: Settings) -> KeyMaterial | None:
    """Our AP key and certificate, or None when no keystore is configured (AS4 disabled)."""
    keystore = settings.keystore
    if keystore.path is None:
        return None
    password = keystore.password.get_secret_value() if keystore.password else None
    certificate = _read(keystore.cert_path, "certificate") if keystore.cert_path else None
    try:
        return load_key_material(_read(keystore.path, "keystore"), password=password, certificate=certificate)
    except GatewayError as exc:
        raise ConfigurationError(f"keystore {keystore.path}: {exc}") from exc


def load_trust(settings: Settings) -> TrustStore | None:
    """The AP trust anchors of the configured stage, or None when none are configured."""
    paths = settings.truststore.paths
    if not paths:
        return None
    trust = TrustStore.from_pem(*(_read(p, "trust store") for p in paths))
    if settings.truststore.stage == "development":
        return trust
    # The Peppol G3 files also hold the SMP CA: only the AP CA may issue an AP certificate (§10.2 item 2).
    pinned = trust.pinned_to_access_point_cas()
    if not pinned.leaf_issuers:
        raise ConfigurationError("the trust store holds no PEPPOL ACCESS POINT CA certificate")
    return pinned


#: Participant ids that only appear as examples: the seller of the recommended Belgian golden set
#: (bis-billing.md §5), which is also the default of GATEWAY_SELLER_ID.
PLACEHOLDER_SELLER_IDS: Final = frozenset({"0208:0739484052"})
#: Domains reserved for examples and tests (RFC 2606, RFC 6761): never a real eb:MessageId domain.
RESERVED_DOMAINS: Final = (
    "example",
    "test",
    "invalid",
    "localhost",
    "example.com",
    "example.net",
    "example.org",
)


def _is_reserved_domain(domain: str) -> bool:
    name = domain.lower().rstrip(".")
    return any(name == d or name.endswith("." + d) for d in RESERVED_DOMAINS)


def _is_development(certificate: x509.Certificate) -> bool:
    names = (certificate.subject, certificate.issuer)
    return any(
        str(attribute.value).startswith(DEV_ORGANIZATION)
        for name in names
        for attribute in name.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    )


def check_stage(settings: Settings, identity: KeyMaterial | None, trust: TrustStore | None) -> None:
    """Refuse to start a production gateway with development or placeholder material.

    The stage is ``GATEWAY_TRUSTSTORE__STAGE`` (default ``production``); the ``test`` and ``development``
    stages are not checked.

    Raises:
        ConfigurationError: naming every problem found.
    """
    if settings.truststore.stage != "production":
        return
    problems: list[str] = []
    password = settings.keystore.password
    if password is not None and password.get_secret_value() == DEV_PKCS12_PASSWORD:
        problems.append("the keystore password is the development PKI's")
    if identity is not None and _is_development(identity.certificate):
        problems.append(f"the AP certificate {common_name(identity.certificate)!r} is a development one")
    for ca in (*trust.anchors, *trust.intermediates) if trust is not None else ():
        name = common_name(ca) or ca.subject.rfc4514_string()
        if _is_development(ca):
            problems.append(f"the trust anchor {name!r} is a development CA")
        elif "TEST" in name.upper():
            problems.append(f"the trust anchor {name!r} is a Peppol TEST CA")
    if _is_reserved_domain(settings.as4.message_id_domain):
        problems.append(f"GATEWAY_AS4__MESSAGE_ID_DOMAIN {settings.as4.message_id_domain!r} is a placeholder")
    if settings.seller_id in PLACEHOLDER_SELLER_IDS:
        problems.append(f"GATEWAY_SELLER_ID {settings.seller_id!r} is the documentation's example")
    if problems:
        raise ConfigurationError(
            "the production stage (GATEWAY_TRUSTSTORE__STAGE) refuses: "
            + "; ".join(problems)
            + " (set GATEWAY_TRUSTSTORE__STAGE=development or test for a non-production gateway)"
        )


def check_certificates(
    settings: Settings,
    identity: KeyMaterial | None,
    trust: TrustStore | None,
    *,
    at: datetime,
    smp_trust: TrustStore | None = None,
) -> None:
    """Refuse to start with an expired certificate, or an AP certificate of another stage.

    Every stage refuses an expired AP certificate or trust anchor (nothing could be exchanged). In the
    test and production stages our AP certificate must also be a valid AP certificate under our own trust
    store, i.e. issued by the AP CA of the stage (peppol-as4.md §10.1: TEST and PRODUCTION are separate
    hierarchies; a test certificate on a production gateway, or the reverse, is refused by every peer).

    Raises:
        ConfigurationError: naming every problem found.
    """
    problems = [
        f"the {e.role.value} certificate {e.name!r} expired on {e.not_after:%Y-%m-%d}"
        for e in expiries(
            watched_certificates(identity.certificate if identity else None, trust, smp_trust), at
        )
        if e.state is ExpiryState.EXPIRED
    ]
    stage = settings.truststore.stage
    if not problems and stage != "development" and identity is not None and trust is not None:
        try:
            validate_ap_certificate(identity.certificate, trust, at=at)
        except CertificateRejected as exc:
            problems.append(
                f"our AP certificate {common_name(identity.certificate)!r} is not an AP certificate of the"
                f" {stage} stage's trust store ({getattr(exc.reason, 'value', exc.reason)}: {exc})"
            )
    if problems:
        raise ConfigurationError("certificates refused at start-up: " + "; ".join(problems))


def build_revocation(settings: Settings) -> RevocationChecker | None:
    """The AP certificates' revocation checker (CRL, OCSP, or CRL then OCSP); None when off (the default)."""
    truststore = settings.truststore
    mode = truststore.revocation
    if mode == "off":
        return None
    crl = CRLRevocationChecker(
        HTTPCRLFetcher(),
        soft_fail=mode == "crl-soft",
        allowed_url_prefixes=tuple(truststore.crl_url_prefixes),
    )
    if mode in ("crl", "crl-soft"):
        return crl
    ocsp = OCSPRevocationChecker(
        HTTPOCSPPoster(),
        soft_fail_unknown=truststore.ocsp_unknown_soft_fail,
        allowed_url_prefixes=tuple(truststore.ocsp_url_prefixes),
    )
    return ocsp if mode == "ocsp" else CRLThenOCSP(crl, ocsp)


def build_smp_resolver(
    settings: Settings, trust: TrustStore | None, revocation: RevocationChecker | None, clock: Clock
) -> SMPResolver:
    """The ``sml`` discovery mode: SML (or a fixed SMP) + signed SMP metadata (peppol-as4.md §9).

    Raises:
        ConfigurationError: no AP trust store, no SMP CA in the SMP trust files, or an unusable source.
    """
    discovery = settings.discovery
    stage = settings.truststore.stage
    if trust is None:
        raise ConfigurationError("discovery mode 'sml' needs the AP trust store (GATEWAY_TRUSTSTORE__PATHS)")
    paths = discovery.smp_trust_paths or settings.truststore.paths
    try:
        certificates = [c for p in paths for c in load_certificates(_read(p, "SMP trust store"))]
        smp_trust = smp_trust_for_stage(certificates, stage)
    except (ValueError, KeyMaterialError) as exc:
        raise ConfigurationError(f"SMP trust (GATEWAY_DISCOVERY__SMP_TRUST_PATHS): {exc}") from exc
    policy = DiscoveryPolicy(
        stage=stage,
        smp_signature=SMPSignaturePolicy(smp_trust, allow_sha1=discovery.allow_sha1, revocation=revocation),
        ap_trust=trust,
        revocation=revocation,
    )
    cache: LookupCache[tuple[str, str, str, str], LookupResult] = LookupCache(
        ttl=timedelta(seconds=discovery.cache_ttl_seconds),
        negative_ttl=timedelta(seconds=discovery.negative_cache_ttl_seconds),
    )
    fetcher = HTTPSMPFetcher(timeout=discovery.smp_timeout_seconds, ca_bundle=discovery.smp_ca_bundle)
    naptr = None
    if discovery.sml_zone is not None:
        try:
            naptr = DNSNaptrLookup(nameservers=discovery.dns_servers, timeout=discovery.dns_timeout_seconds)
        except (ValueError, GatewayError) as exc:
            raise ConfigurationError(f"GATEWAY_DISCOVERY__DNS_SERVERS: {exc}") from exc
    return SMPResolver(
        fetcher=fetcher,
        policy=policy,
        clock=clock,
        naptr=naptr,
        sml_zone=discovery.sml_zone,
        smp_url=discovery.smp_url,
        cache=cache,
    )


def parse_served(settings: Settings) -> frozenset[ParticipantID]:
    """The participants our /as4 endpoint receives for."""
    try:
        return frozenset(ParticipantID.parse(p) for p in settings.as4.served)
    except GatewayError as exc:
        raise ConfigurationError(f"GATEWAY_AS4__SERVED: {exc}") from exc


def _system_jitter() -> RandomSource:
    return random.SystemRandom().random


def render_pdf(ubl: bytes, language: str) -> bytes:
    """The ``PDFRenderer`` of the e-mail fallback: the same rendering as ``GET …/render?format=pdf``."""
    return render_document(ubl, OutputFormat.PDF, RenderOptions(language=language))


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
    jitter: RandomSource = field(default_factory=_system_jitter)
    # Overrides the Invoice Response port of the expense workflow (tests); default: ``invoice_responder``.
    responder: InvoiceResponder | None = None
    _owned: list[HTTPAS4Transport | HTTPWebhookSender] = field(default_factory=list, repr=False)

    def rule_set_today(self) -> str:
        """The configured rule set, or the one in force today (switches by itself on a release date)."""
        manifest = self.validation.store.manifest  # the configured manifest (GATEWAY_ARTEFACTS__MANIFEST)
        return self.settings.validation.rule_set or rule_set_for(self.clock.now().date(), manifest)

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
            # MLS are addressed to our SPID (0242:…): receive for it too when MLS is on.
            served=self.served | ({self.our_spid} if self.our_spid is not None else set()),
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
            on_valid=self.expenses.create_from_inbound,
            our_country=as4.country_c1,
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
        """The delivery use case, over the HTTP AS4 transport unless one was injected.

        Raises:
            ConfigurationError: no AP key, no trust store or no participant directory is configured.
        """
        missing = [
            name
            for name, value in (
                ("keystore (GATEWAY_KEYSTORE__PATH)", self.identity),
                ("trust store (GATEWAY_TRUSTSTORE__PATHS)", self.trust),
                (
                    "participant directory (GATEWAY_DIRECTORY__PATH) or GATEWAY_DISCOVERY__MODE=sml",
                    self.directory,
                ),
            )
            if value is None
        ]
        if missing:
            raise ConfigurationError("the delivery worker needs a " + ", a ".join(missing))
        assert self.identity is not None
        assert self.trust is not None
        assert self.directory is not None
        settings = self.settings
        worker = settings.worker
        if self.as4_transport is None:
            created = HTTPAS4Transport(
                connect_timeout=worker.connect_timeout_seconds, send_timeout=worker.send_timeout_seconds
            )
            self._owned.append(created)
            self.as4_transport = created
        return Deliverer(
            store=self.store,
            resolver=self.directory,
            transport=self.as4_transport,
            identity=self.identity,
            trust=self.trust,
            clock=self.clock,
            ids=self.ids,
            retry=self.backoff(max_attempts=worker.max_attempts),
            jitter=self.jitter,
            settings=DeliverySettings(
                message_id_domain=settings.as4.message_id_domain,
                lease_for=self.lease_for,
                country_c1=settings.as4.country_c1,
                webhook_url=settings.webhooks.url,
                mls_to=self.our_spid,
                mls_type=settings.responses.mls_type if self.our_spid is not None else None,
            ),
            revocation=self.revocation,
            on_receipt=self.received_answers.after_receipt,
            email=self.email_channel,
        )

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
        return EmailChannel(SMTPMailer(smtp), mail.sender, render_pdf)

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
            self._owned.append(created)
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

    async def aclose(self) -> None:
        """Close the HTTP clients made here (call it in the event loop that used them)."""
        while self._owned:
            await self._owned.pop().aclose()

    def close(self) -> None:
        self.store.close()


def build_store(settings: Settings) -> DocumentStore:
    """Migrate the database to the newest schema and open the store."""
    upgrade_database(settings.database.url)
    return SQLDocumentStore.from_url(settings.database.url)


def build_services(settings: Settings) -> Services:
    """Build the process-wide services from settings.

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
        store=build_store(settings),
        identity=identity,
        trust=trust,
        clock=clock,
        directory=directory,
        lookup=lookup,
        served=parse_served(settings),
        revocation=revocation,
    )

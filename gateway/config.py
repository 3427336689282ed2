"""Settings of the gateway, read from the environment (prefix ``GATEWAY_``, nested with ``__``).

Only entry points (CLI, API factory, worker) build :class:`Settings`; everything below receives plain
values or frozen policy objects. Secrets are ``SecretStr`` and never logged. Validators refuse unsafe
combinations at start-up rather than at the first request.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Final, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from gateway.errors import InvalidExpenseRequest
from gateway.model.identifiers import ParticipantID
from gateway.model.responses import ResponseCode
from gateway.model.units import unit_key
from gateway.observability import MIN_SECRET_LENGTH
from gateway.smp.sml import SMLZone, zone_by_name

PROJECT_ROOT = Path(__file__).resolve().parents[1]

#: Seconds a delivery lease must outlast the heartbeat's renewal interval: a beat that renews the leases
#: of the deliveries in flight may first wait the SQLite busy timeout (30 s,
#: ``gateway.store.DEFAULT_BUSY_TIMEOUT``) for the write lock, or a PostgreSQL pool checkout; the lease
#: must still run when that renewal lands, or a second worker could resend meanwhile. The send timeouts
#: do not matter: the heartbeat renews the leases while a send is in flight.
LEASE_MARGIN_SECONDS: Final = 40.0
#: SML zones of test networks (peppol-as4.md §9.1): refused by a production gateway.
_TEST_SML_ZONES: Final = frozenset({SMLZone.TEST.value, "acc.edelivery.tech.ec.europa.eu."})


def _default_mirror() -> Path | None:
    # In a checkout the official artefacts sit beside the project (../shared/artefacts), as in CI.
    candidate = PROJECT_ROOT.parent / "shared" / "artefacts"
    return candidate if candidate.is_dir() else None


class Role(StrEnum):
    """API roles. ``sender`` is the invoicing system; ``support`` reads and retries, triages and reassigns
    expenses; ``member`` sees and acts only on the expenses of its production units; ``admin`` does all."""

    SENDER = "sender"
    SUPPORT = "support"
    MEMBER = "member"
    ADMIN = "admin"


_SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}")


class APIKey(BaseModel):
    """One API client. Either the key itself (``key``, for development) or its SHA-256 (``sha256``)."""

    name: str = Field(min_length=1, max_length=128)  # scopes its Idempotency-Keys (stored, migration 0011)
    role: Role
    key: SecretStr | None = None
    sha256: str | None = None
    units: list[str] = Field(default_factory=list)  # production unit codes a member may act on

    @model_validator(mode="after")
    def _one_form(self) -> APIKey:
        if (self.key is None) == (self.sha256 is None):
            raise ValueError(f"API key {self.name!r}: give exactly one of 'key' or 'sha256'")
        if self.key is not None and len(self.key.get_secret_value()) < 24:
            raise ValueError(f"API key {self.name!r} is shorter than 24 characters")
        if self.sha256 is not None and _SHA256_HEX.fullmatch(self.sha256) is None:
            # Never echo the value: a key pasted here by mistake must not reach the console or logs.
            raise ValueError(
                f"API key {self.name!r}: 'sha256' must be 64 hex digits (the SHA-256 of the key)"
            )
        for code in self.units:
            try:
                unit_key(code)
            except InvalidExpenseRequest as exc:
                raise ValueError(f"API key {self.name!r}: {exc}") from exc
        return self

    @property
    def digest(self) -> str:
        if self.sha256 is not None:
            return self.sha256.lower()
        assert self.key is not None
        return hashlib.sha256(self.key.get_secret_value().encode()).hexdigest()


class ArtefactSettings(BaseModel):
    """Where the official validation artefacts come from (schemas/ubl/manifest.json pins them)."""

    manifest: Path | None = None  # default: schemas/ubl/manifest.json of the checkout
    mirror: Path | None = Field(default_factory=_default_mirror)
    cache_dir: Path = Path.home() / ".cache" / "peppol-gateway" / "artefacts"
    download: bool = False  # fetch missing files from upstream (checksum-verified)


class ValidationSettings(BaseModel):
    rule_set: str | None = None  # None: the rule set in force on the day
    max_document_bytes: int = 20 * 1024 * 1024
    # fused: the official CEN/Peppol XSLTs of billing rule sets run as one generated single-pass
    # stylesheet (same findings, about a third of the time); official: as published.
    evaluation: Literal["fused", "official"] = "fused"
    # Saxon's (GraalVM) heap, set when the process makes its first Saxon processor (README, Memory):
    # the young generation's cap in MiB (0: SaxonC's defaults, a young generation that grows past
    # 100 MiB before collecting) and the free heap kept mapped after a collection.
    saxon_young_generation_mib: int = Field(default=16, ge=0, le=4096)
    saxon_max_free_heap_mib: int = Field(default=16, ge=0, le=4096)
    # Documents from this size up hand the C heap's free pages (their dropped lxml tree) back to the
    # system before Saxon parses them (glibc malloc_trim; Saxon's heap cannot reuse them). 0: never.
    malloc_trim_above_bytes: int = Field(default=1024 * 1024, ge=0)


class KeystoreSettings(BaseModel):
    """The access point's own key and certificate: a PKCS#12 file, or PEM key + PEM certificate."""

    path: Path | None = None
    password: SecretStr | None = None
    cert_path: Path | None = None  # only with a PEM key

    @field_validator("password")
    @classmethod
    def _redactable_password(cls, value: SecretStr | None) -> SecretStr | None:
        # Logs redact every configured secret by value; a 1-2 character one cannot be told from ordinary
        # text (gateway.observability.MIN_SECRET_LENGTH), so it is refused rather than left unredacted.
        if value is not None and 0 < len(value.get_secret_value()) < MIN_SECRET_LENGTH:
            raise ValueError(f"keystore.password must be at least {MIN_SECRET_LENGTH} characters")
        return value


class TruststoreSettings(BaseModel):
    """PEM files anchoring AP certificate paths (Peppol G3 TEST or PRODUCTION, or a development CA)."""

    paths: list[Path] = Field(default_factory=list)
    # Production unless said otherwise: the production checks (gateway.bootstrap.check_stage) apply to
    # every gateway that does not declare itself a development or test one.
    stage: Literal["test", "production", "development"] = "production"
    # Revocation of AP certificates: "crl" fails hard when a CRL cannot be had, "crl-soft" lets the
    # certificate pass then; "ocsp" asks the OCSP responder; "crl+ocsp" asks OCSP when no CRL can be had
    # (peppol-as4.md §10.2: CRL before OCSP, hard fail). Off by default so an offline gateway works.
    revocation: Literal["off", "crl", "crl-soft", "ocsp", "crl+ocsp"] = "off"
    crl_url_prefixes: list[str] = Field(default_factory=lambda: ["http://crl.one.nl.digicert.com/"])
    ocsp_url_prefixes: list[str] = Field(default_factory=lambda: ["http://ocsp.one.nl.digicert.com"])
    # An OCSP "unknown" counts as good only with this explicit opt-in (phase4 4.5.0); default: rejected.
    ocsp_unknown_soft_fail: bool = False


class DatabaseSettings(BaseModel):
    url: str = "sqlite:///var/gateway.db"


class AS4Settings(BaseModel):
    """Our side of the AS4 exchange."""

    served: list[str] = Field(default_factory=list)  # participant ids we receive for, e.g. "0208:0739484052"
    max_message_bytes: int = 100 * 1024 * 1024
    max_payload_bytes: int = 100 * 1024 * 1024
    country_c1: Annotated[str, Field(pattern="^[A-Z0-9]{2}$")] = "BE"
    message_id_domain: str = "gateway.coop.example"
    public_url: str | None = None
    # Edge limits (issue 13): bodies read at once (each up to max_message_bytes; 503 + Retry-After above),
    # and what a request rejected before its signer is authenticated may cost in storage.
    max_concurrent_requests: int = Field(default=2, ge=1)
    rejected_evidence_prefix_bytes: int = Field(default=256, ge=0, le=256 * 1024)
    rejected_evidence_header_bytes: int = Field(default=384, ge=0, le=64 * 1024)
    rejected_evidence_retention_days: float = Field(default=30.0, gt=0)
    # Received documents whose verdict could not be recorded after their receipt (store down through the
    # tries) are validated by a sweep of `gateway serve` every interval, once older than the age: the age
    # keeps the sweep clear of the work after a fresh receipt (README, Receiving).
    pending_sweep_interval_seconds: float = Field(default=60.0, gt=0)
    pending_sweep_age_seconds: float = Field(default=300.0, ge=0)


class DirectorySettings(BaseModel):
    """The local participant directory (JSON file); SML/SMP lookup comes later behind the same port."""

    path: Path | None = None


class DiscoverySettings(BaseModel):
    """How the worker and ``GET /v1/participants`` find receivers (peppol-as4.md §9).

    ``directory`` reads the local participant directory (``GATEWAY_DIRECTORY__PATH``, the embedded default);
    ``sml`` asks the SML (DNS, ``sml_zone``) or one configured SMP (``smp_url``) and reads signed SMP
    metadata. The SMP signature trust comes from ``smp_trust_paths`` (default: the trust store files, which
    for Peppol G3 hold the SMP CA too).
    """

    mode: Literal["directory", "sml"] = "directory"
    sml_zone: str | None = None  # "production", "test" or a zone name
    smp_url: str | None = None  # a fixed SMP instead of the SML
    dns_servers: list[str] = Field(default_factory=list)  # "addr" or "addr:port"; empty = the system's
    smp_ca_bundle: Path | None = None  # CA bundle for SMP HTTPS; None = the system's
    smp_trust_paths: list[Path] = Field(default_factory=list)  # SMP CA + root (PEM); empty = truststore.paths
    allow_sha1: bool = False  # rsa-sha1 SMP signatures (old SMPs); every use is logged
    cache_ttl_seconds: float = Field(default=900.0, ge=0)
    negative_cache_ttl_seconds: float = Field(default=120.0, ge=0)
    dns_timeout_seconds: float = Field(default=5.0, gt=0)
    smp_timeout_seconds: float = Field(default=10.0, gt=0)

    @model_validator(mode="after")
    def _one_source(self) -> DiscoverySettings:
        if self.mode == "sml" and (self.sml_zone is None) == (self.smp_url is None):
            raise ValueError(
                "discovery mode 'sml' needs exactly one of discovery.sml_zone or discovery.smp_url"
            )
        if self.negative_cache_ttl_seconds > self.cache_ttl_seconds:
            raise ValueError(
                "discovery.negative_cache_ttl_seconds must not exceed discovery.cache_ttl_seconds"
            )
        return self


class WorkerSettings(BaseModel):
    batch_size: int = Field(default=10, ge=1, le=500)  # most jobs leased by one query
    max_in_flight: int = Field(default=20, ge=1, le=500)  # deliveries in flight per worker process
    per_endpoint: int = Field(default=4, ge=1, le=500)  # sends in flight to one endpoint URL per process
    breaker_failures: int = Field(default=5, ge=1)  # consecutive transport failures that open a circuit
    breaker_open_seconds: float = Field(default=30.0, gt=0)  # first open period, doubled per failed probe
    breaker_max_open_seconds: float = Field(default=600.0, gt=0)
    # The longest a document posted to an idle worker waits for it (and a due webhook); an idle poll is one
    # short lease query (it writes nothing), so 4 per second cost next to nothing (issue 12: was 1 s).
    poll_interval_seconds: float = Field(default=0.25, gt=0)
    lease_seconds: float = Field(default=50.0, gt=0)
    lease_renew_seconds: float = Field(default=10.0, gt=0)
    max_attempts: int = Field(default=12, ge=1)
    backoff_base_seconds: float = Field(default=30.0, gt=0)
    backoff_cap_seconds: float = Field(default=3600.0, gt=0)
    connect_timeout_seconds: float = Field(default=10.0, gt=0)
    send_timeout_seconds: float = Field(default=120.0, gt=0)  # a Peppol receiver must answer within 2 minutes
    # glibc's mmap threshold of the worker process, fixed as server.malloc_mmap_threshold_bytes (0: glibc's
    # dynamic threshold): a worker that sent a 20 MB document would otherwise keep its buffers.
    malloc_mmap_threshold_bytes: int = Field(default=128 * 1024, ge=0, le=32 * 1024 * 1024)

    @model_validator(mode="after")
    def _lease_outlasts_a_renewal(self) -> WorkerSettings:
        if self.lease_seconds < self.lease_renew_seconds + LEASE_MARGIN_SECONDS:
            raise ValueError(
                f"worker.lease_seconds ({self.lease_seconds:g}) must exceed worker.lease_renew_seconds "
                f"({self.lease_renew_seconds:g}) by at least {LEASE_MARGIN_SECONDS:g} s"
            )
        if self.breaker_max_open_seconds < self.breaker_open_seconds:
            raise ValueError(
                "worker.breaker_max_open_seconds must not be less than worker.breaker_open_seconds"
            )
        return self


class WebhookSettings(BaseModel):
    url: str | None = None
    secret: SecretStr | None = None
    timeout_seconds: float = Field(default=10.0, gt=0)
    max_attempts: int = Field(default=10, ge=1)

    @model_validator(mode="after")
    def _secret_with_url(self) -> WebhookSettings:
        # Unsigned webhooks could be forged by anyone who can reach the receiver: refuse them.
        if self.url and (self.secret is None or len(self.secret.get_secret_value()) < 16):
            raise ValueError("webhooks.url needs webhooks.secret of at least 16 characters")
        if self.url and not _https_or_loopback(self.url):
            # The URL may carry a token and the payload business data: only TLS leaves the host. The
            # message never repeats the URL.
            raise ValueError("webhooks.url must be an https:// URL (plain http only to a loopback host)")
        return self


def _https_or_loopback(url: str) -> bool:
    """True for an https URL with a host, or an http URL to localhost / a loopback address."""
    parsed = urlsplit(url)
    host = parsed.hostname
    if not host:
        return False
    if parsed.scheme == "https":
        return True
    if parsed.scheme != "http":
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class MailSettings(BaseModel):
    """The e-mail fallback's SMTP relay (``GATEWAY_MAIL__…``); no host: no fallback, as before."""

    host: str | None = None
    port: int = Field(default=587, ge=1, le=65535)
    starttls: bool = True
    username: str | None = None
    password: SecretStr | None = None
    model_config = ConfigDict(populate_by_name=True)

    sender: str = Field(default="invoices@coop.example", alias="from")
    timeout_seconds: float = Field(default=30.0, gt=0)

    @model_validator(mode="after")
    def _login_over_tls(self) -> MailSettings:
        # The password must never cross the network in clear (RFC 4954 §4: AUTH PLAIN over TLS only).
        if self.username and not self.starttls and self.host not in (None, "localhost", "127.0.0.1", "::1"):
            raise ValueError("mail.username needs mail.starttls=true (or a loopback relay)")
        if self.username and self.password is None:
            raise ValueError("mail.username needs mail.password")
        return self


class RetentionSettings(BaseModel):
    """Retention of the working tables (purged by ``gateway worker``) and of the evidence (never purged)."""

    idempotency_days: float = Field(default=30.0, gt=0)
    delivered_webhook_days: float = Field(default=7.0, gt=0)
    batch_size: int = Field(default=500, ge=1, le=10000)
    interval_seconds: float = Field(default=600.0, gt=0)
    # Belgian VAT code art. 60 §3 (invoices from 2023): 10 years. Lower values are refused.
    evidence_years: int = Field(default=10, ge=10)


class ServerSettings(BaseModel):
    """Connection limits and read deadlines of ``gateway serve``, sized for a 2-core, 2 GB container.

    ``max_connections`` open connections at most: a new one evicts the oldest connection still sending
    its request head (or is closed when none is). Request heads must arrive within ``header_timeout_seconds``,
    bodies without a pause longer than ``body_idle_timeout_seconds`` and within ``body_timeout_seconds``.
    """

    max_connections: int = Field(default=512, ge=1)
    limit_concurrency: int = Field(default=1024, ge=1)  # uvicorn: connections + tasks before it answers 503
    backlog: int = Field(default=256, ge=1)
    timeout_keep_alive_seconds: int = Field(default=5, ge=1)
    max_header_bytes: int = Field(default=16 * 1024, ge=1024)  # h11_max_incomplete_event_size
    header_timeout_seconds: float = Field(default=10.0, gt=0)
    body_idle_timeout_seconds: float = Field(default=15.0, gt=0)
    body_timeout_seconds: float = Field(default=120.0, gt=0)
    # Request-body bytes buffered at once over /v1 and /as4 (503 + Retry-After beyond): one maximal AS4
    # message and room for the rest; with the join and the parse this keeps a 2 GB container safe.
    max_buffered_body_bytes: int = Field(default=192 * 1024 * 1024, ge=1024 * 1024)
    # Seconds a request waits for a body slot (api.max_concurrent_bodies, as4.max_concurrent_requests)
    # before 503 + Retry-After: bursts queue briefly instead of failing; the waiting body stays unread.
    body_slot_wait_seconds: float = Field(default=10.0, ge=0)
    # The one Retry-After of every 503 (/v1 and /as4: store unavailable, body slots or bytes taken, AS4
    # receiving not configured): each is a temporary state that clears in seconds (a lock wait, a restart,
    # a burst), and a longer hint only delays the retry. AS4 senders retry on their own P-Mode schedule.
    retry_after_seconds: int = Field(default=5, ge=1)
    # /metrics, /docs, /redoc and /openapi.json need an API key (any role) unless opened here.
    open_operations: bool = False
    # Rejected-request evidence older than as4.rejected_evidence_retention_days is purged on this timer.
    purge_interval_seconds: float = Field(default=600.0, gt=0)
    # glibc malloc arenas of the serve process (mallopt M_ARENA_MAX, set before its threads start): each
    # thread pool thread would otherwise get an arena of its own, each keeping freed memory. 0: glibc's
    # default (8 per core).
    malloc_arenas: int = Field(default=2, ge=0, le=64)
    # glibc's mmap threshold, fixed (mallopt M_MMAP_THRESHOLD): blocks from this size up are mmapped and
    # returned to the system when freed, also after a multi-MB document (glibc's dynamic threshold would
    # rise to that document's size and keep such buffers in the arenas). 0: glibc's dynamic threshold.
    malloc_mmap_threshold_bytes: int = Field(default=128 * 1024, ge=0, le=32 * 1024 * 1024)


def _default_response_statuses() -> list[ResponseCode]:
    return [ResponseCode.ACCEPTED, ResponseCode.REJECTED, ResponseCode.UNDER_QUERY, ResponseCode.PAID]


class ResponseSettings(BaseModel):
    """Business-level answers: Invoice Responses (T111) to suppliers and Message Level Status (MLS)."""

    # Which T111 statuses the expense workflow's transitions send (AB, IP, CA are optional and off).
    invoice_response_statuses: list[ResponseCode] = Field(default_factory=_default_response_statuses)
    buyer_name: str | None = None  # T111 SenderParty name; default: the buyer name (BT-44) of the invoice
    mls: bool = True  # send MLS for what we receive and ask for MLS (SBDH MLS_TO) on what we send
    mls_type: Literal["FAILURE_ONLY", "ALWAYS_SEND"] = "ALWAYS_SEND"  # the MLS_TYPE we ask for
    # The MLS and the AB Invoice Response are queued while a document is received, before our receipt
    # reaches the sending AP: their first attempt waits this long. A courtesy to sending APs that drop an
    # answer arriving before they recorded our receipt; this gateway holds such answers and applies them
    # with the receipt (services/received_answers.py), so 0 is safe between gateways like this one.
    answer_delay_seconds: float = Field(default=2.0, ge=0, le=3600)


RoutingRuleName = Literal[
    "buyer-reference",
    "order-reference",
    "accounting-reference",
    "line-order-reference",
    "note",
    "supplier-mapping",
]
ROUTING_RULE_NAMES: Final[tuple[RoutingRuleName, ...]] = (
    "buyer-reference",
    "order-reference",
    "accounting-reference",
    "line-order-reference",
    "note",
    "supplier-mapping",
)


class ExpenseSettings(BaseModel):
    """The expense workflow of received invoices (routing to production units, approval)."""

    # The routing rules in priority order; leave one out to disable it (gateway.services.routing).
    routing_rules: list[RoutingRuleName] = Field(default_factory=lambda: list(ROUTING_RULE_NAMES))
    # How long a supplier -> unit mapping remembered at triage routes the supplier's documents.
    supplier_mapping_days: int = Field(default=365, ge=1)


class ReportingSettings(BaseModel):
    """Peppol reporting (peppol-as4.md §11): monthly TSR and EUSR to OpenPeppol."""

    enabled: bool = True  # the worker creates and sends the reports of the previous month on days 1..15
    # The reporting participant. OpenPeppol's is only ever sent to in the production stage; another one
    # (a test receiver) is sent to in any stage.
    receiver: str = "9925:be0848934496"

    @field_validator("receiver")
    @classmethod
    def _a_participant(cls, value: str) -> str:
        ParticipantID.parse(value)  # InvalidIdentifier is a ValueError: refused at start-up
        return value


class APISettings(BaseModel):
    keys: list[APIKey] = Field(default_factory=list)
    max_body_bytes: int = 25 * 1024 * 1024
    max_concurrent_bodies: int = Field(default=8, ge=1)  # /v1 bodies held at once (503 + Retry-After above)


class WebSettings(BaseModel):
    """The server-rendered pages for people (``/web``): sessions, login rate limit."""

    enabled: bool = True
    session_hours: float = Field(default=8.0, gt=0, le=24 * 30)  # a session ends this long after login
    login_max_failures: int = Field(default=5, ge=1)  # failed logins per account within the window
    login_window_seconds: float = Field(default=900.0, gt=0)  # then refused until the window moves on
    secure_cookies: bool | None = None  # None: Secure outside the development stage


class Settings(BaseSettings):
    """All settings; see README.md for the environment variables."""

    model_config = SettingsConfigDict(
        env_prefix="GATEWAY_",
        env_nested_delimiter="__",
        extra="ignore",
    )

    artefacts: ArtefactSettings = Field(default_factory=ArtefactSettings)
    validation: ValidationSettings = Field(default_factory=ValidationSettings)
    keystore: KeystoreSettings = Field(default_factory=KeystoreSettings)
    truststore: TruststoreSettings = Field(default_factory=TruststoreSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    api: APISettings = Field(default_factory=APISettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    as4: AS4Settings = Field(default_factory=AS4Settings)
    directory: DirectorySettings = Field(default_factory=DirectorySettings)
    discovery: DiscoverySettings = Field(default_factory=DiscoverySettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    webhooks: WebhookSettings = Field(default_factory=WebhookSettings)
    mail: MailSettings = Field(default_factory=MailSettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    responses: ResponseSettings = Field(default_factory=ResponseSettings)
    expenses: ExpenseSettings = Field(default_factory=ExpenseSettings)
    web: WebSettings = Field(default_factory=WebSettings)
    reporting: ReportingSettings = Field(default_factory=ReportingSettings)
    seller_id: str = "0208:0739484052"  # the cooperative's participant id: (seller, number) is unique
    log_format: Literal["json", "text"] = "text"
    log_level: Annotated[str, Field(pattern="^(DEBUG|INFO|WARNING|ERROR)$")] = "INFO"

    @field_validator("truststore")
    @classmethod
    def _no_production_with_test_anchors(cls, value: TruststoreSettings) -> TruststoreSettings:
        # A production stage trusting a TEST or development CA would accept forged senders.
        if value.stage == "production" and any("test" in p.name.lower() for p in value.paths):
            raise ValueError("truststore stage 'production' must not load TEST trust anchors")
        return value

    @model_validator(mode="after")
    def _discovery_of_the_stage(self) -> Settings:
        # peppol-as4.md §9.1-§9.2: a production AP must not find its receivers in the test SML, and SMPs are
        # read over HTTPS only (plain http is a development convenience towards loopback).
        discovery = self.discovery
        if self.truststore.stage != "production" or discovery.mode != "sml":
            return self
        zone = zone_by_name(discovery.sml_zone) if discovery.sml_zone else ""
        if zone in _TEST_SML_ZONES:
            raise ValueError("the production stage refuses the test SML zone (GATEWAY_DISCOVERY__SML_ZONE)")
        if discovery.smp_url is not None and urlsplit(discovery.smp_url).scheme != "https":
            raise ValueError("the production stage reads SMPs over https only (GATEWAY_DISCOVERY__SMP_URL)")
        return self


def secret_values(settings: Settings) -> list[str]:
    """Every secret value in the settings, so the log redactor can blank them wherever they appear."""
    values = [k.key.get_secret_value() for k in settings.api.keys if k.key is not None]
    for secret in (settings.keystore.password, settings.webhooks.secret, settings.mail.password):
        if secret is not None:
            values.append(secret.get_secret_value())
    return [v for v in values if v]

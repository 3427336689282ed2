"""The AS4 exchange: our key and the trusted certificates, our side of AS4, and how receivers are found
(the local directory, or SML/SMP)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, IPvAnyNetwork, SecretStr, field_validator, model_validator

from gateway.config.group import SettingsGroup
from gateway.model.report import END_USER_COUNTRIES
from gateway.observability import MIN_SECRET_LENGTH


class KeystoreSettings(SettingsGroup):
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


class TruststoreSettings(SettingsGroup):
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


class AS4Settings(SettingsGroup):
    """Our side of the AS4 exchange."""

    served: list[str] = Field(default_factory=list)  # participant ids we receive for, e.g. "0208:0739484052"
    max_message_bytes: int = 100 * 1024 * 1024
    max_payload_bytes: int = 100 * 1024 * 1024
    country_c1: Annotated[str, Field(pattern="^[A-Z0-9]{2}$")] = "BE"
    message_id_domain: str = "gateway.coop.example"
    public_url: str | None = None

    @field_validator("country_c1")
    @classmethod
    def _reportable_country(cls, value: str) -> str:
        # Our end users' country in every EUSR (C1 when we send, C4 when we receive): a code outside the
        # report's list (``UK``, ``ZZ``) would make each month's EUSR invalid (SCH-EUSR-30), never sent.
        if value not in END_USER_COUNTRIES:
            raise ValueError(
                f"as4.country_c1 {value!r} is no country code of the Peppol reports (ISO 3166-1)"
            )
        return value

    # Edge limits (issue 13): bodies read at once (each up to max_message_bytes; 503 + Retry-After above),
    # and what a request rejected before its signer is authenticated may cost in storage.
    max_concurrent_requests: int = Field(default=2, ge=1)
    # Received documents whose work after the receipt (validation, verdict, MLS, expense) may wait or run
    # in one process, each holding its document in memory; a document received beyond it stays pending and
    # is finished by the pending sweep below (api/routes/as4.py).
    max_after_receipt_backlog: int = Field(default=16, ge=1)
    # Where the work after a receipt runs: "serve" (after the answer, in the process that received it, as
    # above) or "worker": POST /as4 answers the receipt and queues nothing, and every `gateway worker`
    # finishes the pending received documents, oldest first, woken by its job signal (one validation per
    # document: ``InboundRepository.claim_pending``); the pending sweep below still covers them.
    after_receipt: Literal["serve", "worker"] = "serve"
    # ... and the MiB of their business documents, held in memory until their work ran: a document larger
    # than what is left of it is left pending like one beyond the count; one larger than the whole budget
    # is admitted alone, when no other waits or runs (the sweep would read it whole all the same). 64 MiB:
    # ordinary invoices (10-100 KB) never reach it, 16 at once; documents with 5-20 MiB PDF attachments,
    # base64 in the business document (a third larger: 6.7-27 MiB), wait 2 to 9 at a time instead of 16
    # (up to 16 x max_payload_bytes, 1.6 GiB, by the count alone); the same budget as the worker's
    # (worker.max_in_flight_mib).
    max_after_receipt_backlog_mib: int = Field(default=64, ge=1)
    rejected_evidence_prefix_bytes: int = Field(default=256, ge=0, le=256 * 1024)
    rejected_evidence_header_bytes: int = Field(default=384, ge=0, le=64 * 1024)
    rejected_evidence_retention_days: float = Field(default=30.0, gt=0)
    # Received documents whose verdict could not be recorded after their receipt (store down through the
    # tries), or whose work after it was not queued (beyond max_after_receipt_backlog, or beyond what is
    # left of max_after_receipt_backlog_mib: one larger than the whole budget is admitted alone, when no
    # other waits or runs), are validated by a sweep of `gateway serve` every interval, once older than
    # the age: the age keeps the sweep clear of the work after a fresh receipt (README, Receiving).
    pending_sweep_interval_seconds: float = Field(default=60.0, gt=0)
    pending_sweep_age_seconds: float = Field(default=300.0, ge=0)


class DirectorySettings(SettingsGroup):
    """The local participant directory (JSON file); SML/SMP lookup comes later behind the same port."""

    path: Path | None = None


class DiscoverySettings(SettingsGroup):
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
    #: Internal networks (CIDR) a production gateway still connects to for SMP reads and AS4 sends (an
    #: operator's own SMP or access point); every other internal address is refused at connect time.
    allowed_internal_networks: list[IPvAnyNetwork] = Field(default_factory=list)

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

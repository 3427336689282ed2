"""Composition root: turn Settings into ready services. Only entry points call it and read Settings."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from gateway.config import Settings
from gateway.crypto import CRLRevocationChecker, KeyMaterial, RevocationChecker, TrustStore, load_key_material
from gateway.errors import ConfigurationError, GatewayError
from gateway.model import ParticipantID
from gateway.services.ports import Clock, DocumentStore, IDFactory
from gateway.store import SQLDocumentStore, upgrade_database
from gateway.transport import HTTPArtefactFetcher
from gateway.transport.crl_http import HTTPCRLFetcher
from gateway.validation import ArtefactStore, ValidationEngine, rule_set_for

if TYPE_CHECKING:
    from gateway.services.ports import EndpointResolver

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


def build_validation_engine(settings: Settings) -> ValidationEngine:
    """A validation engine; stylesheets compile on first use or on ``warm_up()``."""
    return ValidationEngine(build_artefact_store(settings), default_rule_set=settings.validation.rule_set)


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


def build_revocation(settings: Settings) -> RevocationChecker | None:
    """The CRL checker of AP certificates, or None when revocation checking is off (the default)."""
    mode = settings.truststore.revocation
    if mode == "off":
        return None
    return CRLRevocationChecker(
        HTTPCRLFetcher(),
        soft_fail=mode == "crl-soft",
        allowed_url_prefixes=tuple(settings.truststore.crl_url_prefixes),
    )


def parse_served(settings: Settings) -> frozenset[ParticipantID]:
    """The participants our /as4 endpoint receives for."""
    try:
        return frozenset(ParticipantID.parse(p) for p in settings.as4.served)
    except GatewayError as exc:
        raise ConfigurationError(f"GATEWAY_AS4__SERVED: {exc}") from exc


@dataclass
class Services:
    """Everything the entry points need, built once per process."""

    settings: Settings
    validation: ValidationEngine
    store: DocumentStore
    clock: Clock = field(default_factory=SystemClock)
    ids: IDFactory = field(default_factory=UUIDFactory)
    identity: KeyMaterial | None = None
    trust: TrustStore | None = None
    directory: EndpointResolver | None = None
    served: frozenset[ParticipantID] = frozenset()
    revocation: RevocationChecker | None = None

    def rule_set_today(self) -> str:
        """The configured rule set, or the one in force today (switches by itself on a release date)."""
        manifest = self.validation.store.manifest  # the configured manifest (GATEWAY_ARTEFACTS__MANIFEST)
        return self.settings.validation.rule_set or rule_set_for(self.clock.now().date(), manifest)

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
    directory = None
    if settings.directory.path:
        from gateway.transport.directory import load_directory  # only a sending gateway needs it

        directory = load_directory(settings.directory.path)
    return Services(
        settings=settings,
        validation=build_validation_engine(settings),
        store=build_store(settings),
        identity=identity,
        trust=load_trust(settings),
        directory=directory,
        served=parse_served(settings),
        revocation=build_revocation(settings),
    )

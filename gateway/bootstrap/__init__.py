"""Composition root: turn Settings into ready services and use cases. Only entry points call it and read
Settings; every use case (submit, receive, deliver, dispatch webhooks) is wired here, once per process, and
the entry points (API routes, workers, CLI) only take them from :class:`Services`."""

from gateway.bootstrap.adapters import (
    Process,
    SystemClock,
    UUIDFactory,
    build_artefact_store,
    build_store,
    build_validation_engine,
    max_overflow,
    pool_size,
    render_pdf,
)
from gateway.bootstrap.discovery import build_smp_resolver
from gateway.bootstrap.loading import build_revocation, load_identity, load_trust, parse_served
from gateway.bootstrap.services import Services, build_services
from gateway.bootstrap.stage import (
    PLACEHOLDER_SELLER_IDS,
    RESERVED_DOMAINS,
    check_certificates,
    check_stage,
    stage_warnings,
)

__all__ = [
    "PLACEHOLDER_SELLER_IDS",
    "RESERVED_DOMAINS",
    "Process",
    "Services",
    "SystemClock",
    "UUIDFactory",
    "build_artefact_store",
    "build_revocation",
    "build_services",
    "build_smp_resolver",
    "build_store",
    "build_validation_engine",
    "check_certificates",
    "check_stage",
    "load_identity",
    "load_trust",
    "max_overflow",
    "parse_served",
    "pool_size",
    "render_pdf",
    "stage_warnings",
]

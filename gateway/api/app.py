"""The FastAPI application factory. No import-time globals: ``create_app(settings)`` builds everything."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

import anyio.to_thread
from fastapi import FastAPI

from gateway import __version__
from gateway.api.apidocs import install_api_docs
from gateway.api.auth import KeyRing
from gateway.api.certificate_watch import run_certificate_watch
from gateway.api.errors import UnexpectedErrorMiddleware, install_error_handlers
from gateway.api.evidence_retention import run_evidence_retention
from gateway.api.no_store import NoStore
from gateway.api.operations_guard import OperationsGuard
from gateway.api.pending_sweep import run_pending_sweep, sweep_pending_once
from gateway.api.read_deadline import BodyDeadline
from gateway.api.request_target import RequestTargets
from gateway.api.routes import (
    as4,
    expenses,
    health,
    inbound,
    metrics,
    outbound,
    participants,
    rendering,
    reports,
    units,
    validation,
)
from gateway.api.routes.metrics import install_metrics
from gateway.api.webhook_schemas import install_webhook_docs
from gateway.bootstrap import Services, build_services
from gateway.config import Settings
from gateway.errors import ConfigurationError, StoreError
from gateway.render import require_page_packages
from gateway.web import install_web
from gateway.web.head_requests import HeadAsGet

log = logging.getLogger("gateway.api")


async def _recover_pending_inbound(services: Services) -> None:
    """Finish inbound documents whose validation was cut short by a crash (their receipt was sent)."""
    receiver = services.receiver
    if receiver is None:
        return
    # With GATEWAY_AS4__AFTER_RECEIPT=worker every received document is pending until a worker claims it:
    # those are the workers' (the pending sweep takes the ones older than its age), not a stop's leftovers.
    as4 = services.settings.as4
    recover = (
        partial(sweep_pending_once, services) if as4.after_receipt == "worker" else receiver.recover_pending
    )
    try:
        recovered = await anyio.to_thread.run_sync(recover)
    except StoreError as exc:  # the sender's resend repairs them too; do not block start-up
        log.error("inbound recovery skipped: %s", exc)
        return
    if recovered:
        log.warning("validated %d inbound documents left pending by an earlier stop", recovered)
    try:
        drafted = await anyio.to_thread.run_sync(services.expenses.recover)
    except StoreError as exc:
        log.error("expense recovery skipped: %s", exc)
        return
    if drafted:
        log.warning("created %d expense drafts left out by an earlier stop", drafted)


def freeze_start_up_heap() -> None:
    """Move the objects made at start-up out of the garbage collector's sight (``gc.freeze``).

    After start-up the heap holds some 150,000 long-lived objects (modules, compiled rule sets, schemas)
    that every full collection scanned again: one took 30-170 ms in the e2e benchmark, holding the GIL, so
    every request in the process waited for it. Frozen, a full collection scans only what requests made.
    """
    gc.collect()
    gc.freeze()


def create_app(settings: Settings, *, services: Services | None = None, warm: bool = True) -> FastAPI:
    """Build the API.

    Args:
        settings: the process settings.
        services: prebuilt services (tests share one validation engine); built from settings if omitted.
        warm: compile the default rule set's stylesheets at start-up, so the first request is fast, and
            freeze the start-up heap (``freeze_start_up_heap``); ``gateway serve`` does, tests need not.

    Raises:
        ConfigurationError: no API key is configured (every /v1 route needs authentication), or a package
            the pages import on first use is missing.
    """
    if not settings.api.keys:
        raise ConfigurationError(
            "no API key configured: set GATEWAY_API__KEYS (see README); every /v1 route requires one"
        )
    require_page_packages()
    services = services or build_services(settings, "serve")

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if warm:
            await anyio.to_thread.run_sync(services.validation.warm_up)
        await _recover_pending_inbound(services)
        if warm:
            freeze_start_up_heap()
        retention = asyncio.create_task(run_evidence_retention(services))
        watch = asyncio.create_task(run_certificate_watch(services.certificates, services.clock))
        sweep = asyncio.create_task(run_pending_sweep(services))
        app.state.ready = True
        log.info("gateway API ready")
        yield
        retention.cancel()
        watch.cancel()
        sweep.cancel()

    app = FastAPI(
        title="Peppol access-point gateway",
        version=__version__,
        description="Converts, validates and exchanges Peppol BIS Billing 3.0 documents.",
        lifespan=lifespan,
        docs_url=None,  # served from local assets by install_api_docs (no CDN)
        redoc_url=None,
    )
    app.state.services = services
    app.state.keyring = KeyRing(settings.api.keys)
    # The middleware stack, innermost first (each ``add_middleware`` wraps the ones before it).
    # Innermost: a body read too slowly (408) or abandoned (499) is answered here, before the
    # unexpected-error middleware around it could take the exception for a server error.
    app.add_middleware(
        BodyDeadline,
        idle_timeout=settings.server.body_idle_timeout_seconds,
        total_timeout=settings.server.body_timeout_seconds,
    )
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(validation.router)
    app.include_router(outbound.router)
    app.include_router(inbound.router)
    app.include_router(rendering.router)
    app.include_router(expenses.router)
    app.include_router(units.router)
    app.include_router(participants.router)
    app.include_router(reports.router)
    app.include_router(as4.router)
    app.include_router(metrics.router)
    install_web(app, services)  # the pages for people (/web), last: its fallback answers unknown /web paths
    if not settings.server.open_operations:
        app.add_middleware(OperationsGuard, keyring=app.state.keyring)
    install_api_docs(app)
    install_webhook_docs(app)  # the events POSTed to GATEWAY_WEBHOOKS__URL, in the OpenAPI ``webhooks``
    # Outside the operations guard and the pages, which compare paths: an absolute-form target reaches them
    # as its path; inside the metrics, which count its answers too.
    app.add_middleware(RequestTargets)
    # Around every middleware that judges a request (the request targets, the operations guard) and the
    # routes: a bug anywhere there is answered with a problem+json 500 on a connection that stays usable
    # (Starlette's outermost handler answers, then re-raises to the server, which drops it); inside the
    # metrics and the request id, which see that 500 like any other answer.
    app.add_middleware(UnexpectedErrorMiddleware)
    # Around the unexpected-error middleware, whose 500 is a /v1 answer too: every /v1 answer that says
    # nothing of caches says no-store (``no_store``).
    app.add_middleware(NoStore)
    install_metrics(
        app, store=services.store, clock=services.clock, certificates=services.certificates
    )  # counts the 401s too
    app.add_middleware(HeadAsGet)  # outermost: HEAD runs as GET through everything above
    return app

"""The delivery use case as wired from the settings: the AS4 transport, the retry policy, the per-endpoint
gate with its circuit breaker, and the answers' hooks."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from gateway.bootstrap.discovery import peer_policy
from gateway.errors import ConfigurationError
from gateway.services.circuit_breaker import BreakerPolicy
from gateway.services.deliver import Deliverer, DeliverySettings
from gateway.services.endpoint_gate import EndpointGate
from gateway.transport.http import HTTPAS4Transport

if TYPE_CHECKING:
    from gateway.bootstrap.services import Services
    from gateway.config import Settings


def build_as4_transport(settings: Settings) -> HTTPAS4Transport:
    """The HTTP AS4 transport of the worker settings: in the production stage https only, to public
    addresses (or allowed internal networks) checked at connect time; elsewhere plain http to a loopback
    host too (the demonstration's and tests' access points)."""
    return HTTPAS4Transport(
        connect_timeout=settings.worker.connect_timeout_seconds,
        send_timeout=settings.worker.send_timeout_seconds,
        plain_loopback=settings.truststore.stage != "production",
        peers=peer_policy(settings),
    )


def build_deliverer(services: Services) -> Deliverer:
    """The delivery use case of ``services``, over the HTTP AS4 transport unless one was injected (the
    transport made here is closed by ``Services.aclose``).

    Raises:
        ConfigurationError: no AP key, no trust store or no participant directory is configured.
    """
    missing = [
        name
        for name, value in (
            ("keystore (GATEWAY_KEYSTORE__PATH)", services.identity),
            ("trust store (GATEWAY_TRUSTSTORE__PATHS)", services.trust),
            (
                "participant directory (GATEWAY_DIRECTORY__PATH) or GATEWAY_DISCOVERY__MODE=sml",
                services.directory,
            ),
        )
        if value is None
    ]
    if missing:
        raise ConfigurationError("the delivery worker needs a " + ", a ".join(missing))
    assert services.identity is not None
    assert services.trust is not None
    assert services.directory is not None
    settings = services.settings
    worker = settings.worker
    if services.as4_transport is None:
        created = build_as4_transport(settings)
        services.adopt(created)
        services.as4_transport = created
    return Deliverer(
        store=services.store,
        resolver=services.directory,
        transport=services.as4_transport,
        identity=services.identity,
        trust=services.trust,
        clock=services.clock,
        ids=services.ids,
        retry=services.backoff(max_attempts=worker.max_attempts),
        jitter=services.jitter,
        settings=DeliverySettings(
            message_id_domain=settings.as4.message_id_domain,
            lease_for=services.lease_for,
            country_c1=settings.as4.country_c1,
            webhook_url=settings.webhooks.url,
            mls_to=services.our_spid,
            mls_type=settings.responses.mls_type if services.our_spid is not None else None,
        ),
        revocation=services.revocation,
        on_receipt=services.received_answers.after_receipt,
        email=services.email_channel,
        gate=EndpointGate(
            per_endpoint=worker.per_endpoint,
            breaker=BreakerPolicy(
                failure_threshold=worker.breaker_failures,
                open_for=timedelta(seconds=worker.breaker_open_seconds),
                max_open_for=timedelta(seconds=worker.breaker_max_open_seconds),
            ),
            clock=services.clock,
        ),
    )

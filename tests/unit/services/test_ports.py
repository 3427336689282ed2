"""The ports package keeps the public surface of the former ``gateway.services.ports`` module."""

from __future__ import annotations

import importlib
import pkgutil

import gateway.services.ports as ports

#: Every public name of the single-module ``gateway.services.ports`` (other branches import them).
FORMER_NAMES = {
    "DEFAULT_PAGE_SIZE",
    "MAX_PAGE_SIZE",
    "AS4MessageRepository",
    "Clock",
    "DeliveryJob",
    "DeliveryLease",
    "DeliveryQueue",
    "DocumentStore",
    "IDFactory",
    "IdempotencyRecord",
    "IdempotencyRepository",
    "InboundDocumentRepository",
    "InboundQuery",
    "OutboundDocumentRepository",
    "OutboundQuery",
    "OutboxCounts",
    "OutboxEntry",
    "Page",
    "PageCursor",
    "QueueCounts",
    "UnitOfWork",
    "WebhookLease",
    "WebhookMessage",
    "WebhookOutbox",
}


def test_every_former_name_is_still_exported() -> None:
    assert set(ports.__all__) >= FORMER_NAMES
    for name in ports.__all__:
        assert getattr(ports, name) is not None


def test_every_public_port_of_the_submodules_is_exported() -> None:
    for info in pkgutil.iter_modules(ports.__path__):
        module = importlib.import_module(f"{ports.__name__}.{info.name}")
        for name, value in vars(module).items():
            if name.startswith("_") or getattr(value, "__module__", module.__name__) != module.__name__:
                continue
            if isinstance(value, type):
                assert name in ports.__all__, f"{module.__name__}.{name} is not re-exported"


def test_the_ports_live_in_the_ports_package() -> None:
    for name in ("AS4Transport", "EndpointResolver", "WebhookSender", "DocumentValidator", "RetryPolicy"):
        assert getattr(ports, name).__module__.startswith("gateway.services.ports.")

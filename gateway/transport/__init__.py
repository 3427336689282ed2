"""I/O adapters toward the network: they implement ports and map third-party errors to gateway errors."""

from gateway.transport.artefacts_http import HTTPArtefactFetcher
from gateway.transport.directory import (
    LocalDirectory,
    load_directory,
)
from gateway.transport.http import (
    HTTPAS4Transport,
)
from gateway.transport.webhook_http import (
    HTTPWebhookSender,
)

__all__ = [
    "HTTPAS4Transport",
    "HTTPArtefactFetcher",
    "HTTPWebhookSender",
    "LocalDirectory",
    "load_directory",
]

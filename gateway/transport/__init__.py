"""I/O adapters toward the network: they implement ports and map third-party errors to gateway errors."""

from gateway.transport.artefacts_http import HTTPArtefactFetcher

__all__ = ["HTTPArtefactFetcher"]

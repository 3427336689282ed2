"""Local Peppol network for development and tests: a test SML (DNS on loopback) and a test SMP (HTTP).

``gateway devnet serve`` runs it from a registry file; tests start :class:`DevNetwork` as a fixture.
"""

from gateway.devnet.documents import (
    DevEndpoint,
    DevService,
    service_group_xml,
    service_metadata_element,
    sign_metadata,
)
from gateway.devnet.network import DevNetwork
from gateway.devnet.registry import DOCUMENTS, Registry, load_registry, parse_registry
from gateway.devnet.sml import DEVNET_ZONE, DevSMLServer, smp_naptr_record
from gateway.devnet.smp import DevSMPServer
from gateway.devnet.tls import issue_tls_server, server_context

__all__ = [
    "DEVNET_ZONE",
    "DOCUMENTS",
    "DevEndpoint",
    "DevNetwork",
    "DevSMLServer",
    "DevSMPServer",
    "DevService",
    "Registry",
    "issue_tls_server",
    "load_registry",
    "parse_registry",
    "server_context",
    "service_group_xml",
    "service_metadata_element",
    "sign_metadata",
    "smp_naptr_record",
]

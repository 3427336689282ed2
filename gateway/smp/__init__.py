"""Sans-IO Peppol discovery: SML names, NAPTR, SMP URLs and XML, signature policy, endpoint selection, cache.

Like ``gateway.as4``, nothing here does I/O: ``gateway.transport.dns`` and ``gateway.transport.smp_http``
are the adapters, ``gateway.services.smp_resolver`` the recipe that puts them together.
"""

from gateway.smp.cache import DEFAULT_NEGATIVE_TTL, DEFAULT_TTL, LookupCache
from gateway.smp.metadata import (
    BDXR_SMP,
    BUSDOX_IDS,
    BUSDOX_SMP,
    WSA,
    ProcessEntry,
    Redirect,
    ServiceGroup,
    ServiceInformation,
    SMPEndpoint,
    read_service_group,
    read_service_metadata,
    referenced_document_types,
)
from gateway.smp.outcome import LookupOutcome, outcome_of
from gateway.smp.policy import DiscoveryPolicy, smp_trust_for_stage
from gateway.smp.responses import (
    MAX_SMP_RESPONSE_BYTES,
    SMPHTTPResponse,
    metadata_body,
    service_group_body,
)
from gateway.smp.selection import (
    AS4_TRANSPORT_PROFILE,
    SelectedEndpoint,
    check_answer_identity,
    same_document_type,
    same_process,
    select_endpoint,
)
from gateway.smp.signature import (
    SMPSignaturePolicy,
    VerifiedMetadata,
    signer_matches_uid,
    verify_signed_metadata,
)
from gateway.smp.sml import (
    SMP_NAPTR_SERVICE,
    NaptrAnswer,
    NaptrRecord,
    SMLZone,
    apply_naptr_regexp,
    hash_label,
    participant_host,
    smp_url_from_answer,
    zone_by_name,
)
from gateway.smp.urls import (
    Stage,
    check_endpoint_url,
    check_remote_host,
    check_smp_url,
    service_group_url,
    service_metadata_url,
)

__all__ = [
    "AS4_TRANSPORT_PROFILE",
    "BDXR_SMP",
    "BUSDOX_IDS",
    "BUSDOX_SMP",
    "DEFAULT_NEGATIVE_TTL",
    "DEFAULT_TTL",
    "MAX_SMP_RESPONSE_BYTES",
    "SMP_NAPTR_SERVICE",
    "WSA",
    "DiscoveryPolicy",
    "LookupCache",
    "LookupOutcome",
    "NaptrAnswer",
    "NaptrRecord",
    "ProcessEntry",
    "Redirect",
    "SMLZone",
    "SMPEndpoint",
    "SMPHTTPResponse",
    "SMPSignaturePolicy",
    "SelectedEndpoint",
    "ServiceGroup",
    "ServiceInformation",
    "Stage",
    "VerifiedMetadata",
    "apply_naptr_regexp",
    "check_answer_identity",
    "check_endpoint_url",
    "check_remote_host",
    "check_smp_url",
    "hash_label",
    "metadata_body",
    "outcome_of",
    "participant_host",
    "read_service_group",
    "read_service_metadata",
    "referenced_document_types",
    "same_document_type",
    "same_process",
    "select_endpoint",
    "service_group_body",
    "service_group_url",
    "service_metadata_url",
    "signer_matches_uid",
    "smp_trust_for_stage",
    "smp_url_from_answer",
    "verify_signed_metadata",
    "zone_by_name",
]

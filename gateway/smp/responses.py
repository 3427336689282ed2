"""SMP HTTP answers -> body or a typed outcome (sans-IO).

peppol-as4.md §9.2-§9.3: SMP unreachable is retryable; HTTP 404 on service metadata means the document
type is not supported; HTTP redirects are not followed (peppol-commons 12.3.1), so a 3xx is an error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from gateway.smp.outcome import LookupOutcome

#: Upper bound on one SMP answer (a ServiceGroup of a large participant stays far below).
MAX_SMP_RESPONSE_BYTES: Final = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class SMPHTTPResponse:
    """What the HTTP adapter got back for one GET (redirects not followed)."""

    url: str
    status: int
    body: bytes = field(default=b"", repr=False)


def _check_common(response: SMPHTTPResponse) -> bytes:
    status = response.status
    if status == 200:
        return response.body
    if 300 <= status < 400:
        raise LookupOutcome.BAD_SMP_RESPONSE.error(
            f"the SMP answered HTTP {status} for {response.url}; HTTP redirects are not followed"
        ).coded("smp-redirect", status=status, url=response.url)
    if status >= 500 or status in (408, 429):
        raise LookupOutcome.SMP_UNREACHABLE.error(f"the SMP answered HTTP {status} for {response.url}").coded(
            "smp-http", status=status, url=response.url
        )
    raise LookupOutcome.BAD_SMP_RESPONSE.error(f"the SMP answered HTTP {status} for {response.url}").coded(
        "smp-http", status=status, url=response.url
    )


def metadata_body(response: SMPHTTPResponse) -> bytes:
    """The body of a service metadata answer.

    Raises:
        DocumentTypeNotSupported: HTTP 404.
        DiscoveryUnavailable: HTTP 5xx, 408 or 429 (retryable).
        SMPResponseInvalid: a redirect or any other status.
    """
    if response.status == 404:
        raise LookupOutcome.DOCUMENT_TYPE_NOT_SUPPORTED.error(
            f"the SMP has no service metadata at {response.url} (HTTP 404)"
        ).coded("smp-no-metadata", url=response.url)
    return _check_common(response)


def service_group_body(response: SMPHTTPResponse) -> bytes:
    """The body of a service group answer.

    Raises:
        ParticipantNotRegistered: HTTP 404 (the SMP does not know the participant).
        DiscoveryUnavailable: HTTP 5xx, 408 or 429 (retryable).
        SMPResponseInvalid: a redirect or any other status.
    """
    if response.status == 404:
        raise LookupOutcome.NOT_REGISTERED.error(
            f"the SMP does not know the participant ({response.url}: HTTP 404)"
        ).coded("smp-unknown-participant", url=response.url)
    return _check_common(response)

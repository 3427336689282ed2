"""SMP REST URLs (Peppol SMP 1.x, busdox) and the stage's rule for which SMP URLs may be read.

peppol-as4.md §9.2-§9.3: since 2026-02-01 SMP read APIs are HTTPS only; plain HTTP is allowed here only to
a loopback host in the development stage (the local Peppol network of ``gateway devnet``).
"""

from __future__ import annotations

import ipaddress
from typing import Final, Literal
from urllib.parse import SplitResult, quote, urlsplit

from gateway.model.identifiers import DocumentTypeID, ParticipantID
from gateway.smp.outcome import LookupOutcome

Stage = Literal["development", "test", "production"]

#: Longest SMP URL we follow (a NAPTR regexp or a Redirect href is remote input).
MAX_URL_LENGTH: Final = 2048


def _encode(uri: str) -> str:
    # SMP 1.x §3: the identifiers are percent-encoded path segments; "::", "#" and ":" must be encoded.
    return quote(uri, safe="")


def service_group_url(base: str, participant: ParticipantID) -> str:
    """``{smp}/iso6523-actorid-upis%3A%3A{participant}``: the participant's ServiceGroup."""
    return f"{base.rstrip('/')}/{_encode(participant.uri)}"


def service_metadata_url(base: str, participant: ParticipantID, document_type: DocumentTypeID) -> str:
    """``{smp}/{participant}/services/{document type}``: the SignedServiceMetadata of one document type."""
    return f"{service_group_url(base, participant)}/services/{_encode(document_type.uri)}"


def is_loopback_host(host: str | None) -> bool:
    """``localhost`` or a loopback address: where plain HTTP is allowed in development (SMP reads, AS4
    sends, webhooks); None (a URL without a host) is not one."""
    if host is None:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


#: The NAT64 well-known prefix (RFC 6052): its last 32 bits are the IPv4 address a translator connects to.
_NAT64: Final = ipaddress.IPv6Network("64:ff9b::/96")
#: IPv6 global unicast (RFC 4291 §2.4, IANA): every public IPv6 peer is in it. Outside it, Python 3.11 still
#: calls some prefixes global that lead into the own network (a local-use NAT64 64:ff9b:1::/48, RFC 8215;
#: IPv4-compatible ::/96; IPv4-translated ::ffff:0:0:0/96; site-local fec0::/10).
_GLOBAL_UNICAST: Final = ipaddress.IPv6Network("2000::/3")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def is_internal_address(address: IPAddress) -> bool:
    """An address a production gateway must not connect to on remote input's say-so: not globally
    routable (loopback, private, link-local incl. 169.254.169.254, shared 100.64/10, unique local
    fc00::/7, unspecified, reserved) or multicast. An IPv6 address carrying an IPv4 one (IPv4-mapped,
    6to4, NAT64) is judged by the IPv4 address it leads to; any other IPv6 address outside global unicast
    2000::/3 is internal."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return is_internal_address(embedded)
        if address not in _GLOBAL_UNICAST:
            return True
    return not address.is_global or address.is_multicast


def is_internal_host(host: str) -> bool:
    """``localhost`` (or a name under it) or an IP address that is not globally routable: loopback,
    private, link-local (with or without a zone id), unspecified, reserved."""
    name = host.lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(name.split("%", 1)[0])
    except ValueError:
        return False
    return is_internal_address(address)


def check_remote_host(url: str, stage: Stage) -> str:
    """Refuse, in production, a URL from remote input (NAPTR answer, Redirect href, endpoint address) that
    names an internal host: a hostile SMP or DNS answer must not make the gateway connect to its own host or
    private network (a configured URL is the operator's and is not checked here). Host names are not
    resolved here: this stops address literals and ``localhost`` early, with a clear outcome; names that
    resolve to internal addresses are refused where the connection is made (``gateway.transport.peers``).

    Returns:
        The URL unchanged.

    Raises:
        SMPResponseInvalid: the URL cannot be read, or names an internal host in production.
    """
    try:
        host = urlsplit(url).hostname or ""
    except ValueError as exc:
        raise LookupOutcome.BAD_SMP_RESPONSE.error(f"URL {url!r} is malformed: {exc}") from exc
    if stage == "production" and is_internal_host(host):
        raise LookupOutcome.BAD_SMP_RESPONSE.error(
            f"URL {url!r} refused: {host!r} is not a public host (production stage)"
        )
    return url


def _absolute(url: str, what: str) -> tuple[SplitResult, str]:
    """``url`` split, and its host, when it is an absolute URL without credentials of at most
    ``MAX_URL_LENGTH`` characters (``what`` names it in the refusal)."""
    if len(url) > MAX_URL_LENGTH:
        raise LookupOutcome.BAD_SMP_RESPONSE.error(f"{what} longer than {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        credentials = parts.username or parts.password
    except ValueError as exc:  # "Invalid IPv6 URL", a netloc invalid under NFKC normalisation
        raise LookupOutcome.BAD_SMP_RESPONSE.error(f"{what} {url!r} is malformed: {exc}") from exc
    if not host or credentials:
        raise LookupOutcome.BAD_SMP_RESPONSE.error(
            f"{what} {url!r} is not an absolute URL without credentials"
        )
    return parts, host


def check_smp_url(url: str, stage: Stage) -> str:
    """Refuse an SMP URL the stage does not allow (peppol-as4.md §9.2 timeline: HTTPS/443 only).

    Args:
        url: an SMP base URL (from NAPTR or settings) or a Redirect target.
        stage: ``test`` and ``production`` require https; ``development`` also allows http to loopback.

    Returns:
        The URL unchanged.

    Raises:
        SMPResponseInvalid: not an absolute URL, too long, or a scheme/host the stage forbids.
    """
    parts, host = _absolute(url, "SMP URL")
    if parts.scheme == "https":
        return url
    if parts.scheme == "http" and stage == "development" and is_loopback_host(host):
        return url
    raise LookupOutcome.BAD_SMP_RESPONSE.error(
        f"SMP URL {url!r} refused: the {stage} stage reads SMPs over https only"
        + (" (plain http only to loopback in development)" if parts.scheme == "http" else "")
    )


def check_endpoint_url(url: str, stage: Stage) -> str:
    """Refuse an AS4 endpoint address (``wsa:Address``) the stage does not allow.

    The address is remote input (the participant's SMP) and is where documents are POSTed: Peppol AS4 is
    HTTPS only (peppol-as4.md §5); plain http only to a loopback host in the development stage.

    Returns:
        The URL unchanged.

    Raises:
        SMPResponseInvalid: too long, not absolute, with credentials, or a scheme/host the stage forbids.
    """
    parts, host = _absolute(url, "endpoint URL")
    if parts.scheme == "https" or (
        parts.scheme == "http" and stage == "development" and is_loopback_host(host)
    ):
        return check_remote_host(url, stage)
    raise LookupOutcome.BAD_SMP_RESPONSE.error(
        f"endpoint URL {url!r} refused: the {stage} stage sends AS4 over https only"
        + (" (plain http only to loopback in development)" if parts.scheme == "http" else "")
    )

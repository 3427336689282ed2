"""The SML adapter: NAPTR queries with dnspython, mapped to ``NaptrAnswer`` or a retryable discovery error.

Only this module touches dnspython, and imports it on first use (≈ 3.3 MiB: a process that looks
nothing up does not load it; BENCHMARKS.md, *Memory, seventh pass*), in a worker thread: about 60 modules,
tens of milliseconds the event loop would otherwise stand still for (every request and delivery in flight).
NXDOMAIN and "no NAPTR" are answers (the participant is not registered, decided in ``gateway.smp``);
timeouts, SERVFAIL and unreachable name servers are ``DiscoveryUnavailable`` with outcome
``sml-unreachable`` (peppol-as4.md §9.2: DNS failures are retryable).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

import anyio.to_thread

from gateway.errors import ConfigurationError
from gateway.smp import LookupOutcome, NaptrAnswer, NaptrRecord

if TYPE_CHECKING:
    import dns.asyncresolver

DEFAULT_DNS_TIMEOUT_SECONDS: Final = 5.0


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _load_dnspython() -> None:
    """Import what a lookup uses, including what dnspython would import on its first query and answer
    (its asyncio backend, the NAPTR rdata class)."""
    import dns.asyncbackend
    import dns.asyncresolver
    import dns.exception
    import dns.nameserver
    import dns.rdtypes.IN.NAPTR
    import dns.resolver

    dns.asyncbackend.get_backend("asyncio")


def _server(entry: str, default_port: int) -> tuple[str, int]:
    text = entry.strip()
    host, port = text, default_port
    if text.startswith("["):  # [2001:db8::1]:5353
        host, _, rest = text[1:].partition("]")
        if rest:
            host, port = host, _port(rest.removeprefix(":"), entry)
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
        port = _port(port_text, entry)
    try:
        ipaddress.ip_address(host)
    except ValueError as exc:
        raise ConfigurationError(
            f"DNS server {entry!r} is not an IP address (with an optional :port)"
        ) from exc
    return host, port


def _port(text: str, entry: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ConfigurationError(f"DNS server {entry!r} has an invalid port")
    return int(text)


class DNSNaptrLookup:
    """Asks for NAPTR records with dnspython's async resolver.

    Args:
        nameservers: name servers as ``address``, ``address:port`` or ``[v6 address]:port``; empty = the
            system's configuration (``/etc/resolv.conf``).
        port: the port of the entries that name none (53; the development SML listens elsewhere).
        timeout: total time for one lookup, retries included.

    Raises:
        ConfigurationError: a name server entry that is not an IP address with an optional port.
    """

    def __init__(
        self, *, nameservers: Sequence[str] = (), port: int = 53, timeout: float = DEFAULT_DNS_TIMEOUT_SECONDS
    ) -> None:
        self.servers = tuple(_server(entry, port) for entry in nameservers)
        """The name servers as (address, port); empty: the system's."""
        self._timeout = timeout
        self._loaded = False

    def _resolver(self) -> dns.asyncresolver.Resolver:
        import dns.asyncresolver
        import dns.nameserver

        resolver = dns.asyncresolver.Resolver(configure=not self.servers)
        if self.servers:
            resolver.nameservers = [dns.nameserver.Do53Nameserver(host, port) for host, port in self.servers]
        resolver.lifetime = self._timeout
        resolver.timeout = min(self._timeout, 2.0)
        return resolver

    async def naptr(self, name: str) -> NaptrAnswer:
        """Query ``name`` (absolute) for NAPTR.

        Raises:
            DiscoveryUnavailable: timeout, SERVFAIL/REFUSED from every server, no usable configuration.
        """
        if not self._loaded:
            await anyio.to_thread.run_sync(_load_dnspython)
            self._loaded = True
        import dns.exception
        import dns.resolver

        absolute = name if name.endswith(".") else name + "."
        try:
            answer = await self._resolver().resolve(absolute, "NAPTR", search=False, raise_on_no_answer=False)
        except dns.resolver.NXDOMAIN:
            return NaptrAnswer(absolute, exists=False)
        except (
            dns.resolver.NoAnswer
        ):  # pragma: no cover - raise_on_no_answer=False makes this an empty answer
            return NaptrAnswer(absolute, exists=True)
        except (dns.exception.DNSException, OSError) as exc:
            # Timeout, NoNameservers (SERVFAIL/REFUSED everywhere), NoResolverConfiguration, socket errors.
            raise LookupOutcome.SML_UNREACHABLE.error(f"SML lookup of {absolute} failed: {exc!r}") from exc
        records = tuple(
            NaptrRecord(
                order=int(rdata.order),
                preference=int(rdata.preference),
                flags=_text(rdata.flags),
                service=_text(rdata.service),
                regexp=_text(rdata.regexp),
                replacement=rdata.replacement.to_text(),
            )
            for rdata in (answer.rrset or ())
        )
        return NaptrAnswer(absolute, exists=True, records=records)

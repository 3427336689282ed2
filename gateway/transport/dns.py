"""The SML adapter: NAPTR queries with dnspython, mapped to ``NaptrAnswer`` or a retryable discovery error.

Only this module touches dnspython. NXDOMAIN and "no NAPTR" are answers (the participant is not
registered, decided in ``gateway.smp``); timeouts, SERVFAIL and unreachable name servers are
``DiscoveryUnavailable`` with outcome ``sml-unreachable`` (peppol-as4.md §9.2: DNS failures are retryable).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import dns.asyncresolver
import dns.exception
import dns.resolver

from gateway.smp import LookupOutcome, NaptrAnswer, NaptrRecord

DEFAULT_DNS_TIMEOUT_SECONDS: Final = 5.0


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


class DNSNaptrLookup:
    """Asks for NAPTR records with dnspython's async resolver.

    Args:
        nameservers: name server addresses; empty = the system's configuration (``/etc/resolv.conf``).
        port: the name servers' port (53; the development SML listens elsewhere on loopback).
        timeout: total time for one lookup, retries included.
    """

    def __init__(
        self, *, nameservers: Sequence[str] = (), port: int = 53, timeout: float = DEFAULT_DNS_TIMEOUT_SECONDS
    ) -> None:
        self._nameservers = tuple(nameservers)
        self._port = port
        self._timeout = timeout

    def _resolver(self) -> dns.asyncresolver.Resolver:
        resolver = dns.asyncresolver.Resolver(configure=not self._nameservers)
        if self._nameservers:
            resolver.nameservers = list(self._nameservers)
            resolver.port = self._port
        resolver.lifetime = self._timeout
        resolver.timeout = min(self._timeout, 2.0)
        return resolver

    async def naptr(self, name: str) -> NaptrAnswer:
        """Query ``name`` (absolute) for NAPTR.

        Raises:
            DiscoveryUnavailable: timeout, SERVFAIL/REFUSED from every server, no usable configuration.
        """
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

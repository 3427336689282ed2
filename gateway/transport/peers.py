"""Which addresses the gateway connects to, checked where the connection is made.

In the production stage an SMP URL (from a NAPTR answer or a Redirect) and an AS4 endpoint URL (from an
SMP) are remote input: a host name in them that resolves to a loopback, private, link-local or metadata
address (169.254.169.254) would make the gateway reach its own host or network (SSRF). Checking the name
first and connecting afterwards loses to DNS rebinding (public when checked, private when connected), so
the check sits in the httpcore network backend: the name is resolved once, the addresses are vetted, and
the TCP connection goes to a vetted address. TLS still runs over that connection with the host name (SNI
and the certificate's name check are httpcore's, from the URL), so nothing else changes.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Final

import anyio
import httpcore
import httpx

from gateway.errors import PeerAddressRefused
from gateway.smp.urls import IPAddress, is_internal_address

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
#: Resolves a host name (or an address literal) and port to addresses, in the order to try them.
Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]

#: httpx's own defaults for a client's connection pool.
DEFAULT_LIMITS: Final = httpx.Limits(max_connections=100, max_keepalive_connections=20)


async def system_resolve(host: str, port: int) -> list[IPAddress]:
    """The addresses ``getaddrinfo`` gives for ``host`` (an address literal gives itself)."""
    infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[IPAddress] = []
    for *_, sockaddr in infos:
        address = ipaddress.ip_address(sockaddr[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


@dataclass(frozen=True, slots=True)
class PeerPolicy:
    """The production stage's rule for peer addresses: public addresses, and internal ones only inside
    ``allowed`` (an operator's own networks, ``GATEWAY_DISCOVERY__ALLOWED_INTERNAL_NETWORKS``).

    Attributes:
        allowed: internal networks that may still be connected to.
        resolve: how host names become addresses (tests map names to loopback addresses).
    """

    allowed: tuple[Network, ...] = ()
    resolve: Resolver = field(default=system_resolve)

    def permits(self, address: IPAddress) -> bool:
        """True for a public address or one inside an allowed network."""
        if not is_internal_address(address):
            return True
        plain = ipaddress.ip_address(str(address).split("%", 1)[0])  # a zone id never matches a network
        return any(plain in network for network in self.allowed)


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """An httpcore network backend that connects to vetted addresses only.

    Raises (from ``connect_tcp``):
        PeerAddressRefused: the host resolves to no address ``policy`` permits.
        httpcore.ConnectError / ConnectTimeout: the name does not resolve, or no permitted address answers
            (within ``timeout`` in all: each address tried in turn, with its share of the time left).
    """

    def __init__(self, policy: PeerPolicy, inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        self._policy = policy
        self._inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        # ``timeout`` bounds the whole connect, the name's resolution and every attempt, as anyio's own
        # connect did (httpcore's backend: ``fail_after`` around ``anyio.connect_tcp``).
        deadline = None if timeout is None else anyio.current_time() + timeout
        try:
            with anyio.fail_after(timeout):
                addresses = await self._policy.resolve(host, port)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"resolving {host} took longer than {timeout:g} s") from exc
        except (OSError, ValueError) as exc:  # socket.gaierror is an OSError
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        permitted = [a for a in addresses if self._policy.permits(a)]
        if not permitted:
            listed = ", ".join(str(a) for a in addresses) or "no address"
            raise PeerAddressRefused(
                f"{host} resolves to {listed}: not a public address, refused in the production stage"
            )
        failure: httpcore.ConnectError | httpcore.ConnectTimeout | None = None
        for index, address in enumerate(permitted):
            # Each address an equal share of the time left: one that never answers (a dead host, an IPv6
            # route that drops packets) leaves the next its turn within the timeout, not after it.
            share = None if deadline is None else max(0.0, deadline - anyio.current_time())
            if share is not None:
                share /= len(permitted) - index
            try:
                return await self._inner.connect_tcp(
                    str(address), port, share, local_address=local_address, socket_options=socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise PeerAddressRefused(f"unix socket {path!r}: not a network peer")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedHTTPTransport(httpx.AsyncHTTPTransport):
    """httpx's transport (no proxy, nothing from the environment) over a :class:`GuardedBackend`.

    Args:
        policy: the peer addresses allowed.
        verify: TLS verification as httpx takes it (True = httpx's CA bundle, or an ``SSLContext``).
        limits: the connection pool's limits.
    """

    def __init__(
        self,
        policy: PeerPolicy,
        *,
        verify: ssl.SSLContext | bool = True,
        limits: httpx.Limits = DEFAULT_LIMITS,
    ) -> None:
        context = (
            verify
            if isinstance(verify, ssl.SSLContext)
            else httpx.create_ssl_context(verify, trust_env=False)
        )
        super().__init__(verify=context, limits=limits, trust_env=False)
        # httpx takes no network backend; its pool, as it builds it without a proxy, over the guarded one.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedBackend(policy),
        )

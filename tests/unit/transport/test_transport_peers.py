"""Peer addresses checked at connect time (production): the address policy, and real HTTP(S) over loopback
through the AS4 transport with names resolved by the system or mapped by the test."""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, cast

import anyio
import httpcore
import pytest

from gateway.bootstrap.delivery import build_as4_transport
from gateway.bootstrap.discovery import peer_policy
from gateway.config import Settings
from gateway.crypto import generate_dev_pki
from gateway.devnet import issue_tls_server, server_context
from gateway.errors import DiscoveryError, PeerAddressRefused, TransportError
from gateway.smp.urls import IPAddress
from gateway.transport.http import HTTPAS4Transport
from gateway.transport.peers import GuardedBackend, PeerPolicy
from gateway.transport.smp_http import HTTPSMPFetcher

LOOPBACK = ipaddress.ip_network("127.0.0.0/8")


@pytest.mark.parametrize(
    ("address", "permitted"),
    [
        ("93.184.215.14", True),
        ("2a00:1450:4001::1", True),
        ("::ffff:93.184.215.14", True),
        ("127.0.0.1", False),
        ("127.8.9.10", False),
        ("::1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),  # cloud metadata
        ("100.64.0.1", False),  # carrier-grade NAT
        ("0.0.0.0", False),
        ("::", False),
        ("fd00::1", False),  # unique local (fc00::/7)
        ("fe80::1", False),
        ("fe80::1%1", False),
        ("224.0.0.1", False),
        ("::ffff:127.0.0.1", False),  # IPv4-mapped
        ("::ffff:169.254.169.254", False),
        ("64:ff9b::a9fe:a9fe", False),  # NAT64 of 169.254.169.254
        ("2002:a00:1::1", False),  # 6to4 of 10.0.0.1
        ("64:ff9b::5db8:d70e", True),  # NAT64 (DNS64) of a public address: an IPv4-only peer
        # Python 3.11 calls these global (3.13 no longer calls the first one so): the policy must not
        # depend on the interpreter's table. None is where a public peer lives (2000::/3).
        ("64:ff9b:1::a9fe:a9fe", False),  # local-use NAT64 (RFC 8215), a translator of the own network
        ("::a9fe:a9fe", False),  # IPv4-compatible (deprecated ::/96) of 169.254.169.254
        ("::ffff:0:a9fe:a9fe", False),  # IPv4-translated (SIIT, RFC 2765) of 169.254.169.254
        ("fec0::1", False),  # site-local (deprecated, RFC 3879), still routed inside some networks
    ],
)
def test_the_policy_permits_public_addresses_only(address: str, permitted: bool) -> None:
    assert PeerPolicy().permits(ipaddress.ip_address(address)) is permitted


def test_allowed_internal_networks_are_permitted() -> None:
    policy = PeerPolicy(allowed=(ipaddress.ip_network("10.1.0.0/16"), ipaddress.ip_network("fd00::/8")))
    assert policy.permits(ipaddress.ip_address("10.1.2.3"))
    assert policy.permits(ipaddress.ip_address("fd00::5"))
    assert not policy.permits(ipaddress.ip_address("10.2.0.1"))
    assert not policy.permits(ipaddress.ip_address("169.254.169.254"))


class _Handler(BaseHTTPRequestHandler):
    seen: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        type(self).seen.append(self.headers.get("Host", ""))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: Any) -> None:
        return


def _serve(context: ssl.SSLContext | None) -> Iterator[tuple[int, list[str]]]:
    handler = type("Handler", (_Handler,), {"seen": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    if context is not None:
        server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], handler.seen
    server.shutdown()
    server.server_close()


NOW = datetime.now(UTC)
PKI = generate_dev_pki(now=NOW, seat_ids=("POP000001",))


@pytest.fixture(scope="module")
def https_ap() -> Iterator[tuple[int, list[str]]]:
    """An HTTPS server on 127.0.0.1 whose certificate names ``ap.rebind.test`` only."""
    yield from _serve(server_context(issue_tls_server(PKI.root, now=NOW, hosts=("ap.rebind.test",))))


def _mapped(*answers: str) -> Any:
    """A resolver answering every name with ``answers`` (a hostile SMP's DNS), recording the names."""
    asked: list[str] = []

    async def resolve(host: str, port: int) -> list[IPAddress]:
        asked.append(host)
        return [ipaddress.ip_address(a) for a in answers]

    resolve.asked = asked  # type: ignore[attr-defined]
    return resolve


def _client_trusting_the_dev_root(policy: PeerPolicy) -> HTTPAS4Transport:
    import httpx

    from gateway.transport.peers import GuardedHTTPTransport

    context = ssl.create_default_context(cadata=PKI.root.cert_pem.decode())
    client = httpx.AsyncClient(transport=GuardedHTTPTransport(policy, verify=context))
    return HTTPAS4Transport(client=client, plain_loopback=False)


def _post(transport: HTTPAS4Transport, url: str) -> Any:
    async def go() -> Any:
        try:
            return await transport.post(url, headers={}, body=b"payload")
        finally:
            await transport._client.aclose()

    return asyncio.run(go())


def test_a_name_resolving_to_loopback_is_refused_at_connect_time(https_ap: tuple[int, list[str]]) -> None:
    # The rebinding case: the name passed every check of the URL (https, not an address literal), and
    # resolves to loopback when the connection is made; nothing reaches the server.
    port, seen = https_ap
    resolve = _mapped("127.0.0.1")
    before = len(seen)
    with pytest.raises(PeerAddressRefused, match=r"ap\.rebind\.test resolves to 127\.0\.0\.1") as caught:
        _post(
            _client_trusting_the_dev_root(PeerPolicy(resolve=resolve)), f"https://ap.rebind.test:{port}/as4"
        )
    assert caught.value.retryable is False
    assert caught.value.code == "peer-address-refused"
    assert resolve.asked == ["ap.rebind.test"]
    assert len(seen) == before


def test_the_vetted_address_is_connected_to_with_the_name_for_tls(
    https_ap: tuple[int, list[str]],
) -> None:
    # An allowed network: the connection goes to the address vetted (10.0.0.1 is not allowed and never
    # tried), TLS checks the certificate against the name (SNI and hostname check) and Host carries it.
    port, seen = https_ap
    policy = PeerPolicy(allowed=(LOOPBACK,), resolve=_mapped("10.0.0.1", "127.0.0.1"))
    response = _post(_client_trusting_the_dev_root(policy), f"https://ap.rebind.test:{port}/as4")
    assert response.status == 200
    assert seen[-1] == f"ap.rebind.test:{port}"


def test_tls_still_checks_the_name_not_the_address(https_ap: tuple[int, list[str]]) -> None:
    port, _ = https_ap
    policy = PeerPolicy(allowed=(LOOPBACK,), resolve=_mapped("127.0.0.1"))
    with pytest.raises(TransportError, match="CERTIFICATE_VERIFY_FAILED"):
        _post(_client_trusting_the_dev_root(policy), f"https://other.rebind.test:{port}/as4")


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "[::1]"])
def test_the_production_worker_refuses_loopback_by_the_system_resolver(host: str) -> None:
    # Real name resolution: "localhost" resolves to loopback; a literal is "resolved" to itself.
    transport = build_as4_transport(Settings.model_validate({"truststore": {"stage": "production"}}))
    with pytest.raises(PeerAddressRefused, match="not a public address") as caught:
        _post(transport, f"https://{host}:1/as4")
    assert caught.value.retryable is False


@pytest.mark.parametrize("stage", ["development", "test"])
def test_other_stages_connect_to_loopback(stage: str) -> None:
    transport = build_as4_transport(Settings.model_validate({"truststore": {"stage": stage}}))
    with pytest.raises(TransportError) as caught:  # nothing listens on port 1: refused by the connection
        _post(transport, "https://localhost:1/as4")
    assert not isinstance(caught.value, PeerAddressRefused)
    assert caught.value.retryable is True


def test_the_peer_policy_of_the_settings() -> None:
    production = Settings.model_validate(
        {"truststore": {"stage": "production"}, "discovery": {"allowed_internal_networks": ["10.8.0.0/16"]}}
    )
    policy = peer_policy(production)
    assert policy is not None
    assert policy.allowed == (ipaddress.ip_network("10.8.0.0/16"),)
    assert peer_policy(Settings.model_validate({"truststore": {"stage": "test"}})) is None


class _Backend(httpcore.AsyncNetworkBackend):
    """An inner backend: ``silent`` addresses never answer (their attempt times out), others connect."""

    def __init__(self, *silent: str) -> None:
        self.silent = silent
        self.tried: list[tuple[str, float | None]] = []

    async def connect_tcp(
        self, host: str, port: int, timeout: float | None = None, **_options: Any
    ) -> httpcore.AsyncNetworkStream:
        self.tried.append((host, timeout))
        if host in self.silent:
            await anyio.sleep(timeout if timeout is not None else 3600)
            raise httpcore.ConnectTimeout(f"{host} did not answer")
        return cast(httpcore.AsyncNetworkStream, host)


def test_every_permitted_address_is_tried_within_the_connect_timeout() -> None:
    # A name with an address that never answers first (an IPv6 route that drops packets, a dead host):
    # the next one is tried within the connect timeout, not after it; anyio's own connect did so (happy
    # eyeballs), and the connect timeout bounds the whole connect as it did.
    inner = _Backend("2a00:1450:4001::1")
    policy = PeerPolicy(resolve=_mapped("2a00:1450:4001::1", "93.184.215.14"))

    async def connect() -> tuple[object, float]:
        started = anyio.current_time()
        stream = await GuardedBackend(policy, inner).connect_tcp("ap.example", 443, timeout=1.0)
        return stream, anyio.current_time() - started

    stream, seconds = asyncio.run(connect())
    assert stream == "93.184.215.14"
    assert seconds < 0.9, inner.tried
    assert [host for host, _ in inner.tried] == ["2a00:1450:4001::1", "93.184.215.14"]


def test_no_address_answering_within_the_connect_timeout_is_a_connect_timeout() -> None:
    inner = _Backend("2a00:1450:4001::1", "93.184.215.14")
    policy = PeerPolicy(resolve=_mapped("2a00:1450:4001::1", "93.184.215.14"))

    async def connect() -> float:
        started = anyio.current_time()
        with pytest.raises(httpcore.ConnectTimeout):
            await GuardedBackend(policy, inner).connect_tcp("ap.example", 443, timeout=0.4)
        return anyio.current_time() - started

    assert asyncio.run(connect()) < 0.7
    assert len(inner.tried) == 2


@pytest.mark.parametrize("guarded", [True, False])
def test_the_smp_fetcher_loads_its_tls_trust_once_not_for_every_get(
    monkeypatch: pytest.MonkeyPatch, guarded: bool
) -> None:
    # Loading the CA bundle takes tens of milliseconds, on the event loop: it was done for every GET.
    peers = PeerPolicy(resolve=_mapped("127.0.0.1")) if guarded else None
    fetcher = HTTPSMPFetcher(timeout=2.0, peers=peers)
    made: list[object] = []
    real = ssl.create_default_context

    def counting(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        made.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(ssl, "create_default_context", counting)
    for _ in range(2):  # refused by the guard, or by nothing listening on port 1
        with pytest.raises(DiscoveryError):
            asyncio.run(fetcher.get("https://localhost:1/smp"))
    assert made == []

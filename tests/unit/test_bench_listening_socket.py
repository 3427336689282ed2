"""The loopback gateways' API port is taken from the moment it is chosen: ``listening_socket`` keeps it bound
until ``gateway serve`` inherits the socket, so another process (a parallel pytest-xdist worker) cannot take
the port in between, as it could when the port was found free, released and bound again by the server."""

from __future__ import annotations

import errno
import socket

import pytest

from gateway.bench.loopback import listening_socket


def test_the_port_of_a_listening_socket_cannot_be_taken_by_another_socket() -> None:
    with listening_socket() as listener:
        host, port = listener.getsockname()
        assert (host, port > 0) == ("127.0.0.1", True)
        with (
            socket.socket(socket.AF_INET, socket.SOCK_STREAM) as other,
            pytest.raises(OSError, match="in use") as taken,
        ):
            other.bind(("127.0.0.1", port))
        assert taken.value.errno == errno.EADDRINUSE


def test_a_listening_socket_accepts_connections_before_the_server_takes_it_over() -> None:
    """Queued by the kernel: a client connecting before ``gateway serve`` runs is served once it does."""
    with listening_socket() as listener, socket.create_connection(listener.getsockname(), timeout=2):
        accepted, _ = listener.accept()
        accepted.close()

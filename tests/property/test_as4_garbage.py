"""h11's fuzz invariant for the AS4 receiver: any byte string either parses or raises RemoteProtocolError.

An internal error (our bug, :class:`InboundInternalError`) is a RemoteProtocolError toward the peer but fails
here: every verdict must come from a rule of the profile.
"""

from __future__ import annotations

import pytest
from as4_support import make_message, receive
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from gateway.as4 import OutgoingMessage
from gateway.errors import InboundMessageRejected, RemoteProtocolError

_MSG: list[OutgoingMessage] = []


def _message() -> OutgoingMessage:
    if not _MSG:
        _MSG.append(make_message())
    return _MSG[0]


def _must_not_crash(headers: dict[str, str], body: bytes) -> None:
    """Parses, or raises a RemoteProtocolError that is a verdict of the profile (never an internal error)."""
    verdict: RemoteProtocolError | None = None
    try:
        receive(headers, body)
    except RemoteProtocolError as exc:
        verdict = exc
    internal = isinstance(verdict, InboundMessageRejected) and verdict.internal
    assert not internal, verdict


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2048))
def test_random_bytes_with_our_content_type(data: bytes) -> None:
    _must_not_crash(dict(_message().headers), data)


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=200), st.binary(max_size=512))
def test_random_content_type(content_type: str, data: bytes) -> None:
    _must_not_crash({"Content-Type": content_type}, data)


_MUTATION = st.tuples(
    st.integers(0, 1 << 20),
    st.sampled_from(["flip", "delete", "insert", "truncate"]),
    st.integers(1, 255),
    st.sampled_from([b"<", b">", b"\r\n", b"--", b"&x;", b"<!DOCTYPE a>", b"\x00"]),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_MUTATION, max_size=4))
@example([])  # the unmutated message must parse: a receiver that refuses everything would pass otherwise
def test_mutated_valid_message(mutations: list[tuple[int, str, int, bytes]]) -> None:
    msg = _message()
    body = bytearray(msg.body)
    for where, op, amount, insert in mutations:
        if not body:
            break
        pos = where % len(body)
        if op == "flip":
            body[pos] ^= amount
        elif op == "delete":
            del body[pos : pos + amount // 4 + 1]
        elif op == "insert":
            body[pos:pos] = insert
        else:
            del body[pos:]
    if not mutations:
        assert receive(dict(msg.headers), bytes(body)).message_id == msg.message_id
    _must_not_crash(dict(msg.headers), bytes(body))


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"--",
        b"\r\n\r\n",
        b"<S12:Envelope xmlns:S12='http://www.w3.org/2003/05/soap-envelope'/>",
        b"<?xml version='1.0' encoding='bogus'?><a/>",
        b"\xff\xfe<\x00a\x00/\x00>\x00",
    ],
)
def test_hand_picked_garbage(body: bytes) -> None:
    with pytest.raises(RemoteProtocolError):
        receive({"Content-Type": "application/soap+xml"}, body)
    with pytest.raises(RemoteProtocolError):
        receive(dict(_message().headers), body)

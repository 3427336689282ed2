"""h11's fuzz invariant for the AS4 receiver: any byte string either parses or raises RemoteProtocolError."""

from __future__ import annotations

import contextlib

import pytest
from as4_support import make_message, receive
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.as4 import OutgoingMessage
from gateway.errors import RemoteProtocolError

_MSG: list[OutgoingMessage] = []


def _message() -> OutgoingMessage:
    if not _MSG:
        _MSG.append(make_message())
    return _MSG[0]


def _must_not_crash(headers: dict[str, str], body: bytes) -> None:
    with contextlib.suppress(RemoteProtocolError):
        receive(headers, body)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2048))
def test_random_bytes_with_our_content_type(data: bytes) -> None:
    _must_not_crash(dict(_message().headers), data)


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=200), st.binary(max_size=512))
def test_random_content_type(content_type: str, data: bytes) -> None:
    _must_not_crash({"Content-Type": content_type}, data)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_valid_message(data: st.DataObject) -> None:
    msg = _message()
    body = bytearray(msg.body)
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(0, len(body) - 1))
        op = data.draw(st.sampled_from(["flip", "delete", "insert", "truncate"]))
        if op == "flip":
            body[pos] ^= data.draw(st.integers(1, 255))
        elif op == "delete":
            del body[pos : pos + data.draw(st.integers(1, 64))]
        elif op == "insert":
            body[pos:pos] = data.draw(
                st.sampled_from([b"<", b">", b"\r\n", b"--", b"&x;", b"<!DOCTYPE a>", b"\x00"])
            )
        else:
            del body[pos:]
        if not body:
            break
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

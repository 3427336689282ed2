"""``RequestTargets`` rewrites an absolute-form target into the scope an origin-form one has (RFC 9112
§3.2.2): path, raw path and a ``Host`` that is the target's authority, under a root path too; a path is
passed on untouched. The answers to other forms are checked over a socket in
tests/integration/test_request_targets.py."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from starlette.types import Message, Receive, Scope, Send

from gateway.api.request_target import RequestTargets


def _through(target: bytes, *, root: str = "", host: bytes = b"proxy.example") -> Scope:
    """The scope the application behind the middleware sees for ``target`` (as uvicorn makes it)."""
    seen: list[Scope] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(dict(scope))

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        raise AssertionError(f"answered instead of passed on: {message}")

    raw, _, query = target.partition(b"?")
    scope: dict[str, Any] = {
        "type": "http",
        "method": "GET",
        "root_path": root,
        "path": root + raw.decode("ascii"),
        "raw_path": root.encode("ascii") + raw,
        "query_string": query,
        "headers": [(b"host", host), (b"accept", b"*/*"), (b"host", b"second.example")],
    }
    asyncio.run(RequestTargets(app)(scope, receive, send))
    [passed] = seen
    return passed


def test_an_absolute_target_becomes_its_path_with_the_host_of_its_authority() -> None:
    scope = _through(b"http://gateway.example:8443/web/a%20b%2Fc?next=%2Fweb")
    assert scope["path"] == "/web/a b/c"
    assert scope["raw_path"] == b"/web/a%20b%2Fc"
    assert scope["query_string"] == b"next=%2Fweb"
    assert scope["headers"] == [(b"accept", b"*/*"), (b"host", b"gateway.example:8443")]


@pytest.mark.parametrize(("target", "path"), [(b"HTTPS://[::1]", "/"), (b"http://h?q", "/")])
def test_an_absolute_target_without_a_path_is_the_root(target: bytes, path: str) -> None:
    assert _through(target)["path"] == path


def test_the_root_path_is_kept() -> None:
    scope = _through(b"http://gateway.example/healthz", root="/gw")
    assert (scope["path"], scope["raw_path"]) == ("/gw/healthz", b"/gw/healthz")


def test_a_path_is_passed_on_untouched() -> None:
    scope = _through(b"/v1/outbound?limit=1")
    assert (scope["path"], scope["raw_path"]) == ("/v1/outbound", b"/v1/outbound")
    assert (b"host", b"proxy.example") in scope["headers"]

"""Request targets that are not a path (RFC 9112 §3.2), sent as raw bytes to ``gateway serve``'s uvicorn
configuration on loopback (``test_serve_limits.running``): uvicorn hands the whole target to the app, so
these used to reach the router as paths no route has and got the API's JSON 404 (``/web`` addresses too).

Absolute-form is served as its path, under the rules of that path; ``OPTIONS *`` is answered for the
server; ``CONNECT`` is a 501; any other target that is not a path is a 400 problem+json."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from gateway.config import Settings
from gateway.validation import ValidationEngine
from tests.integration.conftest import SENDER_KEY
from tests.integration.test_serve_limits import running


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def media_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0]


@pytest.fixture(scope="module")
def port(
    api_settings: Settings, validation_engine: ValidationEngine, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[int]:
    with running(api_settings, validation_engine, tmp_path_factory.mktemp("targets")) as served:
        yield served


def _read_answer(stream: socket.socket, buffer: bytearray) -> Answer:
    """One response from ``stream`` (Content-Length framed, as the app answers), bytes after it kept."""
    while b"\r\n\r\n" not in buffer:
        chunk = stream.recv(65536)
        assert chunk, f"connection closed before a response head: {bytes(buffer)!r}"
        buffer += chunk
    head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = stream.recv(65536)
        assert chunk, "connection closed inside a response body"
        rest += chunk
    buffer[:] = rest[length:]
    return Answer(int(status_line.split(" ")[1]), headers, rest[:length])


def send(port: int, *request_lines: str) -> list[Answer]:
    """Send each request line (with a Host field and any header lines after a newline) on one kept-alive
    connection, and read the answers in turn."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as stream:
        buffer = bytearray()
        answers = []
        for line in request_lines:
            first, *fields = line.split("\n")
            if not any(f.lower().startswith("host:") for f in fields):
                fields.append("Host: 127.0.0.1")
            stream.sendall("\r\n".join([first, *fields, "", ""]).encode("latin-1"))
            answers.append(_read_answer(stream, buffer))
        return answers


def problem(answer: Answer) -> dict[str, object]:
    assert answer.media_type == "application/problem+json", answer
    parsed: dict[str, object] = json.loads(answer.body)
    assert parsed["status"] == answer.status
    return parsed


@pytest.mark.parametrize(
    ("target", "status"),
    [
        ("/web/login", 200),
        ("/web/login?next=%2Fweb%2F", 200),
        ("/web/", 303),  # to the login page
        ("/web/no-such-page", 404),
        ("/healthz", 200),
        ("/v1/outbound", 401),
        ("/metrics", 401),  # the operations guard, which compares paths
        ("/no-such-address", 404),
    ],
)
@pytest.mark.parametrize("authority", ["127.0.0.1", "gateway.example:8443", "[::1]:80"])
def test_an_absolute_target_is_answered_as_its_path(
    port: int, target: str, status: int, authority: str
) -> None:
    """RFC 9112 §3.2.2: "a server MUST accept the absolute-form": the page, the page's 404 or login
    redirect, the API's 401, the operations guard's answer, as for the path itself."""
    scheme = "HTTPS" if authority.startswith("gateway") else "http"  # the scheme is case-insensitive
    origin, absolute = send(port, f"GET {target} HTTP/1.1", f"GET {scheme}://{authority}{target} HTTP/1.1")
    assert origin.status == status
    assert (absolute.status, absolute.media_type) == (origin.status, origin.media_type)
    assert absolute.headers.get("location") == origin.headers.get("location")
    if target.startswith("/web/") and status != 303:
        assert absolute.media_type == "text/html"


def test_an_absolute_target_with_an_api_key_reaches_the_route(port: int) -> None:
    [answer] = send(port, f"GET http://gateway.example/v1/outbound?limit=1 HTTP/1.1\nX-API-Key: {SENDER_KEY}")
    assert answer.status == 200, answer.body
    assert json.loads(answer.body)["items"] == []


def test_options_asterisk_asks_about_the_server(port: int) -> None:
    """RFC 9110 §9.3.7: OPTIONS * is about the server as a whole; the connection stays usable."""
    options, health = send(port, "OPTIONS * HTTP/1.1", "GET /healthz HTTP/1.1")
    assert (options.status, options.body) == (204, b"")
    assert {"GET", "HEAD", "POST", "PUT", "OPTIONS"} <= set(options.headers["allow"].split(", "))
    assert health.status == 200


@pytest.mark.parametrize("target", ["127.0.0.1:443", "gateway.example:443"])
def test_connect_is_not_implemented(port: int, target: str) -> None:
    """This server is no proxy: 501 (RFC 9110 §15.6.2), as problem+json."""
    [answer] = send(port, f"CONNECT {target} HTTP/1.1\nHost: {target}")
    assert answer.status == 501
    assert "CONNECT" in str(problem(answer)["title"])


def test_connect_to_a_path_is_answered_by_the_path(port: int) -> None:
    """A path is left to its routes, whatever the method: /web's 405 page, the API's JSON 405."""
    page, api = send(port, "CONNECT /web/login HTTP/1.1", "CONNECT /v1/outbound HTTP/1.1")
    assert (page.status, page.media_type) == (405, "text/html")
    assert (api.status, api.media_type) == (405, "application/problem+json")


@pytest.mark.parametrize(
    "request_line",
    [
        "GET * HTTP/1.1",
        "POST * HTTP/1.1\nContent-Length: 0",
        "GET ftp://gateway.example/v1/outbound HTTP/1.1",
        "GET http://user@gateway.example/healthz HTTP/1.1",
        "GET http:///healthz HTTP/1.1",
        "GET http:/healthz HTTP/1.1",
        "GET healthz HTTP/1.1",
        "GET 127.0.0.1:443 HTTP/1.1",
    ],
)
def test_another_target_that_is_not_a_path_is_a_400_problem(port: int, request_line: str) -> None:
    refused, health = send(port, request_line, "GET /healthz HTTP/1.1")
    assert refused.status == 400, refused
    assert "origin-form" in str(problem(refused)["title"])
    assert health.status == 200  # answered, not dropped: the connection stays usable


@pytest.mark.parametrize(
    "target",
    ["ftp://gateway.example/web/login", "http://user@gateway.example/web/", "HTTP:///web", "x-y://h/web/z?q"],
)
def test_a_refused_target_whose_path_is_a_web_address_gets_a_400_page(port: int, target: str) -> None:
    """Under /web every answer is a page (README, *Pages for people*), in the person's language."""
    [answer] = send(port, f"GET {target} HTTP/1.1\nAccept-Language: nl")
    assert (answer.status, answer.media_type) == (400, "text/html")
    assert "open het als een pad" in answer.body.decode()


class Bug(RuntimeError):
    """The programming error the test injects into ``RequestTargets``."""


def test_an_unexpected_error_in_request_targets_is_the_500_problem_of_the_error_middleware(
    port: int, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """``RequestTargets`` runs inside ``UnexpectedErrorMiddleware``: its own bug is answered with the
    problem+json 500 (an error id, nothing internal) and the connection stays usable, instead of Starlette's
    outermost handler answering and re-raising to the server, which drops the connection."""

    def broken(*_: object) -> str:
        raise Bug("injected: secret internal detail")

    monkeypatch.setattr("gateway.api.request_target._server_methods", broken)
    caplog.set_level(logging.ERROR, logger="gateway.api")
    failed, health = send(port, "OPTIONS * HTTP/1.1", "GET /healthz HTTP/1.1")
    assert failed.status == 500
    answer = problem(failed)
    assert answer["type"] == "/problems/internal"
    error_id = answer["error_id"]
    assert isinstance(error_id, str)
    assert error_id in str(answer["detail"])
    assert b"injected" not in failed.body  # nothing internal leaks
    assert failed.headers.get("connection", "").lower() != "close"
    assert health.status == 200  # the same connection answers the next request
    [record] = [r for r in caplog.records if error_id in r.getMessage()]
    assert record.exc_info is not None
    assert record.exc_info[0] is Bug

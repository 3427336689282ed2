"""Structured logging: JSON lines carrying the context ids, and secrets that never reach a log line."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import anyio
import pytest
from pydantic import SecretStr

from gateway.observability import (
    REDACTED,
    Redactor,
    configure_logging,
    current_log_context,
    log_context,
)

API_KEY = "sender-key-0123456789abcdefghij"
PASSWORD = "keystore-Pa55word!"
WEBHOOK_SECRET = "whsec-0123456789abcdef"
PEM = (
    "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n"
    "-----END PRIVATE KEY-----"
)


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    buffer = io.StringIO()
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    handler = configure_logging("DEBUG", json=True, stream=buffer)
    yield buffer
    root.removeHandler(handler)
    for old in handlers:
        if old not in root.handlers:
            root.addHandler(old)
    root.setLevel(level)


def lines(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


log = logging.getLogger("gateway.test")


def test_one_json_object_per_line_with_the_standard_keys(stream: io.StringIO) -> None:
    log.info("first\nsecond line")
    log.warning("count %d", 3)
    first, second = lines(stream)
    assert first["message"] == "first\nsecond line"  # the newline stays inside the JSON string
    assert first["level"] == "INFO"
    assert first["logger"] == "gateway.test"
    assert first["time"].endswith("Z")
    assert first["time"][10] == "T"
    assert second["message"] == "count 3"
    assert second["level"] == "WARNING"


def test_context_fields_are_added_nested_and_restored(stream: io.StringIO) -> None:
    with log_context(request_id="req-1", document_id="doc-1"):
        log.info("outer")
        with log_context(message_id="m-1@gw", document_id="doc-2", ignored=None):
            assert current_log_context() == {
                "request_id": "req-1",
                "document_id": "doc-2",
                "message_id": "m-1@gw",
            }
            log.info("inner")
        log.info("outer again")
    log.info("outside")
    outer, inner, again, outside = lines(stream)
    assert (outer["request_id"], outer["document_id"]) == ("req-1", "doc-1")
    assert "message_id" not in outer
    assert (inner["document_id"], inner["message_id"]) == ("doc-2", "m-1@gw")
    assert "ignored" not in inner
    assert again["document_id"] == "doc-1"
    assert "message_id" not in again
    assert not {"request_id", "document_id", "message_id"} & outside.keys()


def test_context_is_separate_per_task(stream: io.StringIO) -> None:
    async def worker(document_id: str, ready: anyio.Event, other: anyio.Event) -> None:
        with log_context(document_id=document_id):
            ready.set()
            await other.wait()  # both contexts are open at the same time
            log.info("working")

    async def main() -> None:
        a, b = anyio.Event(), anyio.Event()
        async with anyio.create_task_group() as group:
            group.start_soon(worker, "doc-a", a, b)
            group.start_soon(worker, "doc-b", b, a)

    anyio.run(main)
    working = [line for line in lines(stream) if line["logger"] == "gateway.test"]
    assert sorted(line["document_id"] for line in working) == ["doc-a", "doc-b"]


def test_extra_fields_are_included(stream: io.StringIO) -> None:
    log.info("sent", extra={"attempt": 2, "receiver": "0208:0123456749"})
    (line,) = lines(stream)
    assert line["attempt"] == 2
    assert line["receiver"] == "0208:0123456749"


def test_secrets_never_reach_the_log(stream: io.StringIO) -> None:
    headers = {"Authorization": f"Bearer {API_KEY}", "X-API-Key": API_KEY, "Content-Type": "application/json"}
    log.info("request headers %s", headers)
    log.info("settings %s", {"keystore": {"path": "/etc/ap.p12", "password": PASSWORD}})
    log.info("secret object %s and repr %r", SecretStr(WEBHOOK_SECRET), SecretStr(WEBHOOK_SECRET))
    log.info("raw header line: Authorization: Bearer %s", API_KEY)
    log.info("header pairs %s", [("authorization", f"Basic {API_KEY}"), ("accept", "*/*")])
    log.info("key material %s", PEM)
    log.info("database postgresql+psycopg://gateway:%s@db.internal/gateway", PASSWORD)
    log.info("query ?api_key=%s&x=1 and password=%s", API_KEY, PASSWORD)
    log.info("loaded", extra={"password": PASSWORD, "webhook_secret": WEBHOOK_SECRET, "headers": headers})
    with log_context(document_id="doc-1", api_key=API_KEY):
        log.info("in context")
    text = stream.getvalue()
    for secret in (API_KEY, PASSWORD, WEBHOOK_SECRET, "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7"):
        assert secret not in text
    records = lines(stream)
    assert len(records) == 10
    # What is not secret survives, so the lines stay useful.
    assert "application/json" in records[0]["message"]
    assert REDACTED in records[0]["message"]
    assert "/etc/ap.p12" in records[1]["message"]
    assert "db.internal/gateway" in records[6]["message"]
    assert records[8]["password"] == REDACTED
    assert records[8]["headers"]["Authorization"] == REDACTED
    assert records[8]["headers"]["Content-Type"] == "application/json"
    assert records[9]["document_id"] == "doc-1"


def test_exception_traces_are_redacted(stream: io.StringIO) -> None:
    try:
        raise RuntimeError(f"connect failed for postgresql://gw:{PASSWORD}@db/gw with token={API_KEY}")
    except RuntimeError:
        log.exception("store down")
    (line,) = lines(stream)
    assert "RuntimeError" in line["exception"]
    assert PASSWORD not in line["exception"]
    assert API_KEY not in line["exception"]


def test_known_secret_values_are_removed_anywhere() -> None:
    buffer = io.StringIO()
    root = logging.getLogger()
    handler = configure_logging("INFO", json=True, secrets=[API_KEY, "short"], stream=buffer)
    try:

        class Opaque:
            def __str__(self) -> str:
                return f"opaque<{API_KEY}>"

        log.info("the key appears plainly: %s", API_KEY.upper().lower())
        log.info("inside an object", extra={"thing": Opaque()})
    finally:
        root.removeHandler(handler)
    assert API_KEY not in buffer.getvalue()


def test_short_secrets_are_redacted_as_tokens_not_inside_words() -> None:
    # A 3-5 character secret (the development keystore password "dev") is still redacted by value, but only
    # where it stands alone: "development" and "/dev/null" stay readable.
    redactor = Redactor(["dev", "k3y!"])
    assert (
        redactor.text("password dev refused; key k3y! too")
        == "password [REDACTED] refused; key [REDACTED] too"
    )
    assert redactor.text("password dev.") == "password [REDACTED]."
    unchanged = "stage development, /dev/null, gateway.dev, devpki and dev-pki"
    assert redactor.text(unchanged) == unchanged


def test_short_configured_secret_is_redacted_in_log_lines() -> None:
    buffer = io.StringIO()
    root = logging.getLogger()
    handler = configure_logging("INFO", json=True, secrets=["q7Zx"], stream=buffer)
    try:
        log.info("a short configured value: %s, q7Zxy", "q7Zx")
    finally:
        root.removeHandler(handler)
    assert lines(buffer)[0]["message"] == "a short configured value: [REDACTED], q7Zxy"


def test_text_format_is_redacted_too() -> None:
    buffer = io.StringIO()
    root = logging.getLogger()
    handler = configure_logging("INFO", json=False, stream=buffer)
    try:
        with log_context(document_id="doc-9"):
            log.info("headers %s", {"Authorization": f"Bearer {API_KEY}"})
    finally:
        root.removeHandler(handler)
    text = buffer.getvalue()
    assert API_KEY not in text
    assert "gateway.test: headers" in text
    assert "document_id=doc-9" in text


def test_reconfiguring_replaces_only_our_handler() -> None:
    root = logging.getLogger()
    foreign = logging.NullHandler()
    root.addHandler(foreign)
    try:
        first = configure_logging("INFO", json=True, stream=io.StringIO())
        second = configure_logging("WARNING", json=False, stream=io.StringIO())
        assert first not in root.handlers
        assert second in root.handlers
        assert foreign in root.handlers
        assert root.level == logging.WARNING
    finally:
        root.removeHandler(foreign)
        root.removeHandler(second)


def test_redactor_values() -> None:
    redactor = Redactor()
    assert redactor.value({"Password": "x", "nested": {"client_secret": "y"}, "ok": 1}) == {
        "Password": REDACTED,
        "nested": {"client_secret": REDACTED},
        "ok": 1,
    }
    assert redactor.value(SecretStr("abc")) == REDACTED
    assert redactor.text("Authorization: Bearer abc.def-ghi") == f"Authorization: {REDACTED} {REDACTED}"
    assert redactor.text("document_number=INV-1 seller=PU-9") == "document_number=INV-1 seller=PU-9"

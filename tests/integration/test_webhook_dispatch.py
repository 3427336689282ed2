"""Webhook dispatch over real HTTP to a loopback receiver that verifies the signature with the shared
secret: delivered, 500, timeout, refused connection, 410, wrong secret, attempt limit, and the worker loop."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import anyio
import pytest

from gateway.services.backoff import BackoffPolicy
from gateway.services.ports import OutboxEntry, WebhookMessage
from gateway.services.webhook_signature import SIGNATURE_HEADER, SignatureCheck, check_webhook_signature
from gateway.services.webhooks import WebhookAttempt, WebhookDispatcher, WebhookOutcome
from gateway.store import SQLDocumentStore, make_engine, upgrade_database
from gateway.transport.webhook_http import HTTPWebhookSender
from gateway.worker.webhooks import WebhookWorker
from tests.store_faults import SHORT_BUSY_TIMEOUT, database_outage

SECRET = b"whsec-integration-0123456789"
T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
RETRY = BackoffPolicy(base=timedelta(seconds=30), cap=timedelta(minutes=10), max_attempts=3)


class FakeClock:
    def __init__(self) -> None:
        self.current = T0

    def now(self) -> datetime:
        return self.current


class UUIDs:
    def new_id(self) -> str:
        return str(uuid.uuid4())


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    verdict: SignatureCheck


@dataclass
class Receiver:
    """A loopback webhook receiver. Paths choose the answer: /ok (2xx if the signature verifies, else
    401), /status/<code>, /hang (no answer until released)."""

    clock: FakeClock
    secret: bytes = SECRET
    received: list[Received] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    url: str = ""

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        body = handler.rfile.read(int(handler.headers.get("Content-Length", "0")))
        verdict = check_webhook_signature(
            body, handler.headers.get(SIGNATURE_HEADER), secret=self.secret, now=self.clock.now()
        )
        self.received.append(Received(handler.path, dict(handler.headers.items()), body, verdict))
        if handler.path == "/hang":
            self.release.wait(10)
            status = 200
        elif handler.path.startswith("/status/"):
            status = int(handler.path.rsplit("/", 1)[1])
        else:
            status = 204 if verdict is SignatureCheck.VALID else 401
        handler.send_response(status)
        handler.send_header("Content-Length", "0")
        handler.end_headers()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(FakeClock())

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            state.handle(self)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield state
    state.release.set()
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLDocumentStore]:
    url = f"sqlite:///{tmp_path / 'gateway.db'}"
    upgrade_database(url)
    store = SQLDocumentStore.from_url(url)
    yield store
    store.close()


#: The configured webhook endpoints of these tests: target reference -> URL (the outbox keeps the reference).
TARGETS: dict[str, str] = {}


def add_webhook(store: SQLDocumentStore, url: str, *, document_id: str | None = None) -> WebhookMessage:
    """Queue an event for ``url``, configured under a fresh target reference."""
    event_id = str(uuid.uuid4())
    target = f"target-{event_id}"
    TARGETS[target] = url
    message = WebhookMessage(
        id=event_id,
        target=target,
        payload={"id": event_id, "type": "outbound.status_changed", "data": {"status": "délivré"}},
        created_at=T0,
        document_id=document_id,
    )
    with store.unit_of_work() as uow:
        uow.outbox.add(message)
        uow.commit()
    return message


def entry(store: SQLDocumentStore, message: WebhookMessage) -> OutboxEntry:
    with store.unit_of_work(read_only=True) as uow:
        found = uow.outbox.get(message.id)
    assert found is not None
    return found


def dispatcher(
    store: SQLDocumentStore, receiver: Receiver, sender: HTTPWebhookSender, *, secrets: bytes = SECRET
) -> WebhookDispatcher:
    return WebhookDispatcher(
        store=store,
        sender=sender,
        clock=receiver.clock,
        ids=UUIDs(),
        secrets=secrets,
        retry=RETRY,
        jitter=lambda: 0.0,
        batch_size=5,
        targets=TARGETS,
    )


async def dispatch(
    store: SQLDocumentStore, receiver: Receiver, *, timeout: float = 5.0, secrets: bytes = SECRET
) -> list[WebhookAttempt]:
    async with HTTPWebhookSender(timeout=timeout) as sender:
        return await dispatcher(store, receiver, sender, secrets=secrets).dispatch_due()


def test_delivered_webhook_is_signed_and_marked(store: SQLDocumentStore, receiver: Receiver) -> None:
    message = add_webhook(store, f"{receiver.url}/ok", document_id="doc-1")
    (result,) = anyio.run(dispatch, store, receiver)
    assert (result.outcome, result.status_code, result.attempt, result.recorded) == (
        WebhookOutcome.DELIVERED,
        204,
        1,
        True,
    )
    (request,) = receiver.received
    assert request.verdict is SignatureCheck.VALID
    assert json.loads(request.body) == message.payload
    assert request.headers["X-Gateway-Event-Id"] == message.id
    assert request.headers["X-Gateway-Delivery-Attempt"] == "1"
    assert request.headers["Content-Type"] == "application/json"
    stored = entry(store, message)
    assert stored.delivered_at == T0
    assert stored.failed_at is None
    assert stored.attempts == 1
    # never sent again
    receiver.clock.current = T0 + timedelta(days=1)
    assert anyio.run(dispatch, store, receiver) == []
    assert len(receiver.received) == 1


def test_http_500_is_rescheduled_with_backoff(store: SQLDocumentStore, receiver: Receiver) -> None:
    message = add_webhook(store, f"{receiver.url}/status/500")
    (result,) = anyio.run(dispatch, store, receiver)
    assert result.outcome is WebhookOutcome.RETRY
    assert result.next_attempt_at == T0 + timedelta(seconds=30)
    stored = entry(store, message)
    assert (stored.due_at, stored.attempts, stored.last_error) == (T0 + timedelta(seconds=30), 1, "HTTP 500")
    assert stored.delivered_at is None
    assert stored.failed_at is None

    receiver.clock.current = T0 + timedelta(seconds=29)
    assert anyio.run(dispatch, store, receiver) == []  # not due yet

    receiver.clock.current = T0 + timedelta(seconds=30)
    (second,) = anyio.run(dispatch, store, receiver)
    assert (second.outcome, second.attempt) == (WebhookOutcome.RETRY, 2)
    assert second.next_attempt_at == receiver.clock.current + timedelta(seconds=30)  # jitter 0: the floor
    assert [r.headers["X-Gateway-Delivery-Attempt"] for r in receiver.received] == ["1", "2"]
    # every attempt is signed anew at its own time and verifies
    assert all(r.verdict is SignatureCheck.VALID for r in receiver.received)
    assert receiver.received[0].headers[SIGNATURE_HEADER] != receiver.received[1].headers[SIGNATURE_HEADER]


def test_timeout_is_rescheduled(store: SQLDocumentStore, receiver: Receiver) -> None:
    message = add_webhook(store, f"{receiver.url}/hang")
    (result,) = anyio.run(lambda: dispatch(store, receiver, timeout=0.3))
    receiver.release.set()
    assert result.outcome is WebhookOutcome.RETRY
    assert result.status_code is None
    assert result.error is not None
    assert "timed out" in result.error
    stored = entry(store, message)
    assert stored.due_at == T0 + timedelta(seconds=30)
    assert stored.last_error == result.error


def test_refused_connection_is_rescheduled(store: SQLDocumentStore, receiver: Receiver) -> None:
    import socket

    with socket.socket() as probe:  # a port with nobody listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    message = add_webhook(store, f"http://127.0.0.1:{port}/ok")
    (result,) = anyio.run(dispatch, store, receiver)
    assert result.outcome is WebhookOutcome.RETRY
    assert entry(store, message).last_error == result.error


def test_attempt_limit_fails_the_entry(store: SQLDocumentStore, receiver: Receiver) -> None:
    message = add_webhook(store, f"{receiver.url}/status/503")
    outcomes = []
    for attempt in range(RETRY.max_attempts):
        receiver.clock.current = T0 + timedelta(hours=attempt)
        (result,) = anyio.run(dispatch, store, receiver)
        outcomes.append(result.outcome)
    assert outcomes == [WebhookOutcome.RETRY, WebhookOutcome.RETRY, WebhookOutcome.FAILED]
    stored = entry(store, message)
    assert stored.failed_at == receiver.clock.current
    assert stored.attempts == 3
    assert stored.last_error == "HTTP 503; gave up after 3 attempts"
    receiver.clock.current += timedelta(days=1)
    assert anyio.run(dispatch, store, receiver) == []
    assert len(receiver.received) == 3


def test_gone_fails_at_once(store: SQLDocumentStore, receiver: Receiver) -> None:
    message = add_webhook(store, f"{receiver.url}/status/410")
    (result,) = anyio.run(dispatch, store, receiver)
    assert result.outcome is WebhookOutcome.FAILED
    assert entry(store, message).failed_at == T0


def test_an_entry_whose_target_is_no_longer_configured_fails_without_a_send(
    store: SQLDocumentStore, receiver: Receiver
) -> None:
    message = add_webhook(store, f"{receiver.url}/ok")
    del TARGETS[message.target]  # the endpoint was removed from the configuration
    (result,) = anyio.run(dispatch, store, receiver)
    assert (result.outcome, result.error) == (
        WebhookOutcome.FAILED,
        f"no webhook target {message.target!r} is configured",
    )
    assert entry(store, message).failed_at == T0
    assert receiver.received == []


def test_unsupported_scheme_fails_at_once(store: SQLDocumentStore, receiver: Receiver) -> None:
    message = add_webhook(store, "ftp://127.0.0.1/hooks")
    (result,) = anyio.run(dispatch, store, receiver)
    assert result.outcome is WebhookOutcome.FAILED
    assert entry(store, message).failed_at == T0


def test_receiver_with_another_secret_refuses_and_we_retry(
    store: SQLDocumentStore, receiver: Receiver
) -> None:
    message = add_webhook(store, f"{receiver.url}/ok")
    (result,) = anyio.run(lambda: dispatch(store, receiver, secrets=b"whsec-not-the-shared-one-000"))
    assert receiver.received[0].verdict is SignatureCheck.MISMATCH
    assert (result.outcome, result.status_code) == (WebhookOutcome.RETRY, 401)
    assert entry(store, message).delivered_at is None


def test_batch_sends_each_due_entry_once(store: SQLDocumentStore, receiver: Receiver) -> None:
    messages = [add_webhook(store, f"{receiver.url}/ok") for _ in range(7)]
    first = anyio.run(dispatch, store, receiver)
    second = anyio.run(dispatch, store, receiver)
    assert (len(first), len(second)) == (5, 2)  # batch_size 5
    assert sorted(r.message_id for r in first + second) == sorted(m.id for m in messages)
    assert sorted(r.headers["X-Gateway-Event-Id"] for r in receiver.received) == sorted(
        m.id for m in messages
    )


def test_worker_loop_delivers_and_stops_gracefully(store: SQLDocumentStore, receiver: Receiver) -> None:
    messages = [add_webhook(store, f"{receiver.url}/ok") for _ in range(12)]

    async def main() -> None:
        async with HTTPWebhookSender(timeout=5.0) as sender:
            worker = WebhookWorker(dispatcher(store, receiver, sender), poll_interval=0.05)
            async with anyio.create_task_group() as group:
                group.start_soon(worker.run)
                with anyio.fail_after(10):  # a guard against hanging, not a timing assertion
                    while len(receiver.received) < len(messages):
                        await anyio.sleep(0.02)
                worker.stop()
            assert worker.stopping

    anyio.run(main)
    assert all(entry(store, m).delivered_at == T0 for m in messages)
    assert len(receiver.received) == len(messages)


def test_a_database_outage_while_recording_is_retried_not_resent(
    store: SQLDocumentStore, receiver: Receiver
) -> None:
    faulty = SQLDocumentStore(make_engine(store.engine.url, busy_timeout=SHORT_BUSY_TIMEOUT))
    message = add_webhook(faulty, f"{receiver.url}/hang")

    async def main() -> list[WebhookAttempt]:
        async with HTTPWebhookSender(timeout=5.0) as sender, anyio.create_task_group() as group:
            results: list[WebhookAttempt] = []

            async def run() -> None:
                results.extend(await dispatcher(faulty, receiver, sender).dispatch_due())

            group.start_soon(run)
            with anyio.fail_after(5):
                while not receiver.received:
                    await anyio.sleep(0.02)
            with database_outage(faulty.engine.url):
                receiver.release.set()  # the 200 arrives while the database is locked
                await anyio.sleep(1.0)
            with anyio.fail_after(5):  # recorded within seconds of the database coming back
                while not results:
                    await anyio.sleep(0.02)
        return results

    try:
        (result,) = anyio.run(main)
    finally:
        faulty.close()
    assert (result.outcome, result.recorded) == (WebhookOutcome.DELIVERED, True)
    assert entry(store, message).delivered_at == T0
    assert len(receiver.received) == 1  # not sent again


def test_worker_is_built_outside_an_event_loop_and_stops_before_running(
    store: SQLDocumentStore, receiver: Receiver
) -> None:
    add_webhook(store, f"{receiver.url}/ok")
    sender = HTTPWebhookSender(timeout=5.0)
    worker = WebhookWorker(dispatcher(store, receiver, sender), poll_interval=0.05)  # no loop running here
    assert worker.stopping is False
    worker.stop()

    async def main() -> None:
        async with sender:
            await worker.run()  # returns at once: nothing is sent

    anyio.run(main)
    assert receiver.received == []

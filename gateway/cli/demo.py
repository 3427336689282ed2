"""``gateway demo``: the main job on the embedded default, self-contained on loopback.

1. Generates a development PKI (root -> AP CA -> our AP certificate) and a local participant directory in
   which every buyer of the bundled sample documents is served by this same gateway's ``/as4`` endpoint.
2. Starts the gateway API (``gateway serve``) and a delivery worker (``gateway worker``) as separate
   processes on SQLite, plus a small webhook receiver that checks the HMAC signature of status events.
3. Posts every sample document to ``/v1/outbound/...`` over real HTTP. The worker sends each one over AS4
   (signed, encrypted) to ``/as4``, which stores it as an inbound document and answers a signed receipt;
   the worker verifies the receipt and marks the document delivered.
4. Prints the statuses, the inbound side and the webhook events. Exit code 0 when every accepted document
   was delivered and received, and nothing failed.
5. Every received document became an expense draft (production units are loaded first): support assigns
   some from triage, which are approved and paid, rejected or queried; the expense board is printed.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from gateway.bench.loopback import free_port, prepare_loopback, run_gateway, wait_ready
from gateway.cli.demo_expenses import load_units, play_and_print_board
from gateway.config import PROJECT_ROOT, Settings
from gateway.errors import GatewayError
from gateway.model import complete_document
from gateway.services.conversion import parse_document_json
from gateway.services.webhook_signature import SignatureCheck, check_webhook_signature

DEFAULT_SAMPLES = PROJECT_ROOT / "tests" / "data" / "documents"
DEFAULT_WORKDIR = PROJECT_ROOT / "var" / "demo"
FINAL = ("delivered", "failed")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("demo", help="run the self-contained AS4 demonstration on loopback (SQLite)")
    p.add_argument("--samples", type=Path, default=DEFAULT_SAMPLES, help="folder of JSON documents")
    p.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR, help="database, PKI, logs (recreated)")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for every delivery")
    p.set_defaults(func=run_demo)


class _WebhookLog:
    """Collects the webhook events the gateway posts, checking each HMAC signature."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.events: list[dict[str, Any]] = []
        self.bad_signatures = 0
        self.lock = threading.Lock()

    def handler(self) -> type[BaseHTTPRequestHandler]:
        log = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                check = check_webhook_signature(
                    body,
                    self.headers.get("X-Gateway-Signature", ""),
                    secret=log.secret.encode(),
                    now=datetime.now(UTC),
                )
                with log.lock:
                    if check is SignatureCheck.VALID:
                        log.events.append(json.loads(body))
                    else:
                        log.bad_signatures += 1
                self.send_response(204 if check is SignatureCheck.VALID else 401)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler


@contextmanager
def _webhook_receiver(log: _WebhookLog) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), log.handler())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hooks/gateway"
    finally:
        server.shutdown()
        server.server_close()


def _prepare(workdir: Path, samples: list[Path], as4_url: str) -> tuple[dict[str, str], list[str]]:
    """Write the PKI and the directory; return the environment of the gateway and the served ids."""
    buyers: list[str] = []
    for path in samples:
        try:
            doc = complete_document(parse_document_json(path.read_bytes()))
        except GatewayError:
            continue  # refused documents (a private person) are shown when posted
        if doc.buyer.endpoint is not None:
            buyers.append(f"{doc.buyer.endpoint.scheme}:{doc.buyer.endpoint.value}")
    served = sorted(set(buyers))
    return prepare_loopback(workdir, served=served, as4_url=as4_url), served


def _post(client: httpx.Client, path: Path) -> tuple[str, str | None, str]:
    """Post one sample; returns (outcome, document id, detail)."""
    body = path.read_bytes()
    kind = json.loads(body).get("kind", "invoice")
    route = "/v1/outbound/credit-notes" if kind == "credit_note" else "/v1/outbound/invoices"
    response = client.post(route, content=body, headers={"Content-Type": "application/json"})
    if response.status_code in (200, 201, 202):
        return "accepted", response.json()["id"], ""
    problem = response.json()
    reasons = problem.get("errors") or [i.get("message") for i in problem.get("report", {}).get("issues", [])]
    return "refused", None, f"{response.status_code} {problem.get('title')}: {'; '.join(map(str, reasons))}"


def run_demo(args: argparse.Namespace, settings: Settings) -> int:
    logging.getLogger("httpx").setLevel(logging.WARNING)
    samples = sorted(args.samples.glob("*.json"))
    if not samples:
        print(f"demo: no JSON documents in {args.samples}", file=sys.stderr)
        return 2
    workdir: Path = args.workdir.resolve()
    port = free_port()
    api_key = secrets.token_urlsafe(32)
    webhooks = _WebhookLog(secrets.token_urlsafe(24))
    env_extra, served = _prepare(workdir, samples, f"http://127.0.0.1:{port}/as4")
    with _webhook_receiver(webhooks) as hook_url:
        env = {
            **os.environ,
            **env_extra,
            "GATEWAY_API__KEYS": json.dumps([{"name": "demo", "role": "admin", "key": api_key}]),
            "GATEWAY_WEBHOOKS__URL": hook_url,
            "GATEWAY_WEBHOOKS__SECRET": webhooks.secret,
        }
        print(f"demo: working directory {workdir}")
        print(f"demo: API and AS4 endpoint on http://127.0.0.1:{port}, serving {len(served)} participants")
        with (
            run_gateway(workdir, env, port=port, workers=1) as gateway,
            httpx.Client(
                base_url=gateway.base_url,
                headers={"Authorization": f"Bearer {api_key}"},
                timeout=60,
            ) as client,
        ):
            wait_ready(client, gateway.all, 120)
            load_units(client)
            code = _exchange(client, samples, args.timeout, webhooks)
    return code


def _exchange(client: httpx.Client, samples: list[Path], timeout: float, webhooks: _WebhookLog) -> int:
    posted: dict[str, tuple[Path, str | None, str]] = {}
    for path in samples:
        outcome, doc_id, detail = _post(client, path)
        posted[path.name] = (path, doc_id, detail)
        print(f"  posted {path.name:<38} {outcome}{(': ' + detail) if detail else ''}")
    ids = {name: doc_id for name, (_, doc_id, _) in posted.items() if doc_id}
    deadline = time.monotonic() + timeout
    states: dict[str, dict[str, Any]] = {}
    while time.monotonic() < deadline:
        states = {name: client.get(f"/v1/outbound/{doc_id}").json() for name, doc_id in ids.items()}
        if all(s["status"] in FINAL for s in states.values()):
            break
        time.sleep(0.5)
    print(f"\n{'document':<40} {'number':<16} {'status':<10} {'tries':>5}  AS4 message id")
    for name, state in states.items():
        number, tries = state.get("document_number", ""), state.get("attempts", 0)
        reason = f"  ({state['status_reason']})" if state.get("status_reason") else ""
        message_id = state.get("as4_message_id") or "-"
        print(f"{name:<40} {number:<16} {state['status']:<10} {tries:>5}  {message_id}{reason}")
    inbound = client.get("/v1/inbound", params={"limit": 100}).json()
    items = inbound.get("items", [])
    by_status: dict[str, int] = {}
    for item in items:
        by_status[item["status"]] = by_status.get(item["status"], 0) + 1
    delivered = sum(1 for s in states.values() if s["status"] == "delivered")
    # Each delivered document emits accepted, sending and delivered events; the outbox sends them shortly
    # after the status change, so wait (bounded) for the last ones.
    expected, deadline = 3 * delivered, time.monotonic() + 15
    while time.monotonic() < deadline:
        with webhooks.lock:
            events, bad = len(webhooks.events), webhooks.bad_signatures
        if events >= expected:
            break
        time.sleep(0.2)
    print(
        f"\ndemo: {delivered} of {len(ids)} accepted documents delivered over AS4 with a verified receipt; "
        f"{len(samples) - len(ids)} refused with a reason"
    )
    print(f"demo: the /as4 endpoint received {len(items)} documents {by_status}")
    print(f"demo: {events} webhook status events received with a valid HMAC signature, {bad} invalid")
    ok = delivered == len(ids) and len(items) == delivered and bad == 0
    ok &= play_and_print_board(client, by_status.get("valid", 0))
    return 0 if ok else 1

"""``gateway demo``: a local Peppol network in one command, on loopback and SQLite.

1. Generates one development PKI (root -> AP CA -> ``POP000001`` for the cooperative and ``POP000002`` for
   a partner AP; root -> SMP CA -> the SMP signing certificate) and starts the development SML (DNS NAPTR on
   loopback) and SMP (signed metadata over HTTP) with every participant published (``demo_network``).
2. Starts two access points, each a ``gateway serve`` and a ``gateway worker`` on its own SQLite file, both
   in ``GATEWAY_DISCOVERY__MODE=sml``: they know each other only through the SML and the SMP. The partner AP
   validates what it receives in its worker (``GATEWAY_AS4__AFTER_RECEIPT=worker``), the cooperative in its
   ``serve``.
3. Shows lookups before send from the cooperative's API: a client found (then cached), a participant not
   registered, and a client that accepts invoices but not credit notes.
4. The cooperative posts every sample document (the partner AP receives for its clients); the private
   person (no Peppol id, an e-mail address) is e-mailed to an SMTP relay on loopback (``demo_mail``); a
   credit note to the invoice-only client fails at the first attempt with the discovery reason; the partner
   AP posts its seller's invoices for several production units (one unroutable), then a credit note
   (``demo_suppliers``).
5. Prints the statuses both ways, what each AP received and the webhook events (HMAC-checked).
6. The supplier documents landed as expense drafts in their units or in triage; unit members (keys scoped
   to their unit) approve, reject and query, support marks one paid; the board is printed (``demo_expenses``).
7. The Invoice Responses (T111) and MLS travel back over AS4 and are attached to what they answer; the
   partner AP's view and the counts of answers sent, received valid and fatal findings are printed
   (``demo_responses``).

Exit code 0 only when every accepted document was delivered and received (the private person by e-mail,
with the PDF and the UBL attached), the lookups gave the expected outcomes, the credit note failed fast,
every draft landed where expected, every action was accepted, and every expected T111 and MLS was sent,
received valid (zero fatal) and attached.
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

from gateway.bench.loopback import run_gateway, wait_ready
from gateway.bootstrap import PLACEHOLDER_SELLER_IDS
from gateway.cli.demo_expenses import (
    RESPONSE_STATUSES,
    DemoKeys,
    expected_responses,
    load_units,
    play_and_print_board,
)
from gateway.cli.demo_mail import MailBox, mail_relay, show_emailed
from gateway.cli.demo_network import demo_network
from gateway.cli.demo_responses import show_responses
from gateway.cli.demo_serve import serve_until_interrupted
from gateway.cli.demo_suppliers import SUPPLIERS, SupplierDocument, supplier_documents
from gateway.config import PROJECT_ROOT, Settings
from gateway.errors import GatewayError
from gateway.model import complete_document
from gateway.model.identifiers import EMAIL_SCHEME
from gateway.services.conversion import parse_document_json
from gateway.services.webhook_signature import SignatureCheck, check_webhook_signature

DEFAULT_SAMPLES = PROJECT_ROOT / "tests" / "data" / "documents"
DEFAULT_WORKDIR = PROJECT_ROOT / "var" / "demo"
FINAL = ("delivered", "confirmed", "rejected", "failed", "delivered_by_email")
DELIVERED = ("delivered", "confirmed", "rejected")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("demo", help="run the self-contained AS4 demonstration on loopback (SQLite)")
    p.add_argument("--samples", type=Path, default=DEFAULT_SAMPLES, help="folder of JSON documents")
    p.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR, help="database, PKI, logs (recreated)")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for every delivery")
    p.add_argument("--serve", action="store_true", help="keep the cooperative's gateway running (/web pages)")
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


def _endpoint(doc_path: Path) -> str | None:
    """The buyer's Peppol participant id, to publish in the SMP; None for a refused document or a buyer
    outside Peppol (BT-49 scheme EM: a private person, e-mailed)."""
    try:
        doc = complete_document(parse_document_json(doc_path.read_bytes()))
    except GatewayError:
        return None  # refused documents are shown when posted
    endpoint = doc.buyer.endpoint
    if endpoint is None or endpoint.scheme == EMAIL_SCHEME:
        return None
    return f"{endpoint.scheme}:{endpoint.value}"


def _post(client: httpx.Client, path: Path | bytes) -> tuple[str, str | None, str]:
    """Post one sample (a file or its bytes); returns (outcome, document id, detail)."""
    body = path.read_bytes() if isinstance(path, Path) else path
    kind = json.loads(body).get("kind", "invoice")
    route = "/v1/outbound/credit-notes" if kind == "credit_note" else "/v1/outbound/invoices"
    response = client.post(route, content=body, headers={"Content-Type": "application/json"})
    if response.status_code in (200, 201, 202):
        return "accepted", response.json()["id"], ""
    problem = response.json()
    reasons = problem.get("errors") or [i.get("message") for i in problem.get("report", {}).get("issues", [])]
    return "refused", None, f"{response.status_code} {problem.get('title')}: {'; '.join(map(str, reasons))}"


#: Participants of the demo network beside the samples' parties (0208 numbers pass the mod-97 check).
INVOICE_ONLY = "0208:0442000096"  # a client of the partner AP that does not accept credit notes
UNREGISTERED = "0208:0442004056"  # a company that is not on Peppol
#: The legal name every sample (tests/data/documents) gives its seller as BT-27: the samples are sold by the
#: documentation's example seller (``PLACEHOLDER_SELLER_IDS``, the default ``GATEWAY_SELLER_ID``).
SAMPLES_SELLER_NAME = "Cooperatieve Vennootschap Samenwerking CV"


def seller_name_variables(settings: Settings) -> tuple[dict[str, str], dict[str, str]]:
    """``GATEWAY_SELLER_NAME`` of the cooperative's AP and of the partner AP, as environment entries. The
    cooperative's is the configured one, else the samples' seller name when it is the samples' seller
    (another seller's samples are not known here: their BT-27 is then not checked); the partner AP's is
    its one supplier's, whatever the cooperative's environment says."""
    partner = {"GATEWAY_SELLER_NAME": SUPPLIERS[0].name}
    if settings.seller_name is not None:
        return {"GATEWAY_SELLER_NAME": settings.seller_name}, partner
    if settings.seller_id in PLACEHOLDER_SELLER_IDS:
        return {"GATEWAY_SELLER_NAME": SAMPLES_SELLER_NAME}, partner
    return {}, partner


def run_demo(args: argparse.Namespace, settings: Settings) -> int:
    logging.getLogger("httpx").setLevel(logging.WARNING)
    samples = sorted(args.samples.glob("*.json"))
    if not samples:
        print(f"demo: no JSON documents in {args.samples}", file=sys.stderr)
        return 2
    workdir: Path = args.workdir.resolve()
    keys = DemoKeys()
    webhooks = _WebhookLog(secrets.token_urlsafe(24))
    supplier_docs = supplier_documents(samples)
    clients = sorted({e for e in map(_endpoint, samples) if e is not None})
    suppliers = [s.participant for s in SUPPLIERS]
    with (
        demo_network(
            workdir,
            cooperative=settings.seller_id,
            clients=clients,
            suppliers=suppliers,
            invoice_only=[INVOICE_ONLY],
        ) as net,
        _webhook_receiver(webhooks) as hook_url,
        mail_relay() as mailbox,
    ):
        coop, partner = net.cooperative, net.partner
        coop_name, partner_name = seller_name_variables(settings)
        coop_env = {
            **os.environ,
            **coop.env,
            **coop_name,
            "GATEWAY_API__KEYS": keys.config(),
            "GATEWAY_WEBHOOKS__URL": hook_url,
            "GATEWAY_WEBHOOKS__SECRET": webhooks.secret,
            "GATEWAY_RESPONSES__INVOICE_RESPONSE_STATUSES": json.dumps(RESPONSE_STATUSES),
            **mailbox.env(),
        }
        # The partner AP validates what it receives in its `gateway worker` (the receipt answered by its
        # `serve` alone), the cooperative's in its `serve`: the demo plays both ways of the work after a
        # receipt (GATEWAY_AS4__AFTER_RECEIPT).
        partner_env = {
            **os.environ,
            **partner.env,
            **partner_name,
            "GATEWAY_API__KEYS": keys.config(),
            "GATEWAY_AS4__AFTER_RECEIPT": "worker",
        }
        print(f"demo: working directory {workdir}")
        print(f"demo: SML (DNS) 127.0.0.1:{net.network.sml.port} zone {net.network.sml.zone}")
        published = len({*clients, *suppliers}) + 4  # + the invoice-only client, the cooperative, 2 SPIDs
        print(f"demo: SMP {net.network.smp.url} ({published} participants, signed metadata)")
        print(
            f"demo: cooperative AP {coop.seat} on :{coop.port}, partner AP {partner.seat} on :{partner.port}"
        )
        print("demo: neither AP has a participant directory: every receiver is found through the SML and SMP")
        print(
            "demo: the cooperative validates what it receives in its serve, after the receipt; "
            "the partner AP in its worker (GATEWAY_AS4__AFTER_RECEIPT=worker)"
        )
        print(f"demo: SMTP relay (aiosmtpd) 127.0.0.1:{mailbox.port} for buyers outside Peppol")
        auth = {"Authorization": f"Bearer {keys.admin}"}
        with (
            run_gateway(coop.workdir, coop_env, listener=coop.listener, workers=1) as coop_gw,
            run_gateway(partner.workdir, partner_env, listener=partner.listener, workers=1) as partner_gw,
            httpx.Client(base_url=coop_gw.base_url, headers=auth, timeout=60) as coop_api,
            httpx.Client(base_url=partner_gw.base_url, headers=auth, timeout=60) as partner_api,
        ):
            wait_ready(coop_api, coop_gw.all, 180)
            wait_ready(partner_api, partner_gw.all, 180)
            load_units(coop_api)
            lookups_ok = _lookups(coop_api, clients[0])
            partner_ids, exchanged = _exchange(
                coop_api, partner_api, samples, supplier_docs, args.timeout, webhooks, mailbox
            )
            played = play_and_print_board(coop_api, keys, supplier_docs)
            expected = expected_responses(supplier_docs)
            answered = show_responses(coop_api, partner_api, partner_ids, expected, args.timeout)
            if args.serve:
                serve_until_interrupted(coop_gw.base_url, coop_env)
    ok = lookups_ok and exchanged and played and answered
    print(f"\ndemo: {'every check passed' if ok else 'FAILED: see above'}")
    return 0 if ok else 1


def _lookups(api: httpx.Client, client: str) -> bool:
    """Lookups before send, from the cooperative's API; True when each gives the expected outcome."""
    print("\nlookup before send (GET /v1/participants/{id}?document=...):")
    expected = [
        (client, "invoice", "found"),
        (client, "invoice", "found"),  # the second one comes from the cache
        (UNREGISTERED, "invoice", "not-registered"),
        (INVOICE_ONLY, "invoice", "found"),
        (INVOICE_ONLY, "credit-note", "document-type-not-supported"),
    ]
    ok = True
    for participant, document, outcome in expected:
        answer = api.get(f"/v1/participants/{participant}", params={"document": document}).json()
        ok = ok and answer.get("outcome") == outcome
        where = answer.get("access_point") or {}
        via = f" via {where.get('seat_id')} {where.get('endpoint_url')}" if where else ""
        cached = " (cached)" if answer.get("cached") else ""
        print(
            f"  {participant:<18} {document:<12} {answer.get('outcome')}{via}{cached}: {answer.get('reason')}"
        )
    return ok


def _wait_final(api: httpx.Client, ids: dict[str, str], timeout: float) -> dict[str, dict[str, Any]]:
    deadline = time.monotonic() + timeout
    states: dict[str, dict[str, Any]] = {}
    while time.monotonic() < deadline:
        states = {name: api.get(f"/v1/outbound/{doc_id}").json() for name, doc_id in ids.items()}
        if all(s["status"] in FINAL for s in states.values()):
            break
        time.sleep(0.5)
    return states


def _wait_validated(api: httpx.Client, timeout: float) -> None:
    """Wait until every business document the gateway received has its verdict (none left ``received``)."""
    deadline = time.monotonic() + timeout
    while _inbound(api).get("received") and time.monotonic() < deadline:
        time.sleep(0.2)


def _short(reason: object, limit: int = 90) -> str:
    text = str(reason)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _print_states(title: str, states: dict[str, dict[str, Any]]) -> None:
    print(f"\n{title:<40} {'number':<16} {'status':<18} {'tries':>5}  message id (AS4 or e-mail)")
    for name, state in states.items():
        number, tries = state.get("document_number", ""), state.get("attempts", 0)
        failed = state["status"] in ("failed", "rejected") and state.get("status_reason")
        reason = f"  ({_short(state['status_reason'])})" if failed else ""
        message_id = state.get("as4_message_id") or "-"
        print(f"{name[:40]:<40} {number:<16} {state['status']:<18} {tries:>5}  {message_id}{reason}")


def _inbound(api: httpx.Client) -> dict[str, int]:
    """Received business documents (not the T111 and MLS answers) by status."""
    items = api.get("/v1/inbound", params={"limit": 500}).json().get("items", [])
    by_status: dict[str, int] = {}
    for item in items:
        if "ApplicationResponse" in item["document_type"]:
            continue
        by_status[item["status"]] = by_status.get(item["status"], 0) + 1
    return by_status


def _find_by_number(api: httpx.Client) -> bool:
    """Support's question "did you get my invoice INV-123?": a received document found by its own number
    (``GET /v1/inbound?number=``, any case), as a supplier on the phone would say it."""
    items = api.get("/v1/inbound", params={"limit": 500}).json().get("items", [])
    numbered = [
        item
        for item in items
        if item.get("document_number") and "ApplicationResponse" not in item["document_type"]
    ]
    if not numbered:
        print("demo: no received invoice or credit note carries a number to search for")
        return False
    number = numbered[0]["document_number"]
    found = api.get("/v1/inbound", params={"number": number.lower()}).json().get("items", [])
    print(f"demo: support searches the received documents for {number.lower()!r}: {len(found)} found")
    return any(item["id"] == numbered[0]["id"] for item in found)


def _post_all(api: httpx.Client, documents: list[tuple[str, Path | bytes]]) -> dict[str, str]:
    ids: dict[str, str] = {}
    for name, body in documents:
        outcome, doc_id, detail = _post(api, body)
        if doc_id:
            ids[name] = doc_id
        print(f"  posted {name[:38]:<38} {outcome}{(': ' + detail) if detail else ''}")
    return ids


def _exchange(
    coop: httpx.Client,
    partner: httpx.Client,
    samples: list[Path],
    supplier_docs: list[SupplierDocument],
    timeout: float,
    webhooks: _WebhookLog,
    mailbox: MailBox,
) -> tuple[dict[str, str], bool]:
    """Send both ways; returns (number -> id of what the partner AP sent, every check passed)."""
    print("\ncooperative -> its clients (through the partner AP):")
    coop_ids = _post_all(coop, [(p.name, p) for p in samples])
    # A credit note for a client that accepts invoices only: accepted, then failed at the first attempt with
    # the discovery reason (fail fast, no retries). Without a buyer e-mail: no e-mail fallback either.
    credit = next((p for p in samples if p.name == "credit-note.json"), None)
    refused_name = ""
    if credit is not None:
        data = json.loads(credit.read_bytes())
        data["number"] = "CN-INVOICE-ONLY"
        data["buyer"] = {**data["buyer"], "enterprise_number": INVOICE_ONLY.split(":")[1]}
        data["buyer"].pop("vat_number", None)
        data["buyer"].pop("contact", None)
        refused_name = "credit note to an invoice-only client"
        coop_ids |= _post_all(coop, [(refused_name, json.dumps(data).encode())])
    print("\npartner AP -> the cooperative (its seller's invoices, then a credit note):")
    invoices = [d for d in supplier_docs if d.kind == "invoice"]
    partner_ids = _post_all(partner, [(f"{d.number} {d.supplier.name}", d.body) for d in invoices])
    partner_states = _wait_final(partner, partner_ids, timeout)
    # The credit note travels once the invoice it credits (BT-25) has its draft, so that it links to it: a
    # receipt comes before the validation and the draft (README, Receiving), so wait for those too.
    _wait_validated(coop, timeout)
    credit_notes = [d for d in supplier_docs if d.kind != "invoice"]
    credit_ids = _post_all(partner, [(f"{d.number} {d.supplier.name}", d.body) for d in credit_notes])
    partner_states |= _wait_final(partner, credit_ids, timeout)
    partner_ids |= credit_ids
    _wait_validated(coop, timeout)
    coop_states = _wait_final(coop, coop_ids, timeout)
    _wait_validated(partner, timeout)
    _print_states("sent by the cooperative", coop_states)
    _print_states("sent by the partner AP", partner_states)

    fail_fast = coop_states.pop(refused_name, None) if refused_name else None
    # Buyers outside Peppol (a private person: BT-49 EM:<address>) are e-mailed, never sent over AS4.
    emailed = {n: coop_states.pop(n) for n, s in list(coop_states.items()) if s["receiver"].startswith("EM:")}
    fail_fast_ok = fail_fast is None or (
        fail_fast["status"] == "failed"
        and str(fail_fast.get("status_reason", "")).startswith("document-type-not-supported")
    )
    delivered = sum(1 for s in coop_states.values() if s["status"] in DELIVERED)
    partner_delivered = sum(1 for s in partner_states.values() if s["status"] in DELIVERED)
    expected, deadline = 3 * (delivered + len(emailed)) + 2, time.monotonic() + 15
    while time.monotonic() < deadline:
        with webhooks.lock:
            events, bad = len(webhooks.events), webhooks.bad_signatures
        if events >= expected:
            break
        time.sleep(0.2)
    at_partner, at_coop = _inbound(partner), _inbound(coop)
    print(
        f"\ndemo: cooperative -> clients: {delivered} of {len(coop_states)} accepted documents delivered "
        f"over AS4 with a verified receipt, {len(emailed)} e-mailed; "
        f"{len(samples) - len(coop_states) - len(emailed)} refused with a reason"
    )
    private_person = any(p.stem == "private-person" for p in samples)  # the sample e-mailed, not refused
    emailed_ok = all(show_emailed(n, s, mailbox) for n, s in emailed.items()) and (
        bool(emailed) or not private_person
    )
    print(f"demo: partner AP -> cooperative: {partner_delivered} of {len(partner_states)} delivered")
    if fail_fast is not None:
        print(
            f"demo: credit note to an invoice-only client: {fail_fast['status']} at once"
            f" ({_short(fail_fast.get('status_reason'))})"
        )
    print(f"demo: the partner AP received {sum(at_partner.values())} business documents {at_partner}")
    print(f"demo: the cooperative AP received {sum(at_coop.values())} business documents {at_coop}")
    with webhooks.lock:
        kinds = sorted({str(event.get("type")) for event in webhooks.events})
    print(
        f"demo: {events} webhook events received with a valid HMAC signature, {bad} invalid"
        f" ({', '.join(kinds)})"
    )
    found_ok = _find_by_number(coop)
    ok = (
        found_ok
        and delivered == len(coop_states)
        and partner_delivered == len(partner_states) == len(supplier_docs)
        and sum(at_partner.values()) == delivered
        and sum(at_coop.values()) == partner_delivered
        and fail_fast_ok
        and emailed_ok
        and bad == 0
    )
    return {name.split(" ")[0]: doc_id for name, doc_id in partner_ids.items()}, ok

"""``gateway bench large``: large documents through submit -> deliver -> receive, with the peak memory
growth of every process against the document size.

Two gateways on loopback, each its own processes and SQLite file: the sender (``gateway serve`` and one
``gateway worker``) and the receiver (``gateway serve``, whose ``/as4`` endpoint the sender's directory
names). Both use one development PKI. After a small warm-up document (so that lazy start-up work, such
as loading the validation artefacts, is not counted), each large document is posted as UBL to the
sender's ``POST /v1/outbound/ubl`` and followed until it is delivered; the receiver must have stored it.
Before each document the peak resident set size of every process is reset (``/proc/<pid>/clear_refs``,
value 5); afterwards ``VmHWM`` minus the resident size at the reset is the growth the document caused.

The documents: an invoice with one embedded PDF (random bytes, base64 in
``cbc:EmbeddedDocumentBinaryObject``) of about ``--attachment-mb`` MB of UBL, and an invoice of
``--lines`` lines; both written by the gateway's own JSON -> UBL conversion, so they are valid BIS
Billing 3.0. A benchmark prints figures; it is not a test.
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import os
import random
import secrets
import shutil
import time
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from gateway.bench.large_stages import format_stages, measure_stages
from gateway.bench.loopback import (
    GatewayProcesses,
    listening_socket,
    parse_override,
    prepare_loopback,
    run_gateway,
    wait_ready,
)
from gateway.config import PROJECT_ROOT, Settings
from gateway.model import Invoice
from gateway.model.message import InboundStatus
from gateway.services.conversion import parse_document_json
from gateway.services.outbound_input import prepare_json_document
from gateway.store import upgrade_database

DEFAULT_WORKDIR = PROJECT_ROOT / "var" / "bench-large"
DOCUMENTS = PROJECT_ROOT / "tests" / "data" / "documents"
ATTACHMENT_TEMPLATE = DOCUMENTS / "attachment-pdf.json"
LINES_TEMPLATE = DOCUMENTS / "be-domestic-mixed-rates.json"
BUDGET = 5.0
"""The issue's bound: no process grows by more than this many times the document size."""
MIB = 1024 * 1024


@dataclass(frozen=True)
class LargeDocument:
    """A document to send: its name, UBL bytes and number (BT-1)."""

    name: str
    ubl: bytes
    number: str


@dataclass
class DocumentRun:
    """What one document did: the timings and the per-process peak growth in bytes."""

    document: LargeDocument
    status: str = "not posted"
    post_seconds: float | None = None
    delivered_seconds: float | None = None
    received: bool = False
    inbound_status: str = "-"
    growth: dict[str, int | None] = field(default_factory=dict)
    error: str | None = None

    @property
    def within_budget(self) -> bool:
        """Every process grew by at most ``BUDGET`` times the document size."""
        size = len(self.document.ubl)
        return all(g is not None and g <= BUDGET * size for g in self.growth.values())


def attachment_invoice(target: int, *, tag: str) -> LargeDocument:
    """The attachment template with its PDF replaced by random bytes, so the UBL is about ``target`` bytes."""
    template: dict[str, Any] = json.loads(ATTACHMENT_TEMPLATE.read_bytes())
    number = f"LARGE-{tag}-0001"
    template["number"] = number
    small = _ubl(template)
    embedded = template["attachments"][0]
    raw = max(0, target - len(small) + len(embedded["content"])) * 3 // 4
    embedded["content"] = base64.b64encode(random.Random(7).randbytes(raw)).decode("ascii")
    return LargeDocument(f"{target / 1e6:.0f} MB attachment", _ubl(template), number)


def many_lines_invoice(lines: int, *, tag: str) -> LargeDocument:
    """The mixed-rates template with its lines repeated (new ids, varied quantities) up to ``lines``."""
    template: dict[str, Any] = json.loads(LINES_TEMPLATE.read_bytes())
    number = f"LARGE-{tag}-0002"
    template["number"] = number
    seeds = template["lines"]
    rng = random.Random(7)
    out = []
    for i in range(lines):
        line = json.loads(json.dumps(seeds[i % len(seeds)]))
        line["id"] = str(i + 1)
        line["quantity"] = str(rng.randint(1, 40))
        out.append(line)
    template["lines"] = out
    return LargeDocument(f"{lines} lines", _ubl(template), number)


def _ubl(document: dict[str, Any]) -> bytes:
    return prepare_json_document(parse_document_json(json.dumps(document).encode(), Invoice)).ubl


def reset_peak(pid: int) -> int | None:
    """Reset the peak RSS of ``pid`` (``clear_refs`` 5) and return its resident size now, in bytes."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return None
    return _status_bytes(pid, "VmRSS:")


def peak_bytes(pid: int) -> int | None:
    """``VmHWM`` of ``pid`` in bytes (None where /proc is unavailable)."""
    return _status_bytes(pid, "VmHWM:")


def _status_bytes(pid: int, field_name: str) -> int | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith(field_name):
            return int(line.split()[1]) * 1024
    return None


def run_bench_large(args: argparse.Namespace, settings: Settings) -> int:
    """Run both documents (or the chosen ones) and print the table. Exit 0: all delivered and in budget."""
    for name in ("httpx", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    tag = secrets.token_hex(3)
    documents: list[LargeDocument] = []
    if args.attachment_mb > 0:
        documents.append(attachment_invoice(int(args.attachment_mb * 1_000_000), tag=tag))
    if args.lines > 0:
        documents.append(many_lines_invoice(args.lines, tag=tag))
    warmup = json.loads(LINES_TEMPLATE.read_bytes())
    warmup["number"] = f"LARGE-{tag}-0000"
    warm = LargeDocument("warm-up", _ubl(warmup), warmup["number"])
    overrides = dict(parse_override(item, "large") for item in args.overrides)
    runs = run_large(
        documents, warm=warm, workdir=args.workdir.resolve(), timeout=args.timeout, overrides=overrides
    )
    print(format_runs(runs))
    if args.stages:
        print("\nin this process, step by step: peak RSS growth (x document size) and Python objects' peak")
        for document in documents:
            stages = measure_stages(document.ubl, settings)
            print(format_stages(document.name, len(document.ubl), stages))
    return 0 if all(r.status == "delivered" and r.received and r.within_budget for r in runs) else 1


def run_large(
    documents: Sequence[LargeDocument],
    *,
    warm: LargeDocument,
    workdir: Path,
    timeout: float,
    overrides: Mapping[str, str] | None = None,
) -> list[DocumentRun]:
    """Start both gateways, send the warm-up and then each document, and measure.

    ``overrides``: ``GATEWAY_*`` settings of every gateway process, on top of the loopback set-up."""
    sender_listener, receiver_listener = listening_socket(), listening_socket()
    receiver_port = receiver_listener.getsockname()[1]
    api_key = secrets.token_urlsafe(32)
    sender_dir, receiver_dir = workdir / "sender", workdir / "receiver"
    buyers = sorted({_buyer(doc.ubl) for doc in (warm, *documents)})
    if workdir.exists():
        shutil.rmtree(workdir)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env.update(prepare_loopback(sender_dir, served=buyers, as4_url=f"http://127.0.0.1:{receiver_port}/as4"))
    env["GATEWAY_API__KEYS"] = json.dumps([{"name": "bench", "role": "admin", "key": api_key}])
    env.update(overrides or {})
    receiver_dir.mkdir(parents=True)
    receiver_env = {**env, "GATEWAY_DATABASE__URL": f"sqlite:///{receiver_dir / 'gateway.db'}"}
    for url in (env["GATEWAY_DATABASE__URL"], receiver_env["GATEWAY_DATABASE__URL"]):
        upgrade_database(url)
    headers = {"Authorization": f"Bearer {api_key}"}
    runs = [DocumentRun(doc) for doc in documents]
    with ExitStack() as stack:
        sender = stack.enter_context(run_gateway(sender_dir, env, listener=sender_listener, workers=1))
        receiver = stack.enter_context(
            run_gateway(receiver_dir, receiver_env, listener=receiver_listener, workers=0)
        )
        out = stack.enter_context(httpx.Client(base_url=sender.base_url, headers=headers, timeout=timeout))
        inbound = stack.enter_context(httpx.Client(base_url=receiver.base_url, headers=headers, timeout=60))
        wait_ready(out, sender.all, 120)
        wait_ready(inbound, receiver.all, 120)
        processes = {
            "sender serve": sender.serve.pid,
            "sender worker": sender.workers[0].pid,
            "receiver serve": receiver.serve.pid,
        }
        warm_run = DocumentRun(warm)
        _send(out, inbound, warm_run, processes, timeout)
        if warm_run.status != "delivered":
            raise RuntimeError(f"the warm-up document was not delivered: {warm_run.status} {warm_run.error}")
        for run in runs:
            _send(out, inbound, run, processes, timeout)
        _check_alive(sender, receiver)
    return runs


def _buyer(ubl: bytes) -> str:
    from gateway.ubl import read_ubl

    endpoint = read_ubl(ubl).buyer.endpoint
    if endpoint is None:
        raise ValueError("the document's buyer has no Peppol endpoint")
    return f"{endpoint.scheme}:{endpoint.value}"


def _send(
    out: httpx.Client, inbound: httpx.Client, run: DocumentRun, processes: dict[str, int], timeout: float
) -> None:
    stored = _inbound(inbound)
    baseline = {name: reset_peak(pid) for name, pid in processes.items()}
    started = time.monotonic()
    response = out.post(
        "/v1/outbound/ubl", content=run.document.ubl, headers={"Content-Type": "application/xml"}
    )
    run.post_seconds = time.monotonic() - started
    if response.status_code != 202:
        run.status = f"HTTP {response.status_code}"
        run.error = response.text[:300]
        return
    document_id = response.json()["id"]
    deadline = started + timeout
    while time.monotonic() < deadline:
        detail = out.get(f"/v1/outbound/{document_id}").json()
        run.status = detail["status"]
        if run.status in ("delivered", "failed"):
            break
        time.sleep(0.2)
    run.delivered_seconds = time.monotonic() - started
    # The receiver answers with its receipt before it validates: wait until the document's validation
    # is recorded too, or its peak would leave validation out.
    new = _received(inbound, stored, deadline)
    for name, pid in processes.items():
        before, peak = baseline[name], peak_bytes(pid)
        run.growth[name] = peak - before if before is not None and peak is not None else None
    run.received = len(new) == 1
    run.inbound_status = ", ".join(new.values()) or "none"


def _received(inbound: httpx.Client, stored: dict[str, str], deadline: float) -> dict[str, str]:
    """The receiver's documents new since ``stored``, once none of them awaits validation (or at
    ``deadline``)."""
    while True:
        new = {k: v for k, v in _inbound(inbound).items() if k not in stored}
        if (new and InboundStatus.RECEIVED not in new.values()) or time.monotonic() >= deadline:
            return new
        time.sleep(0.2)


def _inbound(client: httpx.Client) -> dict[str, str]:
    """Id -> status of the receiver's stored documents (the newest 500: the bench sends a few)."""
    items = client.get("/v1/inbound", params={"limit": 500}).json()["items"]
    return {str(item["id"]): str(item["status"]) for item in items}


def _check_alive(*gateways: GatewayProcesses) -> None:
    for gateway in gateways:
        for proc in gateway.all:
            if proc.poll() is not None:
                raise RuntimeError(f"{proc.args!r} exited during the run (code {proc.returncode})")


def format_runs(runs: Sequence[DocumentRun]) -> str:
    """The table: one row per document, growth per process in MiB and as a multiple of the size."""
    names = ["sender serve", "sender worker", "receiver serve"]
    lines = [
        f"peak RSS growth per process (VmHWM after - VmRSS before), budget {BUDGET:g}x the document size",
        f"{'document':>18} {'UBL bytes':>11} {'post s':>7} {'deliv. s':>8} "
        + " ".join(f"{n:>22}" for n in names)
        + "  sent/received",
    ]
    for run in runs:
        size = len(run.document.ubl)
        cells = []
        for name in names:
            growth = run.growth.get(name)
            cells.append("-" if growth is None else f"{growth / MIB:.0f} MiB {growth / size:.1f}x")
        status = f"{run.status}/{run.inbound_status}"
        verdict = "" if run.within_budget else " OVER"
        lines.append(
            f"{run.document.name:>18} {size:>11} {_seconds(run.post_seconds):>7} "
            f"{_seconds(run.delivered_seconds):>8} "
            + " ".join(f"{c:>22}" for c in cells)
            + f"  {status}{verdict}"
        )
        if run.error:
            lines.append(f"{'':>18} {run.error}")
    return "\n".join(lines)


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"

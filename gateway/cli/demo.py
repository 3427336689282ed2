"""``gateway demo``: the main job on the embedded default.

Starts the gateway API as a separate process on loopback with a throwaway API key, then sends the
bundled sample documents through it over real HTTP: each JSON document is converted to UBL
(POST /v1/convert) and the UBL is validated again (POST /v1/validate). Prints one line per document
and writes the UBL files. A document the gateway cannot turn into a valid Peppol document (a private
person has no Peppol id) is refused with the reason. Exit code 0 when nothing failed.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from gateway.config import PROJECT_ROOT, Settings

DEFAULT_SAMPLES = PROJECT_ROOT / "tests" / "data" / "documents"
DEFAULT_OUT = PROJECT_ROOT / "var" / "demo"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("demo", help="run the self-contained demonstration on loopback")
    p.add_argument("--samples", type=Path, default=DEFAULT_SAMPLES, help="folder of JSON documents")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where the UBL files are written")
    p.add_argument("--startup-timeout", type=float, default=90.0)
    p.set_defaults(func=run_demo)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait_ready(client: httpx.Client, server: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the gateway exited during start-up (code {server.returncode})")
        try:
            if client.get("/readyz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the gateway was not ready within {timeout:.0f} s")


def run_demo(args: argparse.Namespace, settings: Settings) -> int:
    samples = sorted(args.samples.glob("*.json"))
    if not samples:
        print(f"demo: no JSON documents in {args.samples}", file=sys.stderr)
        return 2
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    key = secrets.token_urlsafe(32)
    env = dict(os.environ)
    env["GATEWAY_API__KEYS"] = json.dumps([{"name": "demo", "role": "sender", "key": key}])
    command = [sys.executable, "-m", "gateway.cli.main", "serve", "--host", "127.0.0.1", "--port", str(port)]
    logging.getLogger("httpx").setLevel(logging.WARNING)
    print(f"demo: starting the gateway on http://127.0.0.1:{port} ({len(samples)} sample documents)")
    server = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL)
    outcomes: list[str] = []
    try:
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {key}"}, timeout=60
        ) as client:
            _wait_ready(client, server, args.startup_timeout)
            print(f"{'document':<40} {'convert':>8} {'validate':>9} {'fatal':>6} {'warn':>5}  output")
            outcomes = [_run_one(client, path, out) for path in samples]
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
    valid, refused, failed = (outcomes.count(k) for k in ("valid", "refused", "failed"))
    print(
        f"demo: {valid} of {len(samples)} documents converted to valid Peppol BIS Billing 3.0 UBL in {out}; "
        f"{refused} refused with a reason (nothing invalid is ever produced); {failed} failed"
    )
    return 0 if failed == 0 and len(outcomes) == len(samples) else 1


def _run_one(client: httpx.Client, path: Path, out: Path) -> str:
    """Convert and re-validate one document; returns "valid", "refused" (clear 422 reason) or "failed"."""
    converted = client.post(
        "/v1/convert", content=path.read_bytes(), headers={"Content-Type": "application/json"}
    )
    if converted.status_code != 200:
        problem = converted.json()
        refused = problem.get("type") == "/problems/invalid-document-data"
        print(f"{path.name:<40} {converted.status_code:>8} {'refused' if refused else '-':>9}")
        for reason in (problem.get("errors") or problem.get("report", {}).get("issues", []))[:5]:
            print(f"    {reason}")
        return "refused" if refused else "failed"
    ubl = converted.json()["ubl"].encode("utf-8")
    target = out / (path.stem + ".xml")
    target.write_bytes(ubl)
    checked = client.post("/v1/validate", content=ubl, headers={"Content-Type": "application/xml"})
    report = checked.json()
    fatal = sum(1 for i in report["issues"] if i["severity"] == "fatal")
    warn = len(report["issues"]) - fatal
    verdict = "valid" if report["valid"] else "INVALID"
    print(f"{path.name:<40} {converted.status_code:>8} {verdict:>9} {fatal:>6} {warn:>5}  {target}")
    return "valid" if report["valid"] else "failed"

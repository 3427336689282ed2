"""``gateway bench abuse``: how ``gateway serve`` holds up against a hostile client (issue 13).

Starts ``gateway serve`` on loopback (SQLite, development PKI), then, bounded in count and time: large
bodies with and without an API key (declared and chunked), slow and half-open clients, junk AS4 requests
and invented HTTP methods. A probe thread asks ``/healthz`` every 0.25 s (1 s timeout) and samples the
server's memory and descriptors. It prints peak RSS, open descriptors, database growth per junk request
and whether ``/healthz`` always answered within 1 s, beside the targets; exit code 0 when all are met.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import secrets
import select
import socket
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from gateway.bench.loopback import (
    listening_socket,
    peak_memory_mib,
    prepare_loopback,
    run_gateway,
    wait_ready,
)
from gateway.config import PROJECT_ROOT, Settings

DEFAULT_WORKDIR = PROJECT_ROOT / "var" / "bench-abuse"
SERVED = "0208:0739484052"
MIB = 1024 * 1024
CHUNK = b"<" * (64 * 1024)
#: Targets of issue 13.
TARGET_RSS_GROWTH_MIB = 300
TARGET_HEALTHZ_SECONDS = 1.0
TARGET_DB_BYTES_PER_JUNK = 2048


@dataclass(frozen=True)
class AbuseParameters:
    """How much abuse (every phase is bounded by these counts and by ``time_budget``)."""

    big_mb: int = 120
    big_parallel: int = 8
    slow_clients: int = 1500
    slow_hold_seconds: float = 3.0
    junk_requests: int = 300
    invented_methods: int = 3000
    time_budget: float = 100.0


@dataclass
class Probe:
    """The /healthz probe and the server's resource samples."""

    pid: int
    base_url: str
    latencies: list[float] = field(default_factory=list)
    failures: int = 0
    max_fds: int = 0
    peak_rss_mib: float = 0.0
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        # A new connection per probe, as an orchestrator's probe does.
        with httpx.Client(base_url=self.base_url, timeout=TARGET_HEALTHZ_SECONDS) as client:
            while not self.stop.is_set():
                started = time.perf_counter()
                try:
                    ok = client.get("/healthz", headers={"Connection": "close"}).status_code == 200
                except httpx.HTTPError:
                    ok = False
                if ok:
                    self.latencies.append(time.perf_counter() - started)
                else:
                    self.failures += 1
                self.max_fds = max(self.max_fds, _open_fds(self.pid))
                self.peak_rss_mib = max(self.peak_rss_mib, _rss_mib(self.pid))
                self.stop.wait(0.25)


def _open_fds(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


def _rss_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _db_used_bytes(path: Path) -> int:
    """Bytes of the SQLite pages in use (committed state, WAL included; free pages not counted)."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        page_size = db.execute("PRAGMA page_size").fetchone()[0]
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        free = db.execute("PRAGMA freelist_count").fetchone()[0]
    return int((pages - free) * page_size)


# --- the attacks ------------------------------------------------------------------------------------------


def push_body(port: int, path: str, headers: dict[str, str], size: int, *, declared: bool) -> int:
    """POST ``size`` bytes to ``path`` over a raw socket, stopping as soon as the server answers or closes;
    the answer's status code, 0 when there was none."""
    framing = {"Content-Length": str(size)} if declared else {"Transfer-Encoding": "chunked"}
    head = "".join(f"{k}: {v}\r\n" for k, v in {"Host": "127.0.0.1", **headers, **framing}.items())
    piece = CHUNK if declared else b"%x\r\n%s\r\n" % (len(CHUNK), CHUNK)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        try:
            sock.sendall(f"POST {path} HTTP/1.1\r\n{head}\r\n".encode())
            sent = 0
            while sent < size and not _answered(sock):
                sock.sendall(piece)  # blocking: a server that stops reading times it out (5 s)
                sent += len(CHUNK)
            if sent >= size and not declared:
                sock.sendall(b"0\r\n\r\n")
        except OSError:
            pass
        return _status(sock)


def _answered(sock: socket.socket) -> bool:
    readable, _, _ = select.select([sock], [], [], 0)
    return bool(readable)


def _readable(sock: socket.socket) -> bool:
    try:
        return bool(sock.recv(1, socket.MSG_PEEK))
    except BlockingIOError:
        return False
    except OSError:
        return True


def _status(sock: socket.socket) -> int:
    sock.settimeout(30)
    try:
        line = sock.recv(64)
    except OSError:
        return 0
    parts = line.split(b" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0


def large_bodies(port: int, key: str, params: AbuseParameters) -> Counter[str]:
    """``big_parallel`` parallel large bodies per kind: /v1/convert without and with a key, and /as4;
    each with a declared length and chunked."""
    size = params.big_mb * MIB
    json_type = {"Content-Type": "application/json"}
    kinds = {
        "convert-no-key": ("/v1/convert", json_type),
        "convert-key": ("/v1/convert", {**json_type, "Authorization": f"Bearer {key}"}),
        "as4": ("/as4", {"Content-Type": "application/soap+xml"}),
    }
    jobs = [
        (f"{name} {'declared' if declared else 'chunked'}", path, headers, declared)
        for name, (path, headers) in kinds.items()
        for declared in (True, False)
        for _ in range(params.big_parallel)
    ]
    answers: Counter[str] = Counter()
    with ThreadPoolExecutor(params.big_parallel * 2) as pool:
        statuses = pool.map(lambda job: push_body(port, job[1], job[2], size, declared=job[3]), jobs)
        for (label, *_), status in zip(jobs, statuses, strict=True):
            answers[f"{label} -> {status or 'closed'}"] += 1
    return answers


def slow_clients(port: int, params: AbuseParameters) -> Counter[str]:
    """Half-sent request heads and trickling bodies, held open ``slow_hold_seconds``, then closed."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, params.slow_clients + 256)), hard))
    opened: list[socket.socket] = []
    outcome: Counter[str] = Counter()
    heads = (b"POST /as4 HTTP/1.1\r\nHost: x\r\n", b"POST /as4 HTTP/1.1\r\nContent-Length: 9999\r\n\r\n<a")
    try:
        for n in range(params.slow_clients):
            try:
                sock = socket.create_connection(("127.0.0.1", port), timeout=2)
                sock.sendall(heads[n % 2])
                opened.append(sock)
                outcome["opened"] += 1
            except OSError:
                outcome["refused"] += 1
        time.sleep(params.slow_hold_seconds)
        for sock in opened:
            sock.setblocking(False)
            outcome["closed by server" if _readable(sock) else "still open"] += 1
    finally:
        for sock in opened:
            sock.close()
    return outcome


JUNK: tuple[Callable[[int], bytes], ...] = (
    lambda n: b"garbage " * (n % 50 + 1),
    lambda n: b"<S12:Envelope xmlns:S12='http://www.w3.org/2003/05/soap-envelope'>" + b"A" * 4000,
    lambda n: b"--b\r\nContent-Type: application/soap+xml\r\n\r\n<x/>\r\n--b--\r\n" + b"Z" * 20000,
    lambda n: os.urandom(2048 + n % 512),
)


def junk_as4(base_url: str, db: Path, params: AbuseParameters) -> tuple[Counter[str], float]:
    """``junk_requests`` unauthenticated junk AS4 requests (with credential headers); the answers and
    the database growth per request."""
    before = _db_used_bytes(db)
    answers: Counter[str] = Counter()
    headers = {"Authorization": "Bearer not-for-you", "X-API-Key": "not-for-you", "X-Filler": "f" * 900}
    with httpx.Client(base_url=base_url, timeout=30) as client:
        for n in range(params.junk_requests):
            media = "multipart/related; boundary=b" if n % 4 == 2 else "application/soap+xml"
            response = client.post(
                "/as4", content=JUNK[n % len(JUNK)](n), headers={**headers, "Content-Type": media}
            )
            answers[str(response.status_code)] += 1
    growth = (_db_used_bytes(db) - before) / max(params.junk_requests, 1)
    return answers, growth


def invented_methods(base_url: str, key: str, params: AbuseParameters) -> tuple[Counter[str], int, int]:
    """``invented_methods`` requests with made-up methods; the answers and /metrics size before and after."""
    answers: Counter[str] = Counter()
    auth = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=base_url, timeout=30) as client:
        before = len(client.get("/metrics", headers=auth).content)
        for n in range(params.invented_methods):
            answers[str(client.request(f"X{n}{secrets.token_hex(2).upper()}", "/healthz").status_code)] += 1
        after = len(client.get("/metrics", headers=auth).content)
    return answers, before, after


# --- the run ----------------------------------------------------------------------------------------------


def run_abuse(params: AbuseParameters, workdir: Path) -> int:
    """Run every phase against a fresh ``gateway serve`` and print the figures; 0 when every target is met."""
    listener = listening_socket()
    port = listener.getsockname()[1]
    base_url = f"http://127.0.0.1:{port}"
    env = prepare_loopback(workdir, served=[SERVED], as4_url=f"{base_url}/as4")
    key = secrets.token_urlsafe(32)
    env = {
        **os.environ,
        **env,
        "GATEWAY_API__KEYS": json.dumps([{"name": "bench", "role": "admin", "key": key}]),
        "GATEWAY_LOG_LEVEL": "INFO",
    }
    db = workdir / "gateway.db"
    started = time.monotonic()
    with (
        run_gateway(workdir, env, listener=listener, workers=0) as gateway,
        httpx.Client(base_url=base_url) as client,
    ):
        wait_ready(client, gateway.all, timeout=90)
        pid = gateway.serve.pid
        baseline = _rss_mib(pid)
        probe = Probe(pid, base_url)
        prober = threading.Thread(target=probe.run, daemon=True)
        prober.start()
        phases: list[tuple[str, str]] = []

        def within_budget(name: str) -> bool:
            if time.monotonic() - started <= params.time_budget:
                return True
            phases.append((name, "skipped: time budget spent"))
            return False

        def record(name: str, answers: Counter[str]) -> None:
            phases.append((name, ", ".join(f"{k}: {v}" for k, v in sorted(answers.items()))))

        growth, metrics = 0.0, (0, 0)
        if within_budget("large bodies"):
            record("large bodies", large_bodies(port, key, params))
        if within_budget("slow / half-open clients"):
            record("slow / half-open clients", slow_clients(port, params))
        if within_budget("junk AS4"):
            answers, growth = junk_as4(base_url, db, params)
            record("junk AS4", answers)
        if within_budget("invented methods"):
            answers, before, after = invented_methods(base_url, key, params)
            record("invented methods", answers)
            metrics = (before, after)
        probe.stop.set()
        prober.join(5)
        peak = max(peak_memory_mib(pid) or 0.0, probe.peak_rss_mib)
        alive = gateway.serve.poll() is None
    return _report(params, phases, probe, baseline, peak, growth, metrics, alive, time.monotonic() - started)


def _report(
    params: AbuseParameters,
    phases: list[tuple[str, str]],
    probe: Probe,
    baseline: float,
    peak: float,
    growth: float,
    metrics: tuple[int, int],
    alive: bool,
    elapsed: float,
) -> int:
    slowest = max(probe.latencies, default=float("inf"))
    probes = len(probe.latencies) + probe.failures
    checks = [
        ("RSS growth (peak - baseline)", f"{peak - baseline:.0f} MiB", f"< {TARGET_RSS_GROWTH_MIB} MiB",
         peak - baseline < TARGET_RSS_GROWTH_MIB),
        ("/healthz slowest, failures", f"{slowest:.3f} s, {probe.failures} of {probes}", "< 1 s, none",
         probe.failures == 0 and slowest < TARGET_HEALTHZ_SECONDS),
        ("DB growth per junk request", f"{growth:.0f} B", f"< {TARGET_DB_BYTES_PER_JUNK} B",
         growth < TARGET_DB_BYTES_PER_JUNK),
        ("server still running", "yes" if alive else "no", "yes", alive),
    ]  # fmt: skip
    print(f"gateway bench abuse ({elapsed:.0f} s): {params}")
    for name, answers in phases:
        print(f"  {name:<26} {answers}")
    print(f"  {'figure':<30} {'measured':<22} {'target':<14} ok")
    for name, measured, target, ok in checks:
        print(f"  {name:<30} {measured:<22} {target:<14} {'yes' if ok else 'NO'}")
    print(f"  {'peak RSS (baseline)':<30} {peak:.0f} MiB ({baseline:.0f} MiB)")
    print(f"  {'open descriptors (max)':<30} {probe.max_fds}")
    print(f"  {'/metrics bytes before, after':<30} {metrics[0]}, {metrics[1]}")
    return 0 if all(ok for *_, ok in checks) else 1


def run_bench_abuse(args: argparse.Namespace, settings: Settings) -> int:
    """Run the abuse benchmark with the command-line parameters; exit code 0 when every target is met."""
    for name in ("httpx", "httpcore"):  # one line per request would bury the figures
        logging.getLogger(name).setLevel(logging.WARNING)
    params = AbuseParameters(
        big_mb=args.big_mb,
        big_parallel=args.big_parallel,
        slow_clients=args.slow_clients,
        slow_hold_seconds=args.slow_hold,
        junk_requests=args.junk,
        invented_methods=args.methods,
        time_budget=args.time_budget,
    )
    return run_abuse(params, args.workdir)

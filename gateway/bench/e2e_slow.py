"""``gateway bench e2e-slow``: does one slow receiver hold back delivery to the others (head-of-line
blocking)?

Ten receiving endpoints, documents spread evenly over them; nine endpoints are the gateway's own ``/as4``
(real AS4 receivers: validated, stored, signed receipts), each under its own URL (``/as4?endpoint=N``: the
worker's per-endpoint limit keys on the URL). The tenth is a ``DelayingProxy`` in front of the same
``/as4``: in the baseline it forwards at once, then it answers after ``--slow-delay`` seconds (a valid
signed receipt), then never (the send times out). All documents are posted first, then the ``gateway
worker`` processes start (``--workers``, one by default; several only on PostgreSQL, ``--db postgres``: a
scratch database per scenario, each worker with its own slots and per-endpoint limit); the figure is the
nine fast endpoints' throughput (their documents delivered per second, first to last delivery) in each
scenario, and its ratio to the baseline - printed side by side in one run. A benchmark prints figures; it
is not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import secrets
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx

from gateway.bench import e2e_load
from gateway.bench.e2e import DEFAULT_POSTGRES_URL, round_workdir, scratch_postgres_database
from gateway.bench.e2e_load import InvoiceCopies
from gateway.bench.e2e_slow_report import (
    RECEIVERS,
    TARGET_RATIO,
    Scenario,
    ScenarioResult,
    format_slow_table,
    median_share,
)
from gateway.bench.loopback import listening_socket, prepare_loopback, run_gateway, run_workers, wait_ready
from gateway.bench.slow_proxy import delaying_proxy
from gateway.config import PROJECT_ROOT, Settings
from gateway.model import BIS_BILLING_PROCESS, BIS_CREDIT_NOTE, BIS_INVOICE
from gateway.store import upgrade_database

DEFAULT_WORKDIR = PROJECT_ROOT / "var" / "bench-e2e-slow"
DEFAULT_TEMPLATE = PROJECT_ROOT / "tests" / "data" / "documents" / "be-domestic-mixed-rates.json"


def enterprise_number(index: int) -> str:
    """A Belgian enterprise number that passes the mod-97 check (``0`` + 7 digits + 2 check digits)."""
    base = 4123400 + index
    return f"{base:08d}{97 - base % 97:02d}"


class SpreadCopies(InvoiceCopies):
    """Copies of the template addressed round-robin to the first ``spread`` buyers (one per endpoint)."""

    def __init__(self, template: bytes, *, tag: str, spread: int) -> None:
        super().__init__(template, tag=tag)
        self.spread = spread

    def buyer(self, index: int) -> int:
        """The buyer (endpoint) number of copy ``index``; ``RECEIVERS - 1`` is the slow endpoint."""
        return index % self.spread

    def copy(self, index: int) -> tuple[str, bytes]:
        number, body = super().copy(index)
        document: dict[str, Any] = json.loads(body)
        company = enterprise_number(self.buyer(index))
        document["buyer"] = {**document["buyer"], "enterprise_number": company, "vat_number": f"BE{company}"}
        return number, json.dumps(document).encode()


def scenarios(delay: float, max_in_flight: int) -> list[Scenario]:
    """Baseline (the nine alone), slow, never answering, and slow without a per-endpoint limit (what the
    limit buys)."""
    return [
        Scenario("the nine alone (baseline)", 0.0, tenth=False),
        Scenario(f"one answers after {delay:g} s", delay),
        Scenario("one never answers (send timeout)", None),
        Scenario(f"one after {delay:g} s, no per-endpoint limit", delay, per_endpoint=max_in_flight),
    ]


def run_bench_e2e_slow(args: argparse.Namespace, settings: Settings) -> int:
    """Run every scenario ``--rounds`` times, interleaved (a busy machine drifts) and in an order rotated by
    one place per round (``scenario_order``), each run in a folder of its own (``scenario_workdir``, named
    on its progress line), and print the table.

    Exit code 0: the nine kept the target share with the slow and with the silent endpoint; 1: not; 2: bad
    usage (``--workers`` below 1, or above 1 on SQLite).
    """
    problem = usage_problem(args.db, args.workers)
    if problem is not None:
        print(f"gateway bench e2e-slow: {problem}", file=sys.stderr)
        return 2
    for name in ("httpx", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    defaults = settings.worker
    in_flight = args.max_in_flight or defaults.max_in_flight
    rows = scenarios(args.slow_delay, in_flight)
    runs: list[list[ScenarioResult]] = [[] for _ in rows]
    for round_number in range(1, args.rounds + 1):
        for index in scenario_order(len(rows), round_number):
            scenario = rows[index]
            print(f"bench e2e-slow: round {round_number}, {scenario.label} ...", end="", file=sys.stderr)
            started = time.monotonic()
            workdir = scenario_workdir(args.workdir.resolve(), args.rounds, round_number, index)
            result = run_scenario(
                scenario,
                documents=args.documents,
                workdir=workdir,
                template=args.template,
                send_timeout=args.send_timeout,
                timeout=args.timeout,
                max_in_flight=in_flight,
                database=args.db,
                workers=args.workers,
                postgres_url=args.postgres_url,
            )
            print(f" {time.monotonic() - started:.0f} s (logs: {workdir})", file=sys.stderr, flush=True)
            runs[index].append(result)
    print(format_slow_table(runs, in_flight, defaults.per_endpoint, args))
    kept = [median_share(runs[i], runs[0]) for i in (1, 2)]
    return 0 if all(share is not None and share >= TARGET_RATIO for share in kept) else 1


def scenario_workdir(root: Path, rounds: int, round_number: int, index: int) -> Path:
    """The folder of scenario ``index`` (``s<index>``, the table's row) in round ``round_number``: under
    ``round_workdir``, as ``bench e2e --rounds`` does (``prepare_loopback`` recreates the folder)."""
    return round_workdir(root, rounds, round_number) / f"s{index}"


def scenario_order(count: int, round_number: int) -> list[int]:
    """The order of the ``count`` scenarios in round ``round_number`` (from 1): the first round in the table's
    order, each later one rotated by one more place, so that over ``count`` rounds every scenario runs once
    in every position. On a shared host a position carries its own bias (measured for ``bench e2e``'s
    cells: the second ran faster whichever it was), and each row's share is paired with its own round's
    baseline, which then runs in every position too."""
    shift = (round_number - 1) % count
    return [*range(shift, count), *range(shift)]


def usage_problem(database: str, workers: int) -> str | None:
    """Why ``--workers`` cannot run on ``--db`` (None: it can; argparse's ``choices`` have checked ``--db``).
    Several workers need PostgreSQL: on SQLite the store serialises writers and the gateway supports one
    worker."""
    if workers < 1:
        return f"--workers must be at least 1, not {workers}"
    if workers > 1 and database != "postgres":
        return (
            f"--workers {workers} needs --db postgres (on SQLite the store serialises writers and the "
            "gateway runs one worker)"
        )
    return None


def run_scenario(
    scenario: Scenario,
    *,
    documents: int,
    workdir: Path,
    template: Path,
    send_timeout: float,
    timeout: float,
    max_in_flight: int | None = None,
    database: str = "sqlite",
    workers: int = 1,
    postgres_url: str = DEFAULT_POSTGRES_URL,
) -> ScenarioResult:
    """Start the gateway, post ``documents`` copies spread over the ten buyers, run ``workers`` workers
    until the nine fast endpoints' documents are final (or ``timeout``), read the figures, stop everything.

    ``database``: ``sqlite`` (a file in ``workdir``) or ``postgres`` (a scratch database ``bench_<random>``
    on the server of ``postgres_url``, dropped afterwards), migrated once before any process starts."""
    result = ScenarioResult(scenario)
    try:
        with ExitStack() as stack:
            url = (
                stack.enter_context(scratch_postgres_database(postgres_url))
                if database == "postgres"
                else None
            )
            _run_scenario(
                result,
                documents=documents,
                workdir=workdir,
                template=template,
                send_timeout=send_timeout,
                timeout=timeout,
                max_in_flight=max_in_flight,
                database_url=url,
                workers=workers,
            )
    except Exception as exc:  # a scenario that cannot run is reported, and the others go on
        result.errors.append(f"{type(exc).__name__}: {exc}")
    return result


def _run_scenario(
    result: ScenarioResult,
    *,
    documents: int,
    workdir: Path,
    template: Path,
    send_timeout: float,
    timeout: float,
    max_in_flight: int | None,
    database_url: str | None,
    workers: int,
) -> None:
    scenario = result.scenario
    listener = listening_socket()
    port = listener.getsockname()[1]
    participants = [f"0208:{enterprise_number(i)}" for i in range(RECEIVERS)]
    as4 = f"http://127.0.0.1:{port}/as4"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env.update(prepare_loopback(workdir, served=participants, as4_url=as4, database_url=database_url))
    api_key = secrets.token_urlsafe(32)
    env["GATEWAY_API__KEYS"] = json.dumps([{"name": "bench", "role": "admin", "key": api_key}])
    env["GATEWAY_WORKER__POLL_INTERVAL_SECONDS"] = "0.1"
    env["GATEWAY_WORKER__SEND_TIMEOUT_SECONDS"] = f"{send_timeout:g}"
    if max_in_flight is not None:
        env["GATEWAY_WORKER__MAX_IN_FLIGHT"] = str(max_in_flight)
    if scenario.per_endpoint is not None:
        env["GATEWAY_WORKER__PER_ENDPOINT"] = str(scenario.per_endpoint)
    upgrade_database(env["GATEWAY_DATABASE__URL"])  # once, before the processes start (not racing to)
    headers = {"Authorization": f"Bearer {api_key}"}
    with delaying_proxy(as4, scenario.slow_delay) as proxy:
        urls = [f"{as4}?endpoint={i + 1}" for i in range(RECEIVERS - 1)] + [proxy.url]
        _write_directory(workdir / "directory.json", dict(zip(participants, urls, strict=True)))
        with run_gateway(workdir, env, listener=listener, workers=0) as gateway:
            with httpx.Client(base_url=gateway.base_url, headers=headers, timeout=30) as client:
                wait_ready(client, gateway.all, 120)
            spread = RECEIVERS if scenario.tenth else RECEIVERS - 1
            copies = SpreadCopies(template.read_bytes(), tag=secrets.token_hex(3), spread=spread)
            if not scenario.tenth:
                documents -= documents // RECEIVERS  # the nine's share of the other rows
            asyncio.run(
                _measure(result, gateway.base_url, headers, copies, documents, env, workdir, timeout, workers)
            )
        result.proxy_requests = proxy.requests


def _write_directory(path: Path, routes: dict[str, str]) -> None:
    """The participant directory: each buyer at its own endpoint URL, our development AP certificate."""
    entry = {
        "document_types": [BIS_INVOICE.uri, BIS_CREDIT_NOTE.uri],
        "process": BIS_BILLING_PROCESS.uri,
        "certificate_file": "pki/pop000001.cert.pem",
    }
    path.write_text(json.dumps({p: [{**entry, "url": url}] for p, url in routes.items()}, indent=2))


async def _measure(
    result: ScenarioResult,
    base_url: str,
    headers: dict[str, str],
    copies: SpreadCopies,
    documents: int,
    env: dict[str, str],
    workdir: Path,
    timeout: float,
    workers: int,
) -> None:
    limits = httpx.Limits(max_connections=50, max_keepalive_connections=20)
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=120, limits=limits) as client:
        postings = await e2e_load.post_burst(client, copies, first=0, count=documents, concurrency=4)
        result.errors += [f"{p.number}: {p.http_status} {p.error}" for p in postings if p.error][:3]
        slowest = RECEIVERS - 1
        fast = [p.document_id for i, p in enumerate(postings) if p.document_id and copies.buyer(i) != slowest]
        slow = [p.document_id for i, p in enumerate(postings) if p.document_id and copies.buyer(i) == slowest]
        result.fast_documents, result.slow_documents = len(fast), len(slow)
        with run_workers(workdir, env, workers):
            # The silent endpoint's documents stay ``retrying`` for good: not waited for (the timeout
            # would end every such round); a slow one's are, so its column shows they went through.
            silent = slow if result.scenario.slow_delay is None else []
            statuses = await e2e_load.wait_until_final(client, fast, timeout=timeout, besides=silent)
            everything = await e2e_load.list_statuses(client)
        delivered = [doc_id for doc_id, status in statuses.items() if status == "delivered"]
        result.fast_delivered = len(delivered)
        result.slow_delivered = sum(1 for doc_id in slow if everything.get(doc_id) == "delivered")
        times = [at for at in (await e2e_load.delivered_times(client, delivered)).values() if at is not None]
        if len(times) >= 2:
            result.fast_seconds = (max(times) - min(times)).total_seconds()

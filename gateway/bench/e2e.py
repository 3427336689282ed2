"""``gateway bench e2e``: end-to-end throughput, latency, CPU and peak memory of the gateway on loopback.

The sending access point is ``gateway serve`` (API) and 1..N ``gateway worker`` processes on SQLite or a
scratch PostgreSQL database; the receiving access point is a second ``gateway serve`` with its own SQLite
file (``--receiver own-process``, the default, so that sender-side scaling shows) or the sender's own
``/as4`` endpoint (``--receiver shared``: one gateway plays both sides). Copies of a sample invoice go
post -> validated -> stored -> sent over AS4 -> received, validated, stored -> receipt -> delivered. A
benchmark prints figures; it is not a test.
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
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select, text

from gateway.bench import e2e_load
from gateway.bench.e2e_client import LoopbackPoster
from gateway.bench.e2e_load import InvoiceCopies, Posting, percentile
from gateway.bench.e2e_report import (
    OWN_PROCESS,
    E2EParameters,
    E2EResult,
    PhaseResult,
    format_table,
)
from gateway.bench.e2e_rounds import cell_order, format_rounds, summarise
from gateway.bench.loopback import (
    GatewayProcesses,
    context_switches,
    cpu_seconds,
    listening_socket,
    parse_override,
    peak_memory_mib,
    prepare_access_points,
    prepare_loopback,
    run_gateway,
    switches_between,
    wait_ready,
)
from gateway.config import PROJECT_ROOT, Settings
from gateway.model import complete_document
from gateway.model.identifiers import EMAIL_SCHEME
from gateway.model.message import VALIDATION_PENDING, InboundStatus
from gateway.services.conversion import parse_document_json
from gateway.store import make_engine, normalise_url, upgrade_database
from gateway.store.tables import inbound_documents

DEFAULT_WORKDIR = PROJECT_ROOT / "var" / "bench-e2e"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DATABASES = ("sqlite", "postgres")
SQLITE_SHARED_WRITER = (
    "SQLite with {workers} workers: the store serialises writers (one write lock for the API and every "
    "worker); the gateway supports one worker on SQLite - measured anyway"
)


def run_bench_e2e(args: argparse.Namespace, settings: Settings) -> int:
    """Run the matrix and print it. Exit code 0: every document delivered; 1: not all; 2: bad usage."""
    for name in ("httpx", "alembic"):  # one line per request / migration would bury the figures
        logging.getLogger(name).setLevel(logging.WARNING)
    params = E2EParameters(
        rate=args.rate,
        duration=args.duration,
        saturation=args.saturation,
        saturation_concurrency=args.saturation_concurrency,
        warmup=args.warmup,
        poll_interval=args.poll_interval,
        batch_size=args.batch_size,
        timeout=args.timeout,
        template=args.template,
        receiver=args.receiver,
        mls=args.mls,
        receiver_workers=args.receiver_workers,
        overrides=tuple(parse_override(item, "e2e") for item in args.overrides),
    )
    workers_list = args.workers or [1, 2]
    positive = (params.rate, params.duration, min(workers_list), params.saturation_concurrency)
    if min(positive) <= 0 or params.batch_size < 1 or params.saturation < 0 or params.warmup < 0:
        print(
            "gateway bench e2e: --rate, --duration, --workers, --saturation-concurrency and --batch-size "
            "must be positive; --saturation and --warmup not negative",
            file=sys.stderr,
        )
        return 2
    if (params.mls or params.receiver_workers) and params.receiver != OWN_PROCESS:
        print(
            "gateway bench e2e: --mls and --receiver-workers need the receiver in its own process",
            file=sys.stderr,
        )
        return 2
    if params.receiver_workers < 0:
        print("gateway bench e2e: --receiver-workers must not be negative", file=sys.stderr)
        return 2
    cells = [(database, workers) for database in args.db or list(DATABASES) for workers in workers_list]
    if args.rounds < 1:
        print("gateway bench e2e: --rounds must be positive", file=sys.stderr)
        return 2
    if args.rounds > 1 and len(set(cells)) < len(cells):
        print("gateway bench e2e: --rounds above 1 needs each --db and --workers once", file=sys.stderr)
        return 2
    rounds: list[list[E2EResult]] = []
    loads: list[float | None] = []
    for number in range(1, args.rounds + 1):
        loads.append(_load_average())
        order = cell_order(cells, number)
        rounds.append(
            [_run_cell_of_grid(args, params, database, workers, number) for database, workers in order]
        )
    if args.json:
        print(json.dumps(_figures_json(params, cells, rounds, loads), indent=2))
    elif args.rounds == 1:
        print(format_table(rounds[0], params, cpus=os.cpu_count(), load=loads[0]))
    else:
        summary = summarise(cells, rounds)
        print(format_rounds(rounds, params, summary, cpus=os.cpu_count(), loads=loads))
    return 0 if all(result.ok for results in rounds for result in results) else 1


def _figures_json(
    params: E2EParameters,
    cells: Sequence[tuple[str, int]],
    rounds: Sequence[Sequence[E2EResult]],
    loads: Sequence[float | None],
) -> dict[str, Any]:
    """``--json``: the parameters and each cell's figures; with several rounds, the round of each cell, the
    load average at the start of each round and the summary (``e2e_rounds``)."""
    parameters = _parameters_json(params, loads[0])
    if len(rounds) == 1:
        return {"parameters": parameters, "results": [result.as_json() for result in rounds[0]]}
    return {
        "parameters": {**parameters, "rounds": len(rounds)},
        "load_average_per_round": list(loads),
        "results": [
            {**result.as_json(), "round": number}
            for number, results in enumerate(rounds, start=1)
            for result in results
        ],
        "summary": summarise(cells, rounds).as_json(),
    }


def _load_average() -> float | None:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else None


def round_workdir(root: Path, rounds: int, number: int) -> Path:
    """The folder of round ``number`` of ``rounds``: ``<root>/round-<number>`` with several rounds, so that
    a later round does not recreate (and so erase) an earlier one's logs; ``root`` itself with one (the
    runs of ``bench e2e`` and ``bench e2e-slow`` each take a folder of their own under it)."""
    return root / f"round-{number}" if rounds > 1 else root


def _run_cell_of_grid(
    args: argparse.Namespace, params: E2EParameters, database: str, workers: int, number: int
) -> E2EResult:
    """Run one cell of round ``number`` of the grid, with a progress line on stderr, in a workdir of its own
    (recreated): ``<workdir>/<db>-<n>w``, under ``round_workdir``."""
    label = f"round {number}/{args.rounds}, " if args.rounds > 1 else ""
    print(f"bench e2e: {label}{database}, {workers} worker(s) ...", end="", file=sys.stderr, flush=True)
    result = run_e2e(
        database=database,
        workers=workers,
        params=params,
        workdir=round_workdir(args.workdir.resolve(), args.rounds, number) / f"{database}-{workers}w",
        postgres_url=args.postgres_url,
    )
    outcome = "all delivered" if result.ok else "NOT all delivered"
    print(f" {outcome} ({result.wall_seconds:.0f} s)", file=sys.stderr, flush=True)
    return result


def _parameters_json(params: E2EParameters, load: float | None) -> dict[str, Any]:
    return {**asdict(params), "template": str(params.template), "cpus": os.cpu_count(), "load_average": load}


def run_e2e(
    *,
    database: str,
    workers: int,
    params: E2EParameters,
    workdir: Path,
    postgres_url: str = DEFAULT_POSTGRES_URL,
) -> E2EResult:
    """Run one cell: start the gateway on loopback, warm up, run both phases, read the peak memory, stop.

    Args:
        database: ``sqlite`` (a file in ``workdir``) or ``postgres`` (a scratch database ``bench_<random>``
            created on the server of ``postgres_url`` and dropped afterwards).
        workers: number of ``gateway worker`` processes.
        params: the load.
        workdir: recreated; holds the PKI, directory, SQLite file and process logs.
        postgres_url: any database URL of the PostgreSQL server (used to create and drop the scratch one).

    Returns:
        The figures; ``error`` is set (and the figures partial) when the cell could not run to the end.
    """
    started = time.monotonic()
    result = E2EResult(database=database, workers=workers)
    if database == "sqlite" and workers > 1:
        result.notes.append(SQLITE_SHARED_WRITER.format(workers=workers))
    try:
        with ExitStack() as stack:
            if database == "postgres":
                url = stack.enter_context(scratch_postgres_database(postgres_url))
            else:
                url = f"sqlite:///{workdir / 'gateway.db'}"
            _run_cell(result, url=url, workers=workers, params=params, workdir=workdir)
    except Exception as exc:  # a cell that cannot run is reported, and the matrix goes on
        result.error = f"{type(exc).__name__}: {exc}"
    result.wall_seconds = time.monotonic() - started
    return result


def _run_cell(result: E2EResult, *, url: str, workers: int, params: E2EParameters, workdir: Path) -> None:
    template = params.template.read_bytes()
    buyer = complete_document(parse_document_json(template)).buyer.endpoint
    if buyer is None or buyer.scheme == EMAIL_SCHEME:
        raise ValueError(f"{params.template}: the buyer has no Peppol endpoint to deliver to")
    served = [f"{buyer.scheme}:{buyer.value}"]
    listener = listening_socket()
    port = listener.getsockname()[1]
    api_key = secrets.token_urlsafe(32)
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    base_env["GATEWAY_API__KEYS"] = json.dumps([{"name": "bench", "role": "admin", "key": api_key}])
    headers = {"Authorization": f"Bearer {api_key}"}
    with ExitStack() as stack:
        receiver: GatewayProcesses | None = None
        receiver_url: str | None = None
        if params.receiver == OWN_PROCESS:
            receiver_listener = listening_socket()
            receiver_port = receiver_listener.getsockname()[1]
            pair = prepare_access_points(
                workdir,
                served=served,
                receiver_url=f"http://127.0.0.1:{receiver_port}/as4",
                database_url=url,
                sender_url=f"http://127.0.0.1:{port}/as4" if params.mls else None,
            )
            sender_env = {**base_env, **pair.sender_env}
            receiver_env = {**base_env, **pair.receiver_env}
            if params.mls:  # a worker sends the queued MLS at once (this gateway holds early answers)
                receiver_env["GATEWAY_RESPONSES__ANSWER_DELAY_SECONDS"] = "0"
                receiver_env["GATEWAY_WORKER__POLL_INTERVAL_SECONDS"] = str(params.poll_interval)
                receiver_env["GATEWAY_WORKER__BATCH_SIZE"] = str(params.batch_size)
            receiver_env.update(receiver_settings(params))
            receiver_env.update(params.overrides)
            upgrade_database(receiver_env["GATEWAY_DATABASE__URL"])
            receiver_url = receiver_env["GATEWAY_DATABASE__URL"]
            receiver = stack.enter_context(
                run_gateway(
                    pair.receiver_dir,
                    receiver_env,
                    listener=receiver_listener,
                    workers=receiver_worker_count(params),
                )
            )
        else:
            sender_env = {
                **base_env,
                **prepare_loopback(
                    workdir, served=served, as4_url=f"http://127.0.0.1:{port}/as4", database_url=url
                ),
            }
        # What the cell measures is post -> delivered: the sender asks for an MLS on failure only (the
        # SBDH default), so the receiver sends none for a valid copy and has nothing to warn about (its
        # directory does not list the sender for MLS). ``--mls``: see ``E2EParameters.mls``.
        sender_env["GATEWAY_RESPONSES__MLS_TYPE"] = "ALWAYS_SEND" if params.mls else "FAILURE_ONLY"
        sender_env["GATEWAY_WORKER__POLL_INTERVAL_SECONDS"] = str(params.poll_interval)
        sender_env["GATEWAY_WORKER__BATCH_SIZE"] = str(params.batch_size)
        sender_env.update(params.overrides)
        upgrade_database(url)  # once, before the processes start (each would otherwise race to migrate)
        gateway = stack.enter_context(run_gateway(workdir, sender_env, listener=listener, workers=workers))
        everything = gateway.all + (receiver.all if receiver else ())
        for ready in (gateway, receiver):
            if ready is not None:
                with httpx.Client(base_url=ready.base_url, headers=headers, timeout=30) as client:
                    wait_ready(client, everything, 120)
        copies = InvoiceCopies(template, tag=secrets.token_hex(3))
        processes = _Processes(gateway, receiver, receiver_url)
        asyncio.run(_measure(result, processes, headers=headers, copies=copies, params=params))
        for proc in everything:
            if proc.poll() is not None:
                raise RuntimeError(f"{proc.args!r} exited during the run (code {proc.returncode})")
        result.serve_peak_mib = peak_memory_mib(gateway.serve.pid)
        result.worker_peak_mib = [peak_memory_mib(proc.pid) for proc in gateway.workers]
        if receiver is not None:
            result.receiver_peak_mib = peak_memory_mib(receiver.serve.pid)


class _Processes:
    """The processes of one cell, grouped as the CPU figures are reported: the sender's ``serve``, its
    workers, and the receiver's ``serve`` (absent when the sender receives on its own ``/as4``)."""

    def __init__(
        self, sender: GatewayProcesses, receiver: GatewayProcesses | None, receiver_url: str | None = None
    ) -> None:
        self.sender = sender
        self.receiver = receiver
        self.receiver_url = receiver_url  # the receiver's database (its verdicts: ``receiver_done``)
        self.groups = {"serve": (sender.serve,), "workers": sender.workers}
        if receiver is not None:
            self.groups["receiver"] = (receiver.serve,)
            if receiver.workers:
                self.groups["receiver_workers"] = receiver.workers

    def cpu(self) -> dict[str, float]:
        """CPU seconds used so far per group (a process gone counts 0)."""
        return {
            name: sum(cpu_seconds(proc.pid) or 0.0 for proc in procs) for name, procs in self.groups.items()
        }

    def switches(self) -> dict[str, dict[int, dict[int, tuple[int, int]]]]:
        """Context switches so far of each thread of each process, per group (``context_switches``)."""
        return {
            name: {proc.pid: context_switches(proc.pid) for proc in procs}
            for name, procs in self.groups.items()
        }


def _switches_per_document(
    before: dict[str, dict[int, dict[int, tuple[int, int]]]],
    after: dict[str, dict[int, dict[int, tuple[int, int]]]],
    documents: int,
) -> dict[str, tuple[float, float]]:
    """Voluntary and involuntary context switches per document per group, from two ``switches()``."""
    figures: dict[str, tuple[float, float]] = {}
    for name, processes in after.items():
        voluntary = involuntary = 0
        for pid, threads in processes.items():
            vol, invol = switches_between(before.get(name, {}).get(pid, {}), threads)
            voluntary += vol
            involuntary += invol
        figures[name] = (voluntary / documents, involuntary / documents)
    return figures


async def _measure(
    result: E2EResult,
    processes: _Processes,
    *,
    headers: dict[str, str],
    copies: InvoiceCopies,
    params: E2EParameters,
) -> None:
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=50)
    inbound = (processes.receiver or processes.sender).base_url
    async with (
        httpx.AsyncClient(
            base_url=processes.sender.base_url, headers=headers, timeout=120, limits=limits
        ) as client,
        httpx.AsyncClient(base_url=inbound, headers=headers, timeout=120) as inbound_client,
    ):
        # The POSTs go through the benchmark's own small client (``e2e_client``): it runs on the cores it
        # measures, and httpx cost it ≈ 1.8 ms of CPU per document; the waiting loop's GETs use httpx.
        poster = LoopbackPoster(processes.sender.base_url, headers=headers, timeout=120)
        try:
            await _load(result, processes, client, poster, inbound_client, copies=copies, params=params)
        finally:
            await poster.aclose()


async def _load(
    result: E2EResult,
    processes: _Processes,
    client: httpx.AsyncClient,
    poster: LoopbackPoster,
    inbound_client: httpx.AsyncClient,
    *,
    copies: InvoiceCopies,
    params: E2EParameters,
) -> None:
    """Warm up, then both phases (POSTs by ``poster``, the waiting and timelines by ``client``)."""
    if params.warmup:
        warm = await e2e_load.post_burst(poster, copies, first=0, count=params.warmup, concurrency=1)
        await _settle(client, warm, params.timeout, mls=params.mls)
    first = params.warmup
    count = params.fixed_rate_documents
    postings = await e2e_load.post_open_loop(poster, copies, first=first, count=count, rate=params.rate)
    result.fixed_rate = await _settle(client, postings, params.timeout, mls=params.mls)
    first += count
    if params.saturation:
        before = processes.cpu()
        switches_before = processes.switches()
        own_before = time.process_time()
        postings = await e2e_load.post_burst(
            poster,
            copies,
            first=first,
            count=params.saturation,
            concurrency=params.saturation_concurrency,
        )
        # Until the last document is final: reading the timelines afterwards (one GET per document)
        # is the benchmark's work, not the pipeline's (it added ≈ 1.6 ms per document to the sender).
        final: dict[str, float] = {}
        switches_after: list[dict[str, dict[int, dict[int, tuple[int, int]]]]] = []

        def on_final() -> None:
            final.update(processes.cpu(), own=time.process_time())
            switches_after.append(processes.switches())

        result.saturation = await _settle(client, postings, params.timeout, on_final=on_final, mls=params.mls)
        if processes.receiver_url is not None and postings:
            started = min(p.sent_at for p in postings)
            accepted = sum(1 for p in postings if p.document_id is not None)
            done = await asyncio.to_thread(
                wait_receiver_done, processes.receiver_url, started, accepted, params.timeout
            )
            set_receiver_done(result, done, started)
        after = final or {**processes.cpu(), "own": time.process_time()}
        switches = switches_after[0] if switches_after else processes.switches()
        own = after.pop("own")
        if result.saturation.delivered:
            result.cpu_ms_per_document = {
                name: (after[name] - before[name]) * 1000 / result.saturation.delivered for name in after
            }
            result.load_generator_cpu_ms = (own - own_before) * 1000 / result.saturation.delivered
            result.switches_per_document = _switches_per_document(
                switches_before, switches, result.saturation.delivered
            )
    result.inbound_received = await e2e_load.count_inbound(inbound_client)


async def _settle(
    client: httpx.AsyncClient,
    postings: Sequence[Posting],
    timeout: float,
    *,
    on_final: Callable[[], object] | None = None,
    mls: bool = False,
) -> PhaseResult:
    """Wait until the accepted copies are final (then ``on_final``), then compute the phase's figures from
    their timelines. ``mls``: ``delivered`` is waited out too (until the MLS confirms each copy)."""
    accepted = {p.document_id: p for p in postings if p.document_id is not None}
    unfinished = (*e2e_load.UNFINISHED_STATUSES, "delivered") if mls else e2e_load.UNFINISHED_STATUSES
    statuses = await e2e_load.wait_until_final(
        client, accepted, timeout=timeout, on_final=on_final, unfinished=unfinished
    )
    reached = ("delivered", "confirmed") if mls else ("delivered",)
    delivered_ids = [doc_id for doc_id, status in statuses.items() if status in reached]
    times = await e2e_load.status_times(client, delivered_ids, reached)
    delivered_at = {doc_id: at.get("delivered") for doc_id, at in times.items()}
    latencies = _latencies(accepted, delivered_at)
    ends = [at for at in delivered_at.values() if at is not None]
    seconds = _span(postings, ends)
    post_ms = [p.response_seconds * 1000 for p in postings if p.document_id is not None]
    errors = [f"{p.number}: {p.http_status} {p.error}" for p in postings if p.error][:5]
    errors += [f"{doc_id}: {status}" for doc_id, status in statuses.items() if status not in reached][
        : 5 - len(errors)
    ]
    failed = sum(1 for status in statuses.values() if status == "failed")
    phase = PhaseResult(
        posted=len(postings),
        accepted=len(accepted),
        delivered=len(delivered_ids),
        failed=failed,
        pending=len(statuses) - len(delivered_ids) - failed,
        seconds=seconds,
        throughput=len(ends) / seconds if seconds else None,
        latency_p50_ms=percentile(latencies, 50),
        latency_p99_ms=percentile(latencies, 99),
        latency_max_ms=max(latencies) if latencies else None,
        post_p50_ms=percentile(post_ms, 50),
        post_p99_ms=percentile(post_ms, 99),
        max_lag_ms=max((p.lag_seconds for p in postings), default=0.0) * 1000,
        errors=errors,
    )
    if not mls:
        return phase
    confirmed_at = {doc_id: at["confirmed"] for doc_id, at in times.items() if "confirmed" in at}
    confirmed_ms = _latencies(accepted, confirmed_at)
    confirmed_seconds = _span(postings, list(confirmed_at.values()))
    return replace(
        phase,
        confirmed=len(confirmed_at),
        confirmed_throughput=len(confirmed_at) / confirmed_seconds if confirmed_seconds else None,
        confirmed_p50_ms=percentile(confirmed_ms, 50),
        confirmed_p99_ms=percentile(confirmed_ms, 99),
    )


def receiver_settings(params: E2EParameters) -> dict[str, str]:
    """The receiver's settings for ``--receiver-workers`` (none without it)."""
    if not params.receiver_workers:
        return {}
    return {
        "GATEWAY_AS4__AFTER_RECEIPT": "worker",
        "GATEWAY_WORKER__POLL_INTERVAL_SECONDS": str(params.poll_interval),
        "GATEWAY_WORKER__BATCH_SIZE": str(params.batch_size),
        **({} if params.mls else {"GATEWAY_RESPONSES__ANSWER_DELAY_SECONDS": "0"}),
    }


def receiver_worker_count(params: E2EParameters) -> int:
    """The receiver's ``gateway worker`` processes: ``--receiver-workers``, else one with ``--mls``."""
    return params.receiver_workers or int(params.mls)


def wait_receiver_done(
    url: str, since: datetime, expected: int, timeout: float, *, pause: float = 0.05
) -> tuple[int, datetime | None]:
    """Wait (up to ``timeout`` seconds) until the receiver's database holds the verdicts of ``expected``
    documents received since ``since`` (or none of those is still pending), then return how many it holds
    and when the last was recorded (None: none)."""
    engine = make_engine(normalise_url(url))
    t = inbound_documents
    verdicts = (t.c.status != InboundStatus.RECEIVED.value) | (t.c.status_reason != VALIDATION_PENDING)
    query = select(
        func.count().filter(verdicts), func.max(t.c.updated_at).filter(verdicts), func.count()
    ).where(t.c.received_at >= since)
    deadline = time.monotonic() + timeout
    try:
        while True:
            with engine.connect() as connection:
                done, last, received = connection.execute(query).one()
            if done >= expected or (done == received and received) or time.monotonic() > deadline:
                return done, last if last is None or last.tzinfo else last.replace(tzinfo=UTC)
            time.sleep(pause)
    finally:
        engine.dispose()


def set_receiver_done(result: E2EResult, done: tuple[int, datetime | None], started: datetime) -> None:
    """Record ``wait_receiver_done``'s answer for the burst whose first POST was sent at ``started``."""
    count, last = done
    result.receiver_done = count
    if last is not None and count:
        seconds = (last - started).total_seconds()
        result.receiver_done_seconds = seconds
        result.receiver_done_throughput = count / seconds if seconds > 0 else None


def _latencies(accepted: Mapping[str, Posting], reached_at: Mapping[str, datetime | None]) -> list[float]:
    """POST sent -> ``reached_at`` per document, in ms."""
    return [
        (at - accepted[doc_id].sent_at).total_seconds() * 1000
        for doc_id, at in reached_at.items()
        if at is not None
    ]


def _span(postings: Sequence[Posting], ends: Sequence[datetime]) -> float | None:
    """Seconds from the first POST sent to the last of ``ends``; None without any."""
    return (max(ends) - min(p.sent_at for p in postings)).total_seconds() if ends else None


@contextmanager
def scratch_postgres_database(server_url: str) -> Iterator[str]:
    """Create a database ``bench_<random>`` on the server of ``server_url``; drop it (forcefully) on exit.

    Nothing else on the server is touched. Yields the URL of the new database (password included: it is
    handed to the gateway processes, never printed).
    """
    admin = normalise_url(server_url)
    name = f"bench_{secrets.token_hex(6)}"
    engine = make_engine(admin, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield admin.set(database=name).render_as_string(hide_password=False)
        finally:
            with engine.connect() as connection:
                # WITH (FORCE) (PostgreSQL 13+): a process that did not exit cleanly cannot keep it alive.
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        engine.dispose()

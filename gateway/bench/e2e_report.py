"""Parameters, results and the printed table of ``gateway bench e2e`` (see ``gateway.bench.e2e``)."""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from gateway.config import PROJECT_ROOT

DEFAULT_TEMPLATE = PROJECT_ROOT / "tests" / "data" / "documents" / "be-domestic-mixed-rates.json"
OWN_PROCESS = "own-process"
"""The receiving access point is a ``gateway serve`` of its own (its own key, SQLite file and process)."""
SHARED = "shared"
"""The sending gateway receives on its own ``/as4`` endpoint: one gateway plays both sides."""
RECEIVER_MODES = (OWN_PROCESS, SHARED)


@dataclass(frozen=True)
class E2EParameters:
    """What one benchmark cell does (also printed with the figures).

    Attributes:
        rate: offered load of the fixed-rate phase, documents per second (open loop).
        duration: length of the fixed-rate phase in seconds (``round(rate * duration)`` documents).
        saturation: documents posted as fast as possible in the saturation phase (0: skip it).
        saturation_concurrency: concurrent POST requests in the saturation phase.
        warmup: documents delivered before measuring (schemas compiled, connections open).
        poll_interval: ``GATEWAY_WORKER__POLL_INTERVAL_SECONDS`` (a worker's sleep when nothing is due).
        batch_size: ``GATEWAY_WORKER__BATCH_SIZE`` (most jobs one lease query takes; the worker keeps
            ``GATEWAY_WORKER__MAX_IN_FLIGHT`` deliveries in flight).
        timeout: seconds to wait for the documents of one phase to become final.
        template: the JSON document posted (each copy gets its own number).
        receiver: ``OWN_PROCESS`` or ``SHARED`` (``RECEIVER_MODES``).
        mls: the Message Level Status flows back (own-process receiver only): the sender asks for one
            always (SBDH MLS_TYPE ALWAYS_SEND) and serves AS4, the receiver's directory lists the sender's
            SPID for MLS and a receiver's worker sends them (no answer delay); a phase ends when every copy
            is ``confirmed``. Off (the default), the sender asks for an MLS on failure only: a valid copy
            gets none, and the figures are post -> delivered alone.
        overrides: ``(GATEWAY_NAME, value)`` settings of every gateway process (the sender's ``serve`` and
            workers, the receiver), set after the benchmark's own (``--set``).
        receiver_workers: ``gateway worker`` processes of the receiver that do the work after each receipt
            (``GATEWAY_AS4__AFTER_RECEIPT=worker``: its ``serve`` answers receipts only); 0 (the default):
            its ``serve`` does it (and one worker sends the MLS with ``mls``). Own-process receiver only.
    """

    rate: float = 5.0
    duration: float = 15.0
    saturation: int = 60
    saturation_concurrency: int = 16
    warmup: int = 3
    poll_interval: float = 0.1
    batch_size: int = 10
    timeout: float = 180.0
    template: Path = DEFAULT_TEMPLATE
    receiver: str = OWN_PROCESS
    mls: bool = False
    overrides: tuple[tuple[str, str], ...] = ()
    receiver_workers: int = 0

    @property
    def fixed_rate_documents(self) -> int:
        """Documents posted in the fixed-rate phase."""
        return max(1, round(self.rate * self.duration))


@dataclass(frozen=True)
class PhaseResult:
    """The figures of one phase.

    Attributes:
        posted / accepted / delivered / failed / pending: document counts (pending: not final in time).
        seconds: first POST sent -> last ``delivered`` timeline event.
        throughput: delivered / seconds, documents per second end to end.
        latency_p50_ms / latency_p99_ms / latency_max_ms: POST sent -> ``delivered`` timeline event.
        post_p50_ms / post_p99_ms: time until the POST answered (validated and stored).
        max_lag_ms: the latest a request left against the open-loop schedule (0 for a burst).
        errors: the first reasons copies were refused or failed.
        confirmed: copies whose MLS came back (``confirmed``), with ``--mls`` only.
        confirmed_throughput: confirmed / (first POST sent -> last ``confirmed`` event), docs/s.
        confirmed_p50_ms / confirmed_p99_ms: POST sent -> ``confirmed`` event.
    """

    posted: int
    accepted: int
    delivered: int
    failed: int
    pending: int
    seconds: float | None
    throughput: float | None
    latency_p50_ms: float | None
    latency_p99_ms: float | None
    latency_max_ms: float | None
    post_p50_ms: float | None
    post_p99_ms: float | None
    max_lag_ms: float
    errors: list[str] = field(default_factory=list)
    confirmed: int | None = None
    confirmed_throughput: float | None = None
    confirmed_p50_ms: float | None = None
    confirmed_p99_ms: float | None = None


@dataclass
class E2EResult:
    """One cell of the matrix: a database and a number of workers.

    Attributes:
        database: ``sqlite`` or ``postgres``.
        workers: ``gateway worker`` processes.
        fixed_rate: the open-loop phase at ``E2EParameters.rate``.
        saturation: the as-fast-as-possible phase (None when skipped or not reached).
        serve_peak_mib: VmHWM of the sender's ``gateway serve`` process at the end, MiB.
        worker_peak_mib: VmHWM of each worker process at the end, MiB.
        receiver_peak_mib: VmHWM of the receiver's ``gateway serve`` (own-process receiver only), MiB.
        cpu_ms_per_document: CPU time (user + system) per delivered document in the saturation phase,
            per group: ``serve`` (the sender's API; also receiving when shared), ``workers`` (all of them
            together), ``receiver`` (the receiver's ``serve``, own-process only), ``receiver_workers``
            (the receiver's worker sending the MLS, ``--mls`` only).
        switches_per_document: context switches per delivered document in the same phase and groups as
            ``cpu_ms_per_document``, (voluntary, involuntary = preempted), summed over the threads of each
            process (``/proc/<pid>/task/*/status``; a thread that exits during the phase is missed). On a
            host where each switch costs the next work cold caches, a figure to watch beside the CPU.
        load_generator_cpu_ms: CPU time of the benchmark's own process (the load generator posting and
            waiting) per delivered document in the same phase: on the same cores, not in the total.
        inbound_received: documents the receiving ``/as4`` endpoint stored (warm-up included).
        receiver_done: the saturation burst's documents with their verdict recorded by the receiver
            (own-process receiver), waited for once every copy was final for the sender: a receiver that
            validates after its receipts may still be at it then (``GATEWAY_AS4__AFTER_RECEIPT``).
        receiver_done_seconds: first POST of the burst sent -> the last of those verdicts (None: none).
        receiver_done_throughput: receiver_done / receiver_done_seconds, docs/s through the verdict.
        notes: caveats of this configuration.
        error: why the cell could not run to the end, if it could not.
        wall_seconds: how long the whole cell took (start-up and shutdown included).
    """

    database: str
    workers: int
    fixed_rate: PhaseResult | None = None
    saturation: PhaseResult | None = None
    serve_peak_mib: float | None = None
    worker_peak_mib: list[float | None] = field(default_factory=list)
    receiver_peak_mib: float | None = None
    cpu_ms_per_document: dict[str, float] | None = None
    switches_per_document: dict[str, tuple[float, float]] | None = None
    load_generator_cpu_ms: float | None = None
    inbound_received: int | None = None
    receiver_done: int | None = None
    receiver_done_seconds: float | None = None
    receiver_done_throughput: float | None = None
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    wall_seconds: float | None = None

    @property
    def ok(self) -> bool:
        """True when the cell ran and every accepted document of every phase was delivered."""
        phases = [p for p in (self.fixed_rate, self.saturation) if p is not None]
        return self.error is None and bool(phases) and all(p.delivered == p.posted for p in phases)

    def as_json(self) -> dict[str, Any]:
        """JSON form (``ok`` included)."""
        return {**asdict(self), "ok": self.ok}


_HEADER_1 = f"{'':<17} {' fixed offered rate (open loop) ':-^70}  | {' saturation ':-^25}  | peak RSS (VmHWM)"
_HEADER_2 = (
    f"{'database':<9} {'workers':>7} {'offered':>8} {'achieved':>9} {'delivered':>9} {'p50':>7}"
    f" {'p99':>7} {'max':>7} {'POST p50':>8} {'POST p99':>8}  | {'max':>7} {'delivered':>9} {'last':>7}"
    f"  | {'serve':>6} {'recv':>5} workers"
)
_HEADER_3 = (
    f"{'':<9} {'':>7} {'docs/s':>8} {'docs/s':>9} {'':>9} {'ms':>7} {'ms':>7} {'ms':>7} {'ms':>8}"
    f" {'ms':>8}  | {'docs/s':>7} {'':>9} {'s':>7}  | {'MiB':>6} {'MiB':>5} MiB"
)


def _num(value: float | None, fmt: str = ".0f") -> str:
    return "-" if value is None else format(value, fmt)


def _row(result: E2EResult, params: E2EParameters) -> str:
    fixed, sat = result.fixed_rate, result.saturation
    workers_mib = " + ".join(_num(m) for m in result.worker_peak_mib) or "-"
    cells = [
        f"{result.database:<9}",
        f"{result.workers:>7}",
        f"{params.rate:>8.1f}",
        f"{_num(fixed.throughput if fixed else None, '.2f'):>9}",
        f"{(f'{fixed.delivered}/{fixed.posted}' if fixed else '-'):>9}",
        f"{_num(fixed.latency_p50_ms if fixed else None):>7}",
        f"{_num(fixed.latency_p99_ms if fixed else None):>7}",
        f"{_num(fixed.latency_max_ms if fixed else None):>7}",
        f"{_num(fixed.post_p50_ms if fixed else None):>8}",
        f"{_num(fixed.post_p99_ms if fixed else None):>8}",
        " |",
        f"{_num(sat.throughput if sat else None, '.2f'):>7}",
        f"{(f'{sat.delivered}/{sat.posted}' if sat else '-'):>9}",
        f"{_num(sat.seconds if sat else None, '.1f'):>7}",
        " |",
        f"{_num(result.serve_peak_mib):>6}",
        f"{_num(result.receiver_peak_mib):>5}",
        f" {workers_mib}",
    ]
    return " ".join(cells)


_CPU_GROUPS = ("serve", "workers", "receiver")
_MLS_CPU_GROUPS = (*_CPU_GROUPS, "receiver_workers")


def _cpu_row(result: E2EResult, groups: Sequence[str]) -> str:
    cpu = result.cpu_ms_per_document or {}
    cells = [f"{result.database:<9}", f"{result.workers:>7}"]
    cells += [f"{_num(cpu.get(group), '.1f'):>8}" for group in groups]
    cells.append(f"{_num(sum(cpu.values()) if cpu else None, '.1f'):>8}")
    return " ".join(cells)


def _switches_row(result: E2EResult, groups: Sequence[str]) -> str:
    switches = result.switches_per_document or {}
    cells = [f"{result.database:<9}", f"{result.workers:>7}"]
    for group in groups:
        pair = switches.get(group)
        cells.append(f"{(f'{pair[0]:.0f} + {pair[1]:.0f}' if pair else '-'):>9}")
    return " ".join(cells)


def _mls_row(result: E2EResult) -> str:
    cells = [f"{result.database:<9}", f"{result.workers:>7}"]
    for phase in (result.fixed_rate, result.saturation):
        confirmed = f"{phase.confirmed}/{phase.posted}" if phase and phase.confirmed is not None else "-"
        cells += [
            f"{confirmed:>9}",
            f"{_num(phase.confirmed_throughput if phase else None, '.2f'):>7}",
            f"{_num(phase.confirmed_p50_ms if phase else None):>7}",
            f"{_num(phase.confirmed_p99_ms if phase else None):>7}",
        ]
    return " ".join(cells)


def format_table(
    results: Sequence[E2EResult], params: E2EParameters, *, cpus: int | None, load: float | None = None
) -> str:
    """The figures as a text table, with the parameters, the definitions and each cell's caveats."""
    lines = [*format_preamble(params, cpus=cpus, load=load), ""]
    lines += format_figures(results, params)
    lines += format_definitions()
    lines += format_caveats(results)
    return "\n".join(lines)


def interpreter() -> str:
    """The Python every process of the bench runs (they are started with ``sys.executable``): its version
    and file, which tell a distribution's optimised build from a self-built one (README, *Which Python*)."""
    executable = os.path.realpath(sys.executable)
    return f"interpreter {platform.python_implementation()} {platform.python_version()} ({executable})"


def format_preamble(params: E2EParameters, *, cpus: int | None, load: float | None) -> list[str]:
    """What ran: the topology, the load, the machine (``load``: the load average at the start)."""
    where = (
        "a sender (serve + workers) and a receiver (its own serve and SQLite file)"
        if params.receiver == OWN_PROCESS
        else "both sides in one gateway (it receives on its own /as4)"
    )
    return [
        f"gateway bench e2e on loopback, {where}:",
        "  POST -> validated -> stored -> AS4 send -> /as4 received, validated, stored ->",
        "  signed receipt verified -> delivered",
        f"  template {params.template.name} (a unique number per copy), {cpus or '?'} CPUs, "
        f"load average {_num(load, '.2f')} at the start (other work on the machine skews the figures)",
        f"  {interpreter()} (every process of the bench)",
        f"  fixed rate {params.rate:g} docs/s x {params.duration:g} s = {params.fixed_rate_documents} docs "
        f"(open loop); saturation {params.saturation} docs, {params.saturation_concurrency} concurrent POSTs",
        f"  warm-up {params.warmup} docs; worker poll {params.poll_interval:g} s, batch {params.batch_size}",
        (
            "  MLS: ALWAYS_SEND, sent back by a receiver's worker to the sender's /as4 (--mls)"
            if params.mls
            else "  MLS: asked on failure only (valid copies get none; --mls to measure it flowing back)"
        ),
        *([f"  settings: {' '.join(f'{k}={v}' for k, v in params.overrides)}"] if params.overrides else []),
        *(
            [
                f"  receiver: {params.receiver_workers} worker(s) do the work after each receipt "
                "(GATEWAY_AS4__AFTER_RECEIPT=worker; --receiver-workers)"
            ]
            if params.receiver_workers
            else []
        ),
    ]


def format_figures(results: Sequence[E2EResult], params: E2EParameters) -> list[str]:
    """The cells' rows: the main table, CPU and context switches per document, the MLS (``--mls``)."""
    lines = [_HEADER_1, _HEADER_2, _HEADER_3]
    lines += [_row(result, params) for result in results]
    receiver_workers = params.mls or params.receiver_workers > 0
    groups = _MLS_CPU_GROUPS if receiver_workers else _CPU_GROUPS
    until = "confirmed (MLS applied)" if params.mls else "delivered"
    lines += format_receiver_done(results)
    lines += [
        "",
        f"CPU per delivered document in the saturation phase, until the last is {until} (user + system, ms):",
        f"{'database':<9} {'workers':>7} {'serve':>8} {'workers':>8} {'receiver':>8}"
        + (f" {'recv wkr':>8}" if receiver_workers else "")
        + f" {'total':>8}",
    ]
    lines += [_cpu_row(result, groups) for result in results]
    lines += [
        f"  load generator (this process; same cores, not in the total): "
        f"{_num(result.load_generator_cpu_ms, '.1f')} ms ({result.database}, {result.workers} worker(s))"
        for result in results
        if result.load_generator_cpu_ms is not None
    ]
    if any(result.switches_per_document for result in results):
        lines += [
            "Context switches per delivered document, same phase (voluntary + preempted, all threads):",
            f"{'database':<9} {'workers':>7} {'serve':>9} {'workers':>9} {'receiver':>9}"
            + (f" {'recv wkr':>9}" if receiver_workers else ""),
        ]
        lines += [_switches_row(result, groups) for result in results if result.switches_per_document]
    if params.mls:
        lines += [
            "",
            "MLS back to the sender (--mls): POST sent -> 'confirmed' event (the MLS received and applied)",
            f"{'':<17} {' fixed rate ':-^34} {' saturation ':-^34}",
            f"{'database':<9} {'workers':>7}"
            + f" {'confirmed':>9} {'docs/s':>7} {'p50 ms':>7} {'p99 ms':>7}" * 2,
        ]
        lines += [_mls_row(result) for result in results]
    return lines


def format_receiver_done(results: Sequence[E2EResult]) -> list[str]:
    """When the receiver had recorded the verdict of the saturation burst's last document, per cell (none
    without an own-process receiver): work it does after its receipts may end after the sender's figures."""
    rows = [result for result in results if result.receiver_done is not None]
    if not rows:
        return []
    lines = [
        "",
        "Receiver done: first saturation POST -> the receiver's last verdict of the burst (validated):",
    ]
    lines += [
        f"  {result.database}, {result.workers} worker(s): {result.receiver_done} verdicts after "
        f"{_num(result.receiver_done_seconds, '.2f')} s = "
        f"{_num(result.receiver_done_throughput, '.1f')} docs/s"
        for result in rows
    ]
    return lines


def format_definitions() -> list[str]:
    """What the columns mean."""
    return [
        "",
        "achieved / max docs/s: delivered documents / (first POST sent -> last 'delivered' timeline event)",
        "p50/p99/max: POST sent -> 'delivered' event (receipt verified and stored)",
        "POST p50/p99: until the 202 answer (validated and stored)",
        "saturation 'last': POST of the first document -> last delivered (seconds)",
        "peak RSS: VmHWM of each process at the end of the cell (start-up, warm-up and both phases);",
        "  serve = the sender's API (and /as4 when shared), recv = the receiver's serve",
    ]


def format_caveats(results: Sequence[E2EResult], *, round_number: int | None = None) -> list[str]:
    """Each cell's notes, error and undelivered documents (``round_number``: added to each label)."""
    lines: list[str] = []
    for result in results:
        label = f"{result.database}, {result.workers} worker(s)"
        if round_number is not None:
            label += f", round {round_number}"
        lines += [f"note ({label}): {note}" for note in result.notes]
        if result.error:
            lines.append(f"ERROR ({label}): {result.error}")
        for phase_name, phase in (("fixed rate", result.fixed_rate), ("saturation", result.saturation)):
            if phase is not None and phase.delivered != phase.posted:
                lines.append(
                    f"NOT ALL DELIVERED ({label}, {phase_name}): {phase.delivered} of {phase.posted}, "
                    f"{phase.failed} failed, {phase.pending} pending; {'; '.join(phase.errors)}"
                )
    return lines

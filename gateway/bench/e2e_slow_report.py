"""Scenarios, results and the printed table of ``gateway bench e2e-slow`` (see ``gateway.bench.e2e_slow``)."""

from __future__ import annotations

import argparse
import os
import statistics
from dataclasses import dataclass, field

RECEIVERS = 10
#: The share of the baseline throughput the nine fast endpoints must keep (issue 12).
TARGET_RATIO = 0.9
DATABASE_NAMES = {"sqlite": "SQLite", "postgres": "PostgreSQL"}


@dataclass(frozen=True)
class Scenario:
    """One row: how the tenth endpoint answers (``tenth``: it gets a tenth of the documents; without it the
    nine get the same documents as in the other rows, and no more), and the worker's per-endpoint limit
    (None: the default)."""

    label: str
    slow_delay: float | None
    per_endpoint: int | None = None
    tenth: bool = True


@dataclass
class ScenarioResult:
    """The figures of one scenario."""

    scenario: Scenario
    fast_documents: int = 0
    fast_delivered: int = 0
    fast_seconds: float | None = None
    slow_documents: int = 0
    slow_delivered: int = 0
    proxy_requests: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def fast_rate(self) -> float | None:
        """The nine fast endpoints' documents delivered per second."""
        if not self.fast_seconds or self.fast_delivered < 2:
            return None
        return self.fast_delivered / self.fast_seconds


def median_share(results: list[ScenarioResult], baseline: list[ScenarioResult]) -> float | None:
    """The median over rounds of a scenario's throughput divided by the same round's baseline."""
    shares = [
        r.fast_rate / b.fast_rate
        for r, b in zip(results, baseline, strict=True)
        if r.fast_rate is not None and b.fast_rate
    ]
    return statistics.median(shares) if shares else None


def processes_label(database: str, workers: int) -> str:
    """``SQLite, 1 worker``, ``PostgreSQL, 2 workers``: where the header says what ran."""
    return f"{DATABASE_NAMES.get(database, database)}, {workers} worker{'s' if workers > 1 else ''}"


def format_slow_table(
    runs: list[list[ScenarioResult]], max_in_flight: int, per_endpoint: int, args: argparse.Namespace
) -> str:
    """The scenarios side by side: the nine fast endpoints' throughput per round, its median, and its share
    of the same round's baseline (median over rounds). ``args``: the command's (``db``, ``workers``,
    ``documents``, ``send_timeout``, ``rounds``)."""
    load = f"{os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else "?"
    each = "each " if args.workers > 1 else ""  # every worker has its own slots and per-endpoint limit
    lines = [
        f"gateway bench e2e-slow: {args.documents} documents over {RECEIVERS} endpoints (9 fast real AS4 "
        f"receivers + 1 slow), {processes_label(args.db, args.workers)} ({each}{max_in_flight} in flight, "
        f"{per_endpoint} per endpoint by default), send timeout {args.send_timeout:g} s, {args.rounds} "
        f"round(s) interleaved (order rotated per round), {os.cpu_count() or '?'} CPUs, load average {load}",
        "",
    ]
    per_round = [
        " ".join(f"{r.fast_rate:.1f}" if r.fast_rate is not None else "-" for r in results)
        for results in runs
    ]
    width = max([18, *(len(rates) for rates in per_round)])  # 4 rounds of 100+ docs/s: 23 characters
    lines.append(
        f"{'scenario':<44} {'nine: delivered':>16} {'docs/s per round':>{width}} {'median':>7} "
        f"{'vs baseline':>12} {'slow one: delivered':>20}"
    )
    for results, rates in zip(runs, per_round, strict=True):
        known = [r.fast_rate for r in results if r.fast_rate is not None]
        share = median_share(results, runs[0])
        delivered = f"{sum(r.fast_delivered for r in results)}/{sum(r.fast_documents for r in results)}"
        slow = f"{sum(r.slow_delivered for r in results)}/{sum(r.slow_documents for r in results)}"
        median = f"{statistics.median(known):.1f}" if known else "-"
        lines.append(
            f"{results[0].scenario.label:<44} {delivered:>16} {rates:>{width}} {median:>7} "
            f"{f'{share:.0%}' if share is not None else '-':>12} {slow:>20}"
        )
        lines += [f"    error: {error}" for r in results for error in r.errors]
    lines.append("")
    lines.append(
        f"target: the nine keep >= {TARGET_RATIO:.0%} of the baseline with one slow or silent endpoint "
        "(rows 2 and 3); row 4: the same slow endpoint with the per-endpoint limit lifted"
    )
    return "\n".join(lines)

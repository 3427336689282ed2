"""``gateway bench e2e --rounds N``: the grid of cells run N times, its order reversed every other round
(ABBA), and the summary over the rounds (see ``gateway.bench.e2e``).

On a small, shared machine the order of the cells biases them (the second cell of a pair ran faster in both
orders; an hour's drift moves the figures by 15 %): round 1 runs the cells in the given order, round 2 in
the reverse order, round 3 as given... so over an even number of rounds each cell runs as often early as
late. The summary takes, per cell, the median over the rounds of its saturation docs/s and CPU ms per
document, and per database the ratio 2 workers / 1 worker within each round (both cells ran minutes apart,
on the same machine state), then the median of those ratios.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from gateway.bench.e2e_report import (
    E2EParameters,
    E2EResult,
    format_caveats,
    format_definitions,
    format_figures,
    format_preamble,
)

T = TypeVar("T")
Cell = tuple[str, int]
"""``(database, workers)``."""


def cell_order(cells: Sequence[T], round_number: int) -> list[T]:
    """The cells in the order round ``round_number`` (from 1) runs them: odd rounds as given, even ones
    reversed (ABBA)."""
    if round_number < 1:
        raise ValueError(f"round numbers start at 1, not {round_number}")
    return list(cells) if round_number % 2 else list(reversed(cells))


def _median(values: Sequence[float | None]) -> float | None:
    known = [value for value in values if value is not None]
    return statistics.median(known) if known else None


@dataclass(frozen=True)
class CellRounds:
    """One cell over the rounds: per round its saturation docs/s and its CPU ms per document (all the
    gateway's processes, the table's ``total``); None where the cell has no figure or not every document
    was delivered."""

    database: str
    workers: int
    throughputs: tuple[float | None, ...]
    cpu_ms: tuple[float | None, ...]

    @property
    def median_throughput(self) -> float | None:
        return _median(self.throughputs)

    @property
    def median_cpu_ms(self) -> float | None:
        return _median(self.cpu_ms)


@dataclass(frozen=True)
class WorkersRatio:
    """A database's saturation docs/s with 2 workers divided by that with 1, within each round."""

    database: str
    per_round: tuple[float | None, ...]

    @property
    def median(self) -> float | None:
        return _median(self.per_round)


@dataclass(frozen=True)
class RoundsSummary:
    """The cells (in the given order) and the 2 / 1 workers ratio of each database that has both."""

    cells: tuple[CellRounds, ...]
    ratios: tuple[WorkersRatio, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "cells": [
                {
                    "database": cell.database,
                    "workers": cell.workers,
                    "saturation_docs_per_second": list(cell.throughputs),
                    "median_saturation_docs_per_second": cell.median_throughput,
                    "cpu_ms_per_document": list(cell.cpu_ms),
                    "median_cpu_ms_per_document": cell.median_cpu_ms,
                }
                for cell in self.cells
            ],
            "ratio_2_to_1_workers": [
                {"database": ratio.database, "per_round": list(ratio.per_round), "median": ratio.median}
                for ratio in self.ratios
            ],
        }


def _throughput(result: E2EResult) -> float | None:
    return result.saturation.throughput if result.ok and result.saturation else None


def _cpu_ms(result: E2EResult) -> float | None:
    return sum(result.cpu_ms_per_document.values()) if result.ok and result.cpu_ms_per_document else None


def summarise(cells: Sequence[Cell], rounds: Sequence[Sequence[E2EResult]]) -> RoundsSummary:
    """The summary of ``rounds`` (each round's results, in any order) over the distinct ``cells``."""
    by_round = [{(r.database, r.workers): r for r in results} for results in rounds]
    summaries = []
    for database, workers in cells:
        runs = [results.get((database, workers)) for results in by_round]
        summaries.append(
            CellRounds(
                database,
                workers,
                tuple(_throughput(run) if run else None for run in runs),
                tuple(_cpu_ms(run) if run else None for run in runs),
            )
        )
    ratios = []
    for database in dict.fromkeys(database for database, _ in cells):
        if (database, 1) in cells and (database, 2) in cells:
            per_round = []
            for results in by_round:
                one, two = results.get((database, 1)), results.get((database, 2))
                one_rate, two_rate = (_throughput(one) if one else None), (_throughput(two) if two else None)
                per_round.append(two_rate / one_rate if one_rate and two_rate is not None else None)
            ratios.append(WorkersRatio(database, tuple(per_round)))
    return RoundsSummary(tuple(summaries), tuple(ratios))


def _figures(values: Sequence[float | None], fmt: str) -> str:
    return " ".join("-" if value is None else format(value, fmt) for value in values)


def format_summary(summary: RoundsSummary, rounds: int) -> list[str]:
    """The summary as lines of text."""
    rates = [_figures(cell.throughputs, ".2f") for cell in summary.cells]
    cpus = [_figures(cell.cpu_ms, ".1f") for cell in summary.cells]
    rate_width = max([len("max docs/s per round"), *map(len, rates)])
    cpu_width = max([len("CPU ms/doc per round"), *map(len, cpus)])
    lines = [
        f"summary over {rounds} rounds (ABBA: the cell order reversed every other round), saturation phase;",
        "  a cell not all delivered counts '-'; CPU: all the gateway's processes (the table's total)",
        f"{'database':<9} {'workers':>7}  {'max docs/s per round':<{rate_width}} {'median':>7}"
        f"  {'CPU ms/doc per round':<{cpu_width}} {'median':>7}",
    ]
    for cell, rate, cpu in zip(summary.cells, rates, cpus, strict=True):
        lines.append(
            f"{cell.database:<9} {cell.workers:>7}  {rate:<{rate_width}} "
            f"{_figures([cell.median_throughput], '.2f'):>7}  {cpu:<{cpu_width}} "
            f"{_figures([cell.median_cpu_ms], '.1f'):>7}"
        )
    if summary.ratios:
        lines += ["2 workers / 1 worker, max docs/s paired within each round:"]
        lines += [
            f"{ratio.database:<9} per round {_figures(ratio.per_round, '.2f')}; "
            f"median {_figures([ratio.median], '.2f')}"
            for ratio in summary.ratios
        ]
    return lines


def format_rounds(
    rounds: Sequence[Sequence[E2EResult]],
    params: E2EParameters,
    summary: RoundsSummary,
    *,
    cpus: int | None,
    loads: Sequence[float | None],
) -> str:
    """The parameters once, each round's tables (its cells in the order they ran), the definitions, the
    caveats and the summary. ``loads``: the load average at the start of each round."""
    lines = format_preamble(params, cpus=cpus, load=loads[0] if loads else None)
    for number, (results, load) in enumerate(zip(rounds, loads, strict=True), start=1):
        order = "the given order" if number % 2 else "reverse order"
        at_start = "-" if load is None else f"{load:.2f}"
        lines += [
            "",
            f"round {number} of {len(rounds)}: cells in {order}, load average {at_start} at its start",
        ]
        lines += format_figures(results, params)
    lines += format_definitions()
    for number, results in enumerate(rounds, start=1):
        lines += format_caveats(results, round_number=number)
    lines += ["", *format_summary(summary, len(rounds))]
    return "\n".join(lines)

"""Benchmark and load tooling lives in ``gateway.bench``; the CLI only parses ``gateway bench ...``."""

from __future__ import annotations

import importlib.util
import pkgutil

import gateway.bench
import gateway.cli
from gateway.cli.main import build_parser


def test_the_cli_package_holds_no_benchmark_or_load_tooling() -> None:
    names = {m.name for m in pkgutil.iter_modules(gateway.cli.__path__)}
    assert not {n for n in names if n.startswith("bench_") or n in ("e2e_load", "loopback")}
    for module in ("validation", "as4", "e2e", "e2e_report", "e2e_load", "loopback"):
        assert importlib.util.find_spec(f"gateway.bench.{module}") is not None


def test_gateway_bench_still_offers_every_benchmark() -> None:
    parser = build_parser([])
    for argv in (
        ["bench", "validation", "--repeat", "1"],
        ["bench", "as4", "--repeat", "1"],
        ["bench", "e2e"],
        ["bench", "e2e-slow"],
        ["bench", "instructions"],
    ):
        args = parser.parse_args(argv)
        assert args.func.__module__.startswith("gateway.bench."), argv

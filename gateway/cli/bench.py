"""``gateway bench ...``: benchmarks that print figures (never timed tests)."""

from __future__ import annotations

import argparse

from gateway.bench import abuse
from gateway.cli import bench_as4, bench_e2e, bench_validation


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("bench", help="benchmarks: print speed and memory figures")
    sub = p.add_subparsers(dest="bench", metavar="BENCHMARK", required=True)
    bench_validation.register(sub)
    bench_as4.register(sub)
    bench_e2e.register(sub)
    abuse.register(sub)

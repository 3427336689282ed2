"""``gateway bench ...``: parse the arguments and run a benchmark of ``gateway.bench`` (they print figures;
no test is timed)."""

from __future__ import annotations

import argparse
from pathlib import Path

from gateway.bench import abuse, as4, e2e, e2e_slow, instructions, large, memory, render, validation
from gateway.bench.e2e_report import DEFAULT_TEMPLATE, RECEIVER_MODES, E2EParameters


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("bench", help="benchmarks: print speed and memory figures")
    sub = p.add_subparsers(dest="bench", metavar="BENCHMARK", required=True)
    _register_validation(sub)
    _register_as4(sub)
    _register_e2e(sub)
    _register_large(sub)
    _register_e2e_slow(sub)
    _register_instructions(sub)
    _register_abuse(sub)
    _register_render(sub)
    _register_memory(sub)


def _register_validation(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``validation`` benchmark to the ``bench`` subcommand's subparsers."""
    p = subparsers.add_parser(
        "validation", help="validation ms/document per layer: fused and official engines vs raw artefacts"
    )
    p.add_argument(
        "files", nargs="*", type=Path, metavar="FILE", help="documents (default: official examples)"
    )
    p.add_argument("--repeat", type=int, default=5, help="runs per document (default 5)")
    p.add_argument("--rules", metavar="ID", help="rule set id (default: the one in force today)")
    p.add_argument(
        "--lines",
        type=int,
        action="append",
        help="lines of a generated large invoice (repeatable; default 500 and 5000, none with --instructions;"
        " 0: none)",
    )
    p.add_argument(
        "--deep",
        type=int,
        default=0,
        metavar="N",
        help="also a hostile document: N cbc:UUID inside 95 nested cac:Delivery (default 0: none)",
    )
    p.add_argument(
        "--notes",
        type=int,
        default=0,
        metavar="N",
        help="also a hostile document: N empty cbc:Note, a finding on each (default 0: none)",
    )
    p.add_argument(
        "--interleave",
        action="store_true",
        help="run the three columns in turn on each document (default: each column over all documents)",
    )
    p.add_argument(
        "--pause",
        type=float,
        default=0.0,
        metavar="MS",
        help="sleep MS ms before every timed validation: caches as a gateway process finds them between"
        " documents (default 0: back to back)",
    )
    p.add_argument(
        "--instructions",
        action="store_true",
        help="count each column's instructions per validation under valgrind's callgrind instead of timing"
        " (the same from run to run on one host; a few minutes for the examples; --repeat, --interleave,"
        " --pause unused)",
    )
    p.set_defaults(func=validation.run_bench_validation)


def _register_as4(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``as4`` benchmark to the ``bench`` subcommand's subparsers."""
    p = subparsers.add_parser("as4", help="AS4 build and receive ms/message, ours vs the PyPI as4 library")
    p.add_argument("--ubl", type=Path, default=as4.DEFAULT_UBL, help="seed invoice (needs a cac:InvoiceLine)")
    p.add_argument("--repeat", type=int, default=15, help="messages per size (default 15)")
    p.add_argument("--no-reference", action="store_true", help="skip the PyPI as4 library (interop kit)")
    p.set_defaults(func=as4.run_bench_as4)


def _register_large(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``large`` benchmark to the ``bench`` subcommand's subparsers."""
    p = subparsers.add_parser("large", help="large documents end to end: peak memory growth per process")
    p.add_argument(
        "--attachment-mb", type=float, default=20, help="UBL size of the attachment invoice (0: skip)"
    )
    p.add_argument("--lines", type=int, default=5000, help="lines of the long invoice (0: skip)")
    p.add_argument(
        "--timeout", type=float, default=600, help="seconds per document until final (default 600)"
    )
    p.add_argument(
        "--workdir", type=Path, default=large.DEFAULT_WORKDIR, help="recreated: logs and databases"
    )
    p.add_argument("--no-stages", dest="stages", action="store_false", help="skip the in-process step table")
    _add_set_option(
        p, "a setting of every gateway process (repeatable), e.g. to compare with a memory setting off"
    )
    p.set_defaults(func=large.run_bench_large)


def _register_memory(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``memory`` benchmark to the ``bench`` subcommand's subparsers."""
    p = subparsers.add_parser(
        "memory",
        help="RSS and peak of a serve-like process per stage: memory settings vs library defaults",
        description=memory.__doc__,
    )
    p.add_argument("--documents", type=int, default=600, help="official examples validated (default 600)")
    p.add_argument(
        "--lines", type=int, default=5000, help="lines of the large invoice (default 5000; 0: none)"
    )
    p.add_argument("--repeat", type=int, default=2, help="processes per column (default 2)")
    p.set_defaults(func=memory.run_bench_memory)


def _register_render(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``render`` benchmark to the ``bench`` subcommand's subparsers."""
    p = subparsers.add_parser("render", help="ms to render a large invoice as HTML (and PDF with --pdf)")
    p.add_argument("--lines", type=int, default=300, help="invoice lines (default 300)")
    p.add_argument("--repeat", type=int, default=5, help="runs (default 5)")
    p.add_argument("--lang", choices=("en", "fr", "nl"), default="fr", help="language (default fr)")
    p.add_argument("--pdf", action="store_true", help="also print the PDF once")
    p.set_defaults(func=render.run_bench_render)


def _register_e2e(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``e2e`` benchmark to the ``bench`` subcommand's subparsers."""
    d = E2EParameters()
    p = subparsers.add_parser(
        "e2e",
        help="end to end on loopback: docs/s, p50/p99 latency, peak memory (SQLite/PostgreSQL x 1/2 workers)",
        description="Start a sending gateway (serve + workers) and a receiving one (serve) on loopback, "
        "post copies of a sample invoice that travel over AS4 from one to the other, and print throughput, "
        "latency, CPU per document and peak memory. Without --db/--workers it runs sqlite and postgres with "
        "1 and 2 workers.",
    )
    p.add_argument("--db", action="append", choices=e2e.DATABASES, help="database (repeatable; default both)")
    p.add_argument(
        "--workers", action="append", type=int, help="worker processes (repeatable; default 1 and 2)"
    )
    p.add_argument(
        "--rate", type=float, default=d.rate, help=f"offered docs/s, open loop (default {d.rate:g})"
    )
    p.add_argument(
        "--duration", type=float, default=d.duration, help=f"seconds at --rate (default {d.duration:g})"
    )
    p.add_argument(
        "--saturation",
        type=int,
        default=d.saturation,
        help=f"docs posted flat out (default {d.saturation}; 0 skips)",
    )
    p.add_argument("--saturation-concurrency", type=int, default=d.saturation_concurrency, metavar="N")
    p.add_argument(
        "--warmup", type=int, default=d.warmup, help=f"docs delivered before measuring (default {d.warmup})"
    )
    p.add_argument(
        "--poll-interval", type=float, default=d.poll_interval, help="worker poll interval, seconds"
    )
    p.add_argument("--batch-size", type=int, default=d.batch_size, help="worker batch size")
    p.add_argument(
        "--timeout", type=float, default=d.timeout, help="seconds to wait for a phase's deliveries"
    )
    p.add_argument("--template", type=Path, default=d.template, help="JSON document to post (unique numbers)")
    p.add_argument(
        "--receiver",
        choices=RECEIVER_MODES,
        default=d.receiver,
        help=f"receiving access point: its own gateway serve, or the sender's /as4 (default {d.receiver})",
    )
    p.add_argument(
        "--mls",
        action="store_true",
        help="the MLS flows back: the receiver's worker sends one per copy to the sender's /as4, and a phase "
        "ends when every copy is confirmed (prints post -> confirmed and the CPU of the receiver's worker)",
    )
    p.add_argument(
        "--receiver-workers",
        type=int,
        default=d.receiver_workers,
        metavar="N",
        help="run the receiver with GATEWAY_AS4__AFTER_RECEIPT=worker and N gateway worker processes doing "
        "the validation, MLS and draft after each receipt (default 0: its serve does it)",
    )
    _add_postgres_url_option(p)
    p.add_argument(
        "--workdir", type=Path, default=e2e.DEFAULT_WORKDIR, help="PKI, SQLite files, logs (recreated)"
    )
    _add_set_option(
        p, "a setting of every gateway process, sender and receiver (repeatable), e.g. Saxon's heap"
    )
    p.add_argument(
        "--rounds",
        type=int,
        default=1,
        metavar="N",
        help="run the grid N times, the cell order reversed every other round (ABBA; an even N balances it), "
        "and summarise: per cell the median saturation docs/s and CPU ms/document, per database the ratio "
        "2 / 1 workers within each round and its median (default 1)",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of the table")
    p.set_defaults(func=e2e.run_bench_e2e)


def _register_instructions(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``instructions`` benchmark to the ``bench`` subcommand's subparsers."""
    p = subparsers.add_parser(
        "instructions",
        help="instructions per document on the sender, worker and receiver paths, counted by callgrind,"
        " this checkout and references side by side",
        description=instructions.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--path",
        action="append",
        choices=instructions.PATHS,
        help="a path to count (repeatable; default all three)",
    )
    p.add_argument(
        "--documents",
        type=_positive,
        default=instructions.DOCUMENTS,
        help=f"documents counted per path (default {instructions.DOCUMENTS})",
    )
    p.add_argument(
        "--warm-up",
        type=_positive,
        default=instructions.WARM_UP,
        metavar="N",
        help=f"documents run before the counted ones (default {instructions.WARM_UP})",
    )
    p.add_argument(
        "--reference",
        action="append",
        type=Path,
        metavar="DIR",
        help="also count the gateway package under DIR (an export of another commit: git archive REV |"
        " tar -x -C DIR, DIR beside ../shared), printed beside this checkout's (repeatable)",
    )
    p.add_argument(
        "--template", type=Path, default=DEFAULT_TEMPLATE, help="JSON document (a new number per copy)"
    )
    p.add_argument(
        "--stages",
        action="store_true",
        help="also split each document by named stages (a marker on entry and exit of each: the figures"
        " include the markers' own instructions)",
    )
    p.set_defaults(func=instructions.run_bench_instructions)


def _positive(text: str) -> int:
    """An argument that is a whole number of at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not at least 1")
    return value


def _register_e2e_slow(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``e2e-slow`` benchmark (the e2e bench's slow-receiver scenario) to the subparsers."""
    p = subparsers.add_parser(
        "e2e-slow",
        help="one slow receiver among ten: the nine others' docs/s with and without it, side by side",
        description=e2e_slow.__doc__,
    )
    p.add_argument("--documents", type=int, default=200, help="documents per scenario (default 200)")
    p.add_argument(
        "--rounds",
        type=int,
        default=4,
        help="runs of every scenario, interleaved, the order rotated by one place per round (4 puts each "
        "scenario once in every position; default 4)",
    )
    p.add_argument("--slow-delay", type=float, default=10.0, help="seconds the slow one takes (default 10)")
    p.add_argument(
        "--send-timeout", type=float, default=30.0, help="worker send timeout, seconds (default 30)"
    )
    p.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for the nine's documents")
    p.add_argument("--max-in-flight", type=int, help="worker deliveries in flight (default: the setting's)")
    p.add_argument(
        "--db",
        choices=e2e.DATABASES,
        default="sqlite",
        help="database (default sqlite; postgres: a scratch bench_<random> per scenario)",
    )
    p.add_argument(
        "--workers", type=int, default=1, help="gateway worker processes (default 1; more only with postgres)"
    )
    _add_postgres_url_option(p)
    p.add_argument("--template", type=Path, default=e2e_slow.DEFAULT_TEMPLATE, help="JSON document to post")
    p.add_argument(
        "--workdir",
        type=Path,
        default=e2e_slow.DEFAULT_WORKDIR,
        help="PKI, SQLite files, logs: round-<n>/s<row> for each run (s<row> with one round; recreated)",
    )
    p.set_defaults(func=e2e_slow.run_bench_e2e_slow)


def _register_abuse(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``abuse`` benchmark to the ``bench`` subcommand's subparsers."""
    d = abuse.AbuseParameters()
    p = subparsers.add_parser(
        "abuse",
        help="hostile-client figures: peak RSS, descriptors, DB growth per junk request, /healthz latency",
        description=abuse.__doc__,
    )
    p.add_argument("--big-mb", type=int, default=d.big_mb, help="size of each large body (MB)")
    p.add_argument("--big-parallel", type=int, default=d.big_parallel, help="parallel large bodies per kind")
    p.add_argument("--slow-clients", type=int, default=d.slow_clients, help="half-open connections")
    p.add_argument("--slow-hold", type=float, default=d.slow_hold_seconds, help="seconds they are held")
    p.add_argument("--junk", type=int, default=d.junk_requests, help="junk AS4 requests")
    p.add_argument("--methods", type=int, default=d.invented_methods, help="requests with invented methods")
    p.add_argument(
        "--time-budget", type=float, default=d.time_budget, help="seconds before phases are skipped"
    )
    p.add_argument("--workdir", type=Path, default=abuse.DEFAULT_WORKDIR, help="recreated; logs and database")
    p.set_defaults(func=abuse.run_bench_abuse)


def _add_set_option(p: argparse.ArgumentParser, help_text: str) -> None:
    """``--set GATEWAY_NAME=VALUE`` (repeatable): a setting for the gateway processes a benchmark starts."""
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="GATEWAY_NAME=VALUE",
        help=help_text,
    )


def _add_postgres_url_option(p: argparse.ArgumentParser) -> None:
    """``--postgres-url``: the PostgreSQL server of the scratch databases of ``e2e`` and ``e2e-slow``."""
    p.add_argument(
        "--postgres-url", default=e2e.DEFAULT_POSTGRES_URL, help="server where bench_<random> is created"
    )

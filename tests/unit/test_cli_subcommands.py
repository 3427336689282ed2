"""``gateway COMMAND`` imports only that command's module (BENCHMARKS.md, *Memory, seventh pass*)."""

from __future__ import annotations

import subprocess
import sys

from gateway.cli.main import SUBCOMMANDS, build_parser

_PROBE = """
import sys
from gateway.cli.main import build_parser
args = build_parser(sys.argv[1:]).parse_args(sys.argv[1:])
heavy = [m for m in sys.modules if m.startswith(("gateway.bench", "gateway.cli.demo", "gateway.devnet"))]
print(args.command, args.func.__module__, len(heavy))
"""


def _probe(*argv: str) -> list[str]:
    run = subprocess.run([sys.executable, "-c", _PROBE, *argv], capture_output=True, text=True, check=True)
    return run.stdout.split()


def test_serve_and_worker_load_neither_the_benchmarks_nor_the_demo() -> None:
    assert _probe("serve", "--port", "9") == ["serve", "gateway.cli.serve", "0"]
    assert _probe("worker") == ["worker", "gateway.cli.worker", "0"]


def test_a_benchmark_command_still_finds_its_module() -> None:
    command, module, heavy = _probe("bench", "validation", "--repeat", "1")
    assert (command, module) == ("bench", "gateway.bench.validation")
    assert int(heavy) > 0


def test_without_a_known_command_every_subcommand_is_offered() -> None:
    for argv in ([], ["--help"], ["no-such-command"]):
        parser = build_parser(argv)
        choices = next(a for a in parser._actions if a.dest == "command").choices
        assert choices is not None
        assert list(choices) == list(SUBCOMMANDS)

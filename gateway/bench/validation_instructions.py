"""``gateway bench validation --instructions``: instructions per validation, counted by callgrind.

On the shared VMs this project is measured on, the same CPU-bound loop takes 106-180 ms from one second to
the next (BENCHMARKS.md, *Validation, seventeenth pass: instructions and cache misses*), and the fused
column of ``bench validation`` moves by half from one run to the next while the raw column moves by a
tenth. An instruction count does not move: valgrind's callgrind counts the instructions a process
executes, the same from run to run for the same build, inputs and host whatever else the machine does
(another CPU may take other variants of glibc's string functions, other library versions other paths).

Each column runs in a child process of its own (``validation_columns.main``, as ``measure_apart`` starts
it), under callgrind, with ``PYTHONHASHSEED=0``. The child calls ``instruction_marker`` before each
validation and once after the last; callgrind writes its counts at each call (``--dump-before``), so the
part between two calls is one validation, every instruction of the process included (lxml, XSD, Saxon's
parse and transform, the findings, Saxon's collections). Each document runs ``runs`` times and keeps the
lowest count: a young collection of Saxon's heap lands in one of the runs.

An instruction count is not time. The fused stylesheet's instructions are slower ones than the official
stylesheets' (more of them miss the caches: the rule bodies' many kinds of expression against the
official stylesheets' long scans of literals), so the time ratio stays above the instruction ratio; and
valgrind runs a process about 50 times slower (the examples take a few minutes). A benchmark prints
figures; it is not a test.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from gateway.bench.validation_columns import COLUMNS, INSTRUCTION_MARKER, JobFiles
from gateway.config import Settings

#: Runs of each document per column; the lowest count is kept.
RUNS = 2

_SUMMARY = re.compile(rb"^(?:summary|totals):[ \t]+(\d+)", re.MULTILINE)


def callgrind_command(valgrind: str, marker: str, dumps: Path) -> list[str]:
    """valgrind's words before a child's command: callgrind over every thread of the child, a dump of the
    counts before each call of the function ``marker``, into ``dumps`` (one file per dump)."""
    return [
        valgrind,
        "--tool=callgrind",
        "-q",  # a failed child's last lines are then its own, not valgrind's summary
        "--separate-threads=no",
        "--combine-dumps=no",
        "--collect-atstart=yes",
        "--instr-atstart=yes",
        f"--dump-before={marker}",
        f"--callgrind-out-file={dumps}",
    ]


def dump_instructions(path: Path) -> int:
    """The instructions of one callgrind dump (its ``summary:`` line, else its ``totals:``); the file is
    removed once read (a column's dumps are megabytes each).

    Raises:
        RuntimeError: the file holds neither.
    """
    found = _SUMMARY.search(path.read_bytes())
    path.unlink()
    if found is None:
        raise RuntimeError(f"no instruction count in callgrind's {path.name}")
    return int(found.group(1))


def count_instructions(
    settings: Settings,
    rule_set_id: str,
    groups: Sequence[Sequence[bytes]],
    *,
    columns: Sequence[str] = COLUMNS,
    runs: int = RUNS,
    warm_up: bytes | None = None,
    valgrind: str | None = None,
    run: Callable[..., subprocess.CompletedProcess[bytes]] = subprocess.run,
) -> list[list[dict[str, int]]]:
    """Per group of ``groups``, per document: the lowest instruction count of ``runs`` validations in each
    column (keys ``instructions-<column>``), each column in a callgrind child process of its own.

    The child gets ``PYTHONHASHSEED=0`` and no ``VALGRIND_OPTS``, and callgrind the options the dumps are
    read with, so that a ``~/.valgrindrc`` cannot change what is counted.

    Raises:
        RuntimeError: no valgrind, a child failed, or callgrind wrote another number of dumps than
            validations (something else called the marker).
    """
    valgrind = valgrind or shutil.which("valgrind")
    if valgrind is None:
        raise RuntimeError("--instructions needs valgrind on the PATH (Debian: apt-get install valgrind)")
    found: list[list[dict[str, int]]] = [[{} for _ in group] for group in groups]
    expected = sum(len(group) for group in groups) * runs
    env = {k: v for k, v in os.environ.items() if k != "VALGRIND_OPTS"} | {"PYTHONHASHSEED": "0"}
    with tempfile.TemporaryDirectory(prefix="bench-instructions-") as folder:
        base = Path(folder)
        files = JobFiles.write(base, [(group, runs) for group in groups], warm_up)
        for name in columns:
            job, out = files.job(settings, rule_set_id, name, marker=True)
            dumps = base / f"callgrind-{name}.out"
            done = run(
                [
                    *callgrind_command(valgrind, INSTRUCTION_MARKER, dumps),
                    sys.executable,
                    "-m",
                    "gateway.bench.validation_columns",
                    str(job),
                    str(out),
                ],
                check=False,
                env=env,
                capture_output=True,
            )
            if done.returncode != 0:
                tail = (done.stderr or b"").decode("utf-8", "replace").strip().splitlines()[-3:]
                raise RuntimeError(
                    f"the {name} column's callgrind child failed (exit status {done.returncode}): "
                    + " | ".join(tail)
                )
            # Part 1 is the start-up, parts 2 .. expected + 1 the validations, the last (no number) the exit.
            parts = sorted(base.glob(f"{dumps.name}.*"), key=lambda p: int(p.suffix[1:]))
            if len(parts) != expected + 1:
                raise RuntimeError(
                    f"callgrind wrote {len(parts)} dumps for the {name} column where {expected + 1} were"
                    f" expected: this Python has no {INSTRUCTION_MARKER} symbol, or something else called it"
                )
            counts = (dump_instructions(p) for p in parts[1:])
            for g, group in enumerate(groups):
                for d in range(len(group)):
                    found[g][d][f"instructions-{name}"] = min(next(counts) for _ in range(runs))
    return found

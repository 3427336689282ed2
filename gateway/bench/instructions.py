"""``gateway bench instructions``: instructions per document on each path of ``bench e2e``, counted by
callgrind, this checkout and references side by side in one run.

Issue 12's end-to-end figures are measured on shared 2-vCPU hosts where the CPU per document moves by
±15 % within minutes with the same code; an instruction count does not move (valgrind's callgrind counts
the instructions a process executes: the same from run to run for the same build, inputs and host). The
paths, as the twenty-fourth session's probes counted them (BENCHMARKS.md, *Sender and worker instructions
per document*, *Receiver instructions per document*):

- ``sender``: one POST to ``/v1/outbound/invoices`` (a copy of ``be-domestic-mixed-rates.json`` with its
  own number), answered 202: ``create_app(Settings(), warm=True)`` in a Starlette ``TestClient``, the
  client's side included;
- ``worker``: one delivery, ``DeliveryWorker.run_batch(limit=1)``: lease, build, sign, encrypt, the HTTP
  send to a receiving ``gateway serve`` on loopback (not under valgrind), the receipt's check, delivered;
- ``receiver``: one received AS4 message (built by the sender's code with the development PKI of
  ``prepare_access_points``), ``AS4Receiver.receive(headers, body, defer=...)`` then the deferred work
  (validation, verdict, MLS decision, expense draft, commit): valid.

Each path of each tree runs in a child of its own, ``instructions_probe.py`` run by its file path with
``PYTHONPATH`` set to the tree (this checkout, or a ``--reference`` folder: an export of another commit,
``git archive REV | tar -x -C DIR``, directly under the folder that holds ``shared``, so that its
``../shared`` resolves; ``GATEWAY_ARTEFACTS__*`` variables are passed on). The probe is always this
checkout's file and uses only what the gateway had at 125f212, so a reference without this bench is
counted by the same probe. A first run of it without valgrind prepares the access points and the
documents (``prepare``); the second, under callgrind with ``PYTHONHASHSEED=0`` and
``--separate-threads=no`` (every thread of the process counted), runs ``WARM_UP`` documents and then
``documents`` each after a call of ``time.sleep(0)``, where callgrind dumps its counts
(``--dump-before=clock_nanosleep*``): the part between two dumps is one document, every instruction of the
process included. Everything happens in a temporary folder removed afterwards.

The counts are printed as median (min-max) in millions of instructions per document, per path and tree,
with the total of the medians and each reference's difference to this checkout; ``--stages`` adds each
path's split by named stages (``gateway.bench.instructions_stages``). An instruction count is
not time (valgrind runs a process about 50 times slower: a few minutes per path); a benchmark prints
figures, it is not a test.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from gateway.bench.instructions_stages import DOCUMENT, STAGES, format_stages, split
from gateway.bench.loopback import listening_socket, stop_processes, wait_ready
from gateway.bench.validation_columns import INSTRUCTION_MARKER
from gateway.bench.validation_instructions import callgrind_command, dump_instructions
from gateway.config import PROJECT_ROOT, Settings

PROBE = Path(__file__).with_name("instructions_probe.py")
"""The child's file, run by its path (``python -P``) whatever ``gateway`` package ``PYTHONPATH`` names."""
PATHS = ("sender", "worker", "receiver")
"""The paths, in the order they are printed (``instructions_probe.PATHS``)."""
ENDED = {"sender": "accepted", "worker": "delivered", "receiver": "valid"}
"""What each counted document of a path must end as."""
WARM_UP = 3
"""Documents run before the first counted one (stylesheets compiled, connections open, caches filled)."""
DOCUMENTS = 8
"""Documents counted per path by default."""
MARKER = INSTRUCTION_MARKER
"""The C function callgrind dumps its counts before (``instructions_probe.instruction_marker``: the C
library's ``clock_nanosleep``, entered by ``time.sleep(0)``; ``validation_columns.INSTRUCTION_MARKER``)."""
READY_TIMEOUT = 120.0
"""Seconds the worker path's receiving ``gateway serve`` gets to answer ``/readyz``."""

Run = Callable[..., subprocess.CompletedProcess[bytes]]


@dataclass(frozen=True)
class Tree:
    """A ``gateway`` package the probe imports (``PYTHONPATH``): this checkout or a reference.

    Attributes:
        label: its column's head.
        root: the folder holding its ``gateway`` package.
    """

    label: str
    root: Path


@dataclass(frozen=True)
class Summary:
    """A path's counts in one tree: median, lowest and highest instructions per document."""

    median: float
    low: int
    high: int

    @classmethod
    def of(cls, counts: Sequence[int]) -> Summary:
        """The summary of ``counts`` (at least one)."""
        return cls(statistics.median(counts), min(counts), max(counts))

    def __str__(self) -> str:
        return f"{self.median / 1e6:.2f} ({self.low / 1e6:.2f}-{self.high / 1e6:.2f})"


def run_bench_instructions(args: argparse.Namespace, settings: Settings) -> int:
    """Count every path of ``args.path`` in this checkout and each ``args.reference``; print the table.

    Returns:
        2 without valgrind on the PATH or with a reference that holds no ``gateway`` package, else 0.
    """
    logging.getLogger("httpx").setLevel(logging.WARNING)  # the receiver's /readyz polls
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        print(
            "gateway bench instructions: valgrind is not on the PATH (Debian: apt-get install valgrind)",
            file=sys.stderr,
        )
        return 2
    trees = [Tree("this checkout", PROJECT_ROOT)]
    for folder in args.reference or ():
        root = Path(folder).resolve()
        if not (root / "gateway" / "__init__.py").is_file():
            print(f"gateway bench instructions: {folder} holds no gateway package", file=sys.stderr)
            return 2
        trees.append(Tree(str(folder), root))
    paths = [p for p in PATHS if p in (args.path or PATHS)]
    print(
        f"instructions per document (M), median (min-max) of {args.documents} after {args.warm_up} warm-up;"
        f" callgrind --separate-threads=no, PYTHONHASHSEED=0; template {args.template.name}",
        flush=True,
    )
    found: dict[str, dict[str, Summary]] = {}
    split: dict[str, dict[str, list[dict[str, int]]]] = {}
    for path in paths:
        for tree in trees:
            documents = count_path(
                path, tree, documents=args.documents, warm_up=args.warm_up, template=args.template,
                valgrind=valgrind, stages=args.stages,
            )  # fmt: skip
            found.setdefault(path, {})[tree.label] = Summary.of([d[DOCUMENT] for d in documents])
            split.setdefault(path, {})[tree.label] = documents
            print(f"  {path} in {tree.label}: {found[path][tree.label]}", file=sys.stderr, flush=True)
    labels = [t.label for t in trees]
    print(format_table(found, labels))
    if args.stages:
        print("\nby stage, median per document (the markers of the stages included in every figure):")
        print(format_stages(split, labels))
    return 0


def format_table(found: Mapping[str, Mapping[str, Summary]], labels: Sequence[str]) -> str:
    """One row per path and a total of the medians; a column per tree (``labels``, this checkout first),
    each reference's with its difference to the first column's median."""
    width = max(22, *(len(label) + 2 for label in labels))
    lines = [f"{'path':<10}" + "".join(f"{label:>{width + 10}}" for label in labels)]
    totals = [sum(found[path][label].median for path in found) for label in labels]
    for path, summaries in found.items():
        first = summaries[labels[0]].median
        cells = [f"{summaries[labels[0]]!s:>{width + 10}}"]
        for label in labels[1:]:
            cells.append(f"{summaries[label]!s:>{width}} {_change(summaries[label].median, first):>9}")
        lines.append(f"{path:<10}" + "".join(cells))
    cells = [f"{totals[0] / 1e6:>{width + 10}.2f}"]
    cells += [f"{t / 1e6:>{width}.2f} {_change(t, totals[0]):>9}" for t in totals[1:]]
    lines.append(f"{'total':<10}" + "".join(cells))
    return "\n".join(lines)


def _change(value: float, base: float) -> str:
    return f"{(value - base) / base * 100:+.2f} %" if base else "-"


def count_path(
    path: str,
    tree: Tree,
    *,
    documents: int,
    warm_up: int,
    template: Path,
    valgrind: str | None,
    stages: bool = False,
    run: Run = subprocess.run,
) -> list[dict[str, int]]:
    """The instructions of each of ``documents`` documents of ``path`` run by ``tree``'s gateway: per
    document, its count (key ``DOCUMENT``) and with ``stages`` each stage's and its calls
    (``instructions_stages.split``).

    ``valgrind`` None runs the counting child without valgrind (the tests of the probe) and returns no
    counts.

    Raises:
        RuntimeError: a child failed, a document did not end as the path's documents must (``ENDED``), or
            callgrind wrote another number of dumps than documents (something else called the marker).
    """
    with tempfile.TemporaryDirectory(prefix="bench-instructions-") as folder:
        base = Path(folder)
        listener = listening_socket()  # the worker path's receiver; the others' directory names it
        try:
            api_key = secrets.token_urlsafe(24)
            job = {
                "path": path,
                "workdir": str(base / "points"),
                "template": str(template.resolve()),
                "warm_up": warm_up,
                "documents": documents,
                "tag": secrets.token_hex(3),
                "api_key": api_key,
                "receiver_url": f"http://127.0.0.1:{listener.getsockname()[1]}/as4",
                "env": {
                    "GATEWAY_API__KEYS": json.dumps([{"name": "bench", "role": "admin", "key": api_key}])
                },
                "out": str(base / "prepared.json"),
                "stages": list(STAGES[path]) if stages else [],
            }
            env = child_environment(tree.root)
            _run_probe("prepare", job, base, env, path=path, run=run)
            prepared = json.loads((base / "prepared.json").read_text())
            job["process_env"] = prepared["receiver_env" if path == "receiver" else "sender_env"]
            job["out"] = str(base / "ended.json")
            dumps = base / "callgrind.out"
            with _receiving(path, prepared, env, listener):
                _run_probe("count", job, base, env, path=path, run=run, valgrind=valgrind, dumps=dumps)
        finally:
            listener.close()
        answer = json.loads((base / "ended.json").read_text())
        check_answer(path, answer, warm_up=warm_up, documents=documents, stages=stages)
        if answer["missing"]:
            print(
                f"  stages {tree.label} has no function for: {', '.join(answer['missing'])}", file=sys.stderr
            )
        if valgrind is None:
            return []
        events = answer["events"]
        return split(stretch_counts(base, dumps.name, len(events) - 1, path=path), events)


def check_answer(
    path: str, answer: Mapping[str, Any], *, warm_up: int, documents: int, stages: bool = False
) -> None:
    """Check the counting child's ``answer``: every document ended as the path's must (``ENDED``, the
    warm-up's too), and the marker was called once before each counted document and once after the last
    (``doc`` events, then ``end``), and else only on a stage's entry and exit with ``stages``.

    Raises:
        RuntimeError: it was not so.
    """
    if answer["ended"] != [ENDED[path]] * (warm_up + documents):
        raise RuntimeError(f"the {path} path's documents ended as {answer['ended']}, not all {ENDED[path]}")
    events = answer["events"]
    marked = [e for e in events if stages and e[:1] in ("+", "-")]
    if (
        events.count("doc") != documents
        or events[-1:] != ["end"]
        or len(events) != documents + 1 + len(marked)
    ):
        raise RuntimeError(
            f"the {path} path's child called the marker {len(events)} times for {documents} documents"
            + (f" ({len(marked)} on stages)" if stages else "")
        )


def child_environment(root: Path) -> dict[str, str]:
    """The environment of a probe child importing the ``gateway`` package under ``root``: no ``GATEWAY_*``
    variable but the artefacts' (each access point gets its own), no ``VALGRIND_OPTS`` (a
    ``~/.valgrindrc`` is overridden by the options the dumps are read with), ``PYTHONHASHSEED=0``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k != "VALGRIND_OPTS" and (not k.startswith("GATEWAY_") or k.startswith("GATEWAY_ARTEFACTS__"))
    }
    return env | {"PYTHONPATH": str(root), "PYTHONHASHSEED": "0"}


def stretch_counts(folder: Path, name: str, stretches: int, *, path: str) -> list[int]:
    """The instructions of each stretch between two marker calls from callgrind's dumps ``name.1`` ..
    ``name.<stretches + 1>`` in ``folder``: part 1 is the start-up and the warm-up, each next one the
    stretch from a marker call to the next (without stages: a document); the exit's dump (``name``
    itself) is not read.

    Raises:
        RuntimeError: another number of parts.
    """
    parts = sorted(folder.glob(f"{name}.*"), key=lambda p: int(p.suffix[1:]))
    if len(parts) != stretches + 1:
        raise RuntimeError(
            f"callgrind wrote {len(parts)} dumps for the {path} path where {stretches + 1} were expected:"
            f" this Python has no {MARKER} symbol, or something else called it"
        )
    parts[0].unlink()
    return [dump_instructions(p) for p in parts[1:]]


def _run_probe(
    step: str,
    job: dict[str, object],
    base: Path,
    env: dict[str, str],
    *,
    path: str,
    run: Run,
    valgrind: str | None = None,
    dumps: Path | None = None,
) -> None:
    """Write ``job`` and run the probe's ``step`` on it (under callgrind with ``valgrind``), in ``base``.

    Raises:
        RuntimeError: the child failed (its last lines in the message).
    """
    job_file = base / f"job-{step}.json"
    job_file.write_text(json.dumps(job))
    command = [sys.executable, "-P", str(PROBE), step, str(job_file)]
    if valgrind is not None:
        if dumps is None:
            raise ValueError("a count under callgrind needs the file its dumps go to")
        command = [*callgrind_command(valgrind, MARKER, dumps), *command]
    done = run(command, check=False, env=env, cwd=base, capture_output=True)
    if done.returncode != 0:
        tail = (done.stderr or b"").decode("utf-8", "replace").strip().splitlines()[-5:]
        raise RuntimeError(
            f"the {path} path's {step} child failed (exit status {done.returncode}): " + " | ".join(tail)
        )


@contextmanager
def _receiving(
    path: str, prepared: Mapping[str, Any], env: Mapping[str, str], listener: socket.socket
) -> Iterator[None]:
    """For the worker path, the receiving ``gateway serve`` of the prepared access points (the reference's
    own, by ``PYTHONPATH``; ``-P``: not the package of the current folder) on ``listener``, ready; nothing
    for the other paths."""
    if path != "worker":
        yield
        return
    folder = Path(prepared["receiver_dir"])
    fd = listener.fileno()
    port = listener.getsockname()[1]
    receiver_env: dict[str, str] = prepared["receiver_env"]
    with open(folder / "serve.log", "wb") as log:
        serve = subprocess.Popen(
            [sys.executable, "-P", "-m", "gateway.cli.main", "serve", "--host", "127.0.0.1", "--port",
             str(port), "--fd", str(fd)],
            env={**env, **receiver_env},
            cwd=folder,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            pass_fds=(fd,),
        )  # fmt: skip
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
                wait_ready(client, [serve], READY_TIMEOUT)
            yield
        finally:
            stop_processes([serve])

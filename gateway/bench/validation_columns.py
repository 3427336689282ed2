"""The three columns of ``gateway bench validation`` and where each is measured.

A column times one validation of a document and returns its samples (seconds, keyed
``<column>-<layer>``, ``<column>-total`` and ``cpu-<column>``): the fused engine, the engine running the
official stylesheets, and the raw artefacts (lxml XSD and the official XSLTs on a bare saxonche processor).

The documents the engine validates on its streamed path (from its ``stream_above_bytes``, found valid by
its pull parse: ``measured_apart``) cost it two full collections of Saxon's heap each (before Saxon's
parse, after the transform). A full collection copies all that is live in the heap, and a process has one
heap (one GraalVM isolate): in the bench's process it holds all three columns' compiled stylesheets, so
each collection there cost the fused column ≈ 140-170 ms where ``gateway serve``, whose heap holds the
fused rule set only, pays 15-20 (BENCHMARKS.md, *Validation, large documents and the bench's heap, first
pass*). Each column of those documents is therefore measured in a child process of its own
(``measure_apart``: this module run with ``-m``) that builds that column only, as a deployed process has
it. The other documents stay in the bench's process: their young collections copy the young generation
only (≈ 0.3 ms more each with three columns built, one every ≈ 20 example validations: the same pass).
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lxml import etree
from saxonche import PySaxonApiError, PySaxonProcessor

from gateway.bootstrap import build_artefact_store, build_validation_engine
from gateway.config import Settings
from gateway.validation import (
    ArtefactStore,
    Evaluation,
    Layer,
    LayerKind,
    RuleSet,
    ValidationEngine,
    cached_stylesheet,
)
from gateway.validation.saxon_heap import collect_saxon_garbage, size_saxon_heap
from gateway.validation.streamed import streamed_document

#: The columns, in the order the bench prints them.
COLUMNS = ("fused", "official", "raw")

#: One validation of a document by one column: its samples in seconds.
Column = Callable[[bytes], dict[str, float]]


def measured_apart(document: bytes, engine: ValidationEngine, rule_set_id: str) -> bool:
    """Whether ``engine`` validates ``document`` on its streamed path, with its two full collections of
    Saxon's heap (``ValidationEngine.validate_timed``'s test: at least ``stream_above_bytes``, and found
    valid by the pull parse, ``streamed_document``); the bench then measures its columns each in a child
    process. A large document that takes the tree path (an example embedding an attachment, an invalid
    one) asks for no collection and stays in the bench's process."""
    if not 0 < engine.stream_above_bytes <= len(document):
        return False
    xsd = engine.compiled(rule_set_id).xsd
    return streamed_document(document, xsd, max_bytes=engine.max_bytes) is not None


def run_order(
    indices: Sequence[int], repeat: int, columns: Sequence[str], *, interleave: bool
) -> list[tuple[int, str]]:
    """The (document index, column) runs of a group, in the order they are timed.

    Default: per round, each column over all the documents, then the next column (each column runs
    with its own stylesheets warm in the CPU caches, as a process validating a stream of documents does);
    ``interleave``: per document, its repeats, each running the columns in turn.
    """
    if interleave:
        return [(i, c) for i in indices for _ in range(repeat) for c in columns]
    return [(i, c) for _ in range(repeat) for c in columns for i in indices]


def best_of(
    columns: Mapping[str, Column], documents: Sequence[bytes], order: Sequence[tuple[int, str]], pause: float
) -> list[dict[str, float]]:
    """Run ``order`` (``pause`` seconds before each run) and keep each document's best of each sample
    (the machine is shared: a repeat that lost the CPU to another process says nothing about the
    validator). Documents not in ``order`` get an empty dict."""
    best: list[dict[str, float]] = [{} for _ in documents]
    for index, name in order:
        if pause:
            time.sleep(pause)
        sample = columns[name](documents[index])
        best[index].update({k: min(v, best[index].get(k, v)) for k, v in sample.items()})
    return best


def measure_groups(
    groups: Sequence[tuple[Sequence[bytes], int]],
    columns: Mapping[str, Column],
    *,
    far: Sequence[Sequence[int]],
    apart: Callable[[list[tuple[list[bytes], int]]], list[list[dict[str, float]]]],
    interleave: bool = False,
    pause: float = 0.0,
) -> Iterator[list[dict[str, float]]]:
    """Each group's ((documents, repeat) each) best samples per document, a group at a time.

    The documents of each group's indices in ``far`` (``measured_apart``) go to ``apart``
    (``measure_apart``: each column in a child process), all of them at once when the first group
    holding one comes; the others run here, in ``columns`` (``run_order``, ``best_of``).
    """
    found: list[list[dict[str, float]]] = []
    for g, (documents, repeat) in enumerate(groups):
        if far[g] and not found:  # every column's child process, once for all such documents
            found = apart([([groups[h][0][i] for i in f], groups[h][1]) for h, f in enumerate(far)])
        near = [i for i in range(len(documents)) if i not in far[g]]
        best = best_of(
            columns, documents, run_order(near, repeat, list(columns), interleave=interleave), pause
        )
        for i, sample in zip(far[g], found[g] if far[g] else [], strict=True):
            best[i].update(sample)
        yield best


def engine_column(engine: ValidationEngine, rule_set_id: str, name: str) -> Column:
    """The column of ``engine``: wall time per layer and in all, process CPU time."""

    def column(document: bytes) -> dict[str, float]:
        started, cpu = time.perf_counter(), time.process_time()
        run = engine.validate_timed(document, rule_set=rule_set_id)
        sample = {f"{name}-total": time.perf_counter() - started, f"cpu-{name}": time.process_time() - cpu}
        sample.update({f"{name}-{layer.value}": s for layer, s in run.seconds.items()})
        return sample

    return column


def raw_column(store: ArtefactStore, rule_set: RuleSet, proc: Any) -> Column:
    """The raw column: lxml XSD compiled from the mirror files, the official (or compiled Schematron)
    XSLTs compiled on ``proc``, a bare saxonche processor."""
    raw_xslt = {}
    for spec in rule_set.layers:
        xslt = store.read(spec.main) if spec.kind is LayerKind.XSLT else cached_stylesheet(store, spec)[0]
        raw_xslt[spec.layer] = proc.new_xslt30_processor().compile_stylesheet(
            stylesheet_text=xslt.decode("utf-8")
        )
    raw_xsd = {}
    for key, path in rule_set.xsd_roots.items():
        local = store.local_path(path)
        if local is not None:
            raw_xsd[key] = etree.XMLSchema(etree.parse(str(local)))

    def column(document: bytes) -> dict[str, float]:
        cpu = time.process_time()
        sample = _time_raw(document, raw_xsd, raw_xslt, proc)
        sample["cpu-raw"] = time.process_time() - cpu
        return sample

    return column


def build_column(name: str, settings: Settings, store: ArtefactStore, rule_set_id: str) -> Column:
    """One column alone, built as the bench's process builds it (a child process's only column).

    The raw column's processor gets Saxon's heap the engine would give it (``saxon_heap``), and the heap is
    collected after compiling, as the engine does after building a rule set.
    """
    if name == "raw":
        validation = settings.validation
        size_saxon_heap(
            validation.saxon_young_generation_mib,
            validation.saxon_max_free_heap_mib,
            tuple(validation.saxon_isolate_options),
        )
        column = raw_column(store, store.manifest.rule_set(rule_set_id), PySaxonProcessor(license=False))
        collect_saxon_garbage()
        return column
    engine = build_validation_engine(settings, store=store, rule_set=rule_set_id, evaluation=Evaluation(name))
    engine.warm_up([rule_set_id])
    return engine_column(engine, rule_set_id, name)


@dataclass(frozen=True)
class JobFiles:
    """The documents of a child process's job, written once for every column's child (``main``)."""

    base: Path
    groups: list[dict[str, Any]]
    warm_up: str | None

    @classmethod
    def write(
        cls, base: Path, groups: Sequence[tuple[Sequence[bytes], int]], warm_up: bytes | None
    ) -> JobFiles:
        """Write each document of ``groups`` ((documents, repeat) each) and ``warm_up`` under ``base``."""
        job_groups = []
        for g, (documents, repeat) in enumerate(groups):
            paths = []
            for d, document in enumerate(documents):
                path = base / f"document-{g}-{d}.xml"
                path.write_bytes(document)
                paths.append(str(path))
            job_groups.append({"paths": paths, "repeat": repeat})
        warm_path = None
        if warm_up is not None:
            (base / "warm-up.xml").write_bytes(warm_up)
            warm_path = str(base / "warm-up.xml")
        return cls(base, job_groups, warm_path)

    def job(
        self, settings: Settings, rule_set_id: str, name: str, *, pause: float = 0.0, marker: bool = False
    ) -> tuple[Path, Path]:
        """The job file of column ``name``'s child process and the file it writes its samples to.

        ``marker``: the child calls ``instruction_marker`` before each validation and once after the
        last, and times nothing it reports (``gateway.bench.validation_instructions``).
        """
        job = self.base / f"job-{name}.json"
        job.write_text(
            json.dumps(
                {
                    "column": name,
                    "rule_set": rule_set_id,
                    "pause": pause,
                    "marker": marker,
                    "warm_up": self.warm_up,
                    "groups": self.groups,
                    "artefacts": settings.artefacts.model_dump(mode="json"),
                    "validation": settings.validation.model_dump(mode="json"),
                }
            )
        )
        return job, self.base / f"samples-{name}.json"


def measure_apart(
    settings: Settings,
    rule_set_id: str,
    groups: Sequence[tuple[Sequence[bytes], int]],
    *,
    pause: float = 0.0,
    warm_up: bytes | None = None,
    columns: Sequence[str] = COLUMNS,
    run: Callable[..., subprocess.CompletedProcess[bytes]] = subprocess.run,
) -> list[list[dict[str, float]]]:
    """Each column's best samples of the documents of ``groups`` ((documents, repeat) each), every column
    measured in a child process of its own, one after the other.

    A child builds its column only, validates ``warm_up`` once untimed (the bench's process has validated
    the examples before its large documents), then each group in turn as the bench's process does
    (``run_order``, ``best_of``, ``pause`` seconds before each run).

    Raises:
        RuntimeError: a child process failed.
    """
    found: list[list[dict[str, float]]] = [[{} for _ in documents] for documents, _ in groups]
    with tempfile.TemporaryDirectory(prefix="bench-validation-") as folder:
        base = Path(folder)
        files = JobFiles.write(base, groups, warm_up)
        for name in columns:
            job, out = files.job(settings, rule_set_id, name, pause=pause)
            done = run([sys.executable, "-m", __name__, str(job), str(out)], check=False)
            if done.returncode != 0:
                raise RuntimeError(
                    f"the {name} column's child process failed (exit status {done.returncode})"
                )
            samples = json.loads(out.read_text())
            for g, group in enumerate(samples):
                for d, sample in enumerate(group):
                    found[g][d].update(sample)
    return found


def main(argv: Sequence[str]) -> int:
    """A child process of ``measure_apart`` or ``count_instructions``: ``JOB OUT`` (JSON files)."""
    job = json.loads(Path(argv[0]).read_text())
    settings = Settings(artefacts=job["artefacts"], validation=job["validation"])
    name = job["column"]
    column = build_column(name, settings, build_artefact_store(settings), job["rule_set"])
    if job["warm_up"] is not None:
        column(Path(job["warm_up"]).read_bytes())
    samples: list[list[dict[str, float]]] = []
    for group in job["groups"]:
        documents = [Path(p).read_bytes() for p in group["paths"]]
        if job.get("marker"):
            for document in documents:
                for _ in range(group["repeat"]):
                    instruction_marker()
                    column(document)
            samples.append([{} for _ in documents])
            continue
        order = run_order(range(len(documents)), group["repeat"], [name], interleave=False)
        samples.append(best_of({name: column}, documents, order, job["pause"]))
    if job.get("marker"):
        instruction_marker()
    Path(argv[1]).write_text(json.dumps(samples))
    return 0


#: The C function the child enters between validations under callgrind (``--dump-before``): the C
#: library's ``clock_nanosleep``, which CPython 3.11's ``time.sleep(0)`` calls once (nothing else in the
#: child sleeps; ``count_instructions`` checks the number of dumps). Not CPython's own ``time_sleep``: a
#: distribution's interpreter (README, *Which Python*) is stripped of its static functions' names. The
#: ``*`` takes the symbol's version (``clock_nanosleep@@GLIBC_2.17``).
INSTRUCTION_MARKER = "clock_nanosleep*"


def instruction_marker() -> None:
    """Enter ``INSTRUCTION_MARKER`` through ``time.sleep(0)`` (callgrind dumps its counts as it does)."""
    time.sleep(0)


def _timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def _timed_raw(executable: Any, node: Any) -> float:
    started = time.perf_counter()
    # A dynamic error aborts the official transform; its time still counts.
    with contextlib.suppress(PySaxonApiError):
        executable.transform_to_string(xdm_node=node)
    return time.perf_counter() - started


def _time_raw(
    document: bytes, raw_xsd: dict[str, Any], raw_xslt: dict[Layer, Any], proc: Any
) -> dict[str, float]:
    """The raw pipeline, charged like the engine's: lxml parse (total only), XSD, serialise + one
    Saxon parse (charged to the first layer), each official transform on that one Saxon document."""
    found: dict[str, float] = {}
    started = time.perf_counter()
    root = etree.fromstring(document, etree.XMLParser(resolve_entities=False, no_network=True))
    parsed = time.perf_counter() - started
    schema = raw_xsd.get(f"{etree.QName(root).namespace} {etree.QName(root).localname}")
    if schema is not None:
        found["raw-xsd"] = _timed(lambda: schema.validate(root))
    started = time.perf_counter()
    node = proc.parse_xml(xml_text=str(etree.tostring(root.getroottree(), encoding="unicode")))
    saxon_parse = time.perf_counter() - started
    for index, (layer, executable) in enumerate(raw_xslt.items()):
        found[f"raw-{layer.value}"] = _timed_raw(executable, node) + (saxon_parse if index == 0 else 0.0)
    found["raw-total"] = parsed + sum(found.values())
    return found


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

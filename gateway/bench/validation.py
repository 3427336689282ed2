"""``gateway bench validation``: ms/document per layer, fused engine vs official engine vs raw artefacts.

Three columns measured in the same run, document by document: the engine as deployed (fused
single-pass stylesheets), the engine running the official stylesheets (``Evaluation.OFFICIAL``), and
the raw artefacts (lxml XSD and the official XSLTs directly on saxonche: no SVRL parsing, no locks,
no report). The last column is fused / raw. Large generated invoices also print the cost per line;
``--deep N`` adds a hostile document (``deep_invoice``: N elements 95 levels deep); ``--notes N``
another (``notes_invoice``: N empty notes, a finding on each).

The engine and raw columns do the same kinds of work, charged the same way: the lxml parse (in the
total only), the XSD, the text for Saxon and ONE Saxon parse (charged to the first Schematron
layer), then each layer's transform on that one Saxon document; the engine also turns each layer's
report (SVRL, or the fused stylesheets' compact one: ``gateway.validation.compact``) into findings
and builds the report. The text: raw serialises the lxml tree; the engine does too when it
changed the tree or the bytes are not UTF-8, else it decodes the received bytes (``saxon_text``).
For the examples, the fused engine's time is also broken down by phase (``validation_phases``): each
phase timed alone, and the steps of a validation timed in place (these add up to the whole).
A benchmark prints figures; it is not a test.

Order: by default each column validates all the documents of a round before the next column starts
(every column then runs with its own stylesheets warm in the CPU caches, as a process validating a
stream of documents does). ``--interleave`` runs the three columns in turn on each document, as this
benchmark did before 2026-12-04 (second pass): each run then starts with the caches full of another
column's stylesheets, which costs every column about 1-1.5 ms per example on this machine.

Where: the documents the engine validates on its streamed path (from ``stream_above_bytes``, found valid
by its pull parse) are measured column by column, each column in a child process of its own
(``gateway.bench.validation_columns``): that path asks for two full collections of Saxon's heap per
document, and a full collection copies every stylesheet in the process's one heap, which here holds all
three columns' (≈ 140-170 ms a collection, against 15-20 in ``gateway serve``, whose heap holds the fused
rule set only). The examples and the smaller documents are measured in this process as before: their
young collections do not copy the stylesheets (BENCHMARKS.md, *Validation, large documents and the
bench's heap, first pass*).
"""

from __future__ import annotations

import argparse
import copy
import functools
import statistics
import time
from dataclasses import dataclass
from datetime import date

from lxml import etree
from saxonche import PySaxonProcessor

from gateway.bench.validation_columns import (
    COLUMNS,
    Column,
    engine_column,
    measure_apart,
    measure_groups,
    measured_apart,
    raw_column,
)
from gateway.bench.validation_instructions import RUNS, count_instructions
from gateway.bench.validation_phases import phase_times, print_phases, print_steps, steps_in_place
from gateway.bootstrap import build_artefact_store, build_validation_engine
from gateway.config import Settings
from gateway.validation import ArtefactStore, Evaluation, Layer, ValidationEngine, rule_set_for
from gateway.xmlcore import NS, parse_xml

_EXAMPLE_DIRS = ("peppol-bis-billing-3.0.21/examples", "cen-en16931-1.3.16/ubl/examples")
_LARGE_SOURCE = "peppol-bis-billing-3.0.21/examples/base-example.xml"


def large_invoice(example: bytes, lines: int) -> bytes:
    """Repeat the first invoice line of ``example`` ``lines`` times (unique line ids).

    Totals are left as they are, so arithmetic rules fire: every rule still runs, which is what is timed.
    """
    root = parse_xml(example, what="example")
    line = root.find("cac:InvoiceLine", namespaces=dict(NS))
    if line is None:
        raise ValueError("the example has no cac:InvoiceLine")
    parent = line.getparent()
    assert parent is not None
    for old in root.findall("cac:InvoiceLine", namespaces=dict(NS)):
        parent.remove(old)
    for number in range(1, lines + 1):
        clone = copy.deepcopy(line)
        line_id = clone.find("cbc:ID", namespaces=dict(NS))
        if line_id is not None:
            line_id.text = str(number)
        parent.append(clone)
    return etree.tostring(root.getroottree(), xml_declaration=True, encoding="UTF-8")


def deep_invoice(elements: int, depth: int = 95) -> bytes:
    """An invoice root holding ``depth`` nested ``cac:Delivery`` around ``elements`` ``cbc:UUID``.

    A hostile shape for rules that look at an element's ancestors: every element sits deep, and each
    ``cbc:UUID`` is a forbidden element (CEN UBL-CR-005 and its line variants name it at one step).
    """
    cac, cbc = NS["cac"], NS["cbc"]
    head = (
        f'<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2" xmlns:cac="{cac}"'
        f' xmlns:cbc="{cbc}">'
    )
    body = "<cac:Delivery>" * depth + "<cbc:UUID>x</cbc:UUID>" * elements + "</cac:Delivery>" * depth
    return (head + body + "</Invoice>").encode()


def notes_invoice(notes: int) -> bytes:
    """An invoice root holding ``notes`` empty ``cbc:Note``: a finding on each (Peppol R008, empty
    elements) on same-named siblings, the hostile shape of the findings' locations (each location's
    position among its same-named siblings; ``gateway.validation.fused.locations``)."""
    head = f'<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2" xmlns:cbc="{NS["cbc"]}">'
    return (head + "<cbc:Note/>" * notes + "</Invoice>").encode()


@dataclass
class _Series:
    samples: dict[str, list[float]]

    def add(self, column: str, seconds: float) -> None:
        self.samples.setdefault(column, []).append(seconds * 1000)

    def stats(self, column: str) -> tuple[float, float] | None:
        values = sorted(self.samples.get(column, []))
        if not values:
            return None
        p90 = values[min(len(values) - 1, round(0.9 * (len(values) - 1)))]
        return statistics.median(values), p90


def _print_group(label: str, series: _Series, lines: int) -> None:
    for column in [layer.value for layer in Layer] + ["total"]:
        cells = []
        for engine in ("fused", "official", "raw"):
            found = series.stats(f"{engine}-{column}")
            cells.append(f"{found[0]:9.2f} {found[1]:8.2f}" if found else f"{'-':>9} {'-':>8}")
        fused, raw = series.stats(f"fused-{column}"), series.stats(f"raw-{column}")
        ratio = f"{fused[0] / raw[0]:6.2f}" if fused and raw and raw[0] > 0 else f"{'-':>6}"
        print(f"{label:30} {column:7} {'  '.join(cells)}  {ratio}")
    cpu = [series.stats(f"cpu-{engine}") for engine in ("fused", "official", "raw")]
    if cpu[0] and cpu[1] and cpu[2]:
        print(
            f"{label:30} CPU time (process), median: fused {cpu[0][0]:.2f}, official {cpu[1][0]:.2f},"
            f" raw {cpu[2][0]:.2f} ms; fused/raw {cpu[0][0] / cpu[2][0]:.2f}"
        )
    fused_total, raw_total = series.stats("fused-total"), series.stats("raw-total")
    if lines and fused_total and raw_total:
        print(
            f"{label:30} per line: fused {fused_total[0] / lines:.3f} ms,"
            f" raw official {raw_total[0] / lines:.3f} ms"
        )


def run_bench_validation(args: argparse.Namespace, settings: Settings) -> int:
    """Time the fused and the official engine per layer and the raw XSD / XSLTs on the same documents
    (``--instructions``: count their instructions instead, ``validation_instructions``)."""
    store = build_artefact_store(settings)
    rule_set_id = args.rules or settings.validation.rule_set or rule_set_for(date.today(), store.manifest)
    if args.instructions:
        return _run_instructions(args, settings, store, rule_set_id)
    engines: dict[str, ValidationEngine] = {}
    for evaluation in (Evaluation.FUSED, Evaluation.OFFICIAL):
        engine = build_validation_engine(settings, store=store, rule_set=rule_set_id, evaluation=evaluation)
        started = time.perf_counter()
        engine.warm_up([rule_set_id])
        build = time.perf_counter() - started
        timings = engine.compiled(rule_set_id).build_seconds
        print(
            f"rule set {rule_set_id}, {evaluation.value} engine: build {build * 1000:.0f} ms ("
            + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in timings.items())
            + ")"
        )
        engines[evaluation.value] = engine
    columns: dict[str, Column] = {name: engine_column(e, rule_set_id, name) for name, e in engines.items()}
    # Raw references: lxml XSD compiled from the mirror files, official/compiled XSLT on a bare processor.
    rule_set = engines["official"].compiled(rule_set_id).rule_set
    columns["raw"] = raw_column(store, rule_set, PySaxonProcessor(license=False))
    streamed = functools.partial(measured_apart, engine=engines["fused"], rule_set_id=rule_set_id)

    groups, source = _groups(args, store)
    print(
        f"{'corpus':30} {'layer':7} {'fused med':>9} {'p90':>8}  {'official':>9} {'p90':>8}  "
        f"{'raw med':>9} {'p90':>8}  {'f/raw':>6}  (ms/document)"
    )
    print(
        "(best of --repeat per document, median and p90 over documents; every column does the same work:"
        " lxml parse + XSD + text for Saxon + one Saxon parse (in the first Schematron layer's cell) + each"
        " layer's transform; the engine columns also turn each layer's report into findings; official ="
        " the same engine running the official XSLTs; raw = lxml XSD and the official XSLTs on a bare"
        " saxonche processor; the fused engine runs both layers in one transform, charged to the first"
        " layer's cell, whose f/raw then compares both layers with one)"
    )
    pause = max(0.0, args.pause) / 1000
    if pause:
        print(f"(every timed validation follows a pause of {args.pause:g} ms: --pause)")
    plans = [
        (label, documents, lines, max(1, args.repeat if 0 <= lines < 1000 else min(args.repeat, 2)))
        for label, documents, lines in groups
    ]
    far = [[i for i, d in enumerate(documents) if streamed(d)] for _, documents, _, _ in plans]
    if any(far):
        named = ", ".join(
            label if len(found) == len(documents) else f"{len(found)} of {label}"
            for (label, documents, *_), found in zip(plans, far, strict=True)
            if found
        )
        print(
            "(documents the engine validates on its streamed path (from"
            f" {engines['fused'].stream_above_bytes} bytes, found valid by its pull parse: two full"
            " collections of Saxon's heap each) are measured"
            " column by column, each column in a child process of its own whose heap holds that column's"
            f" stylesheets only, as a deployed process's does: {named}; --interleave does not apply to them)"
        )
    measured = measure_groups(
        [(documents, repeat) for _, documents, _, repeat in plans],
        columns,
        far=far,
        apart=functools.partial(measure_apart, settings, rule_set_id, pause=pause, warm_up=source or None),
        interleave=args.interleave,
        pause=pause,
    )
    for (label, documents, lines, repeat), best in zip(plans, measured, strict=True):
        series = _Series({})
        for found in best:
            for key, seconds in found.items():
                series.add(key, seconds)
        _print_group(label, series, max(lines, 0))
        if not lines:
            print_phases(label, phase_times(engines["fused"], rule_set_id, documents, repeat))
            print_steps(label, steps_in_place(engines["fused"], rule_set_id, documents, repeat, pause=pause))
    return 0


def _groups(
    args: argparse.Namespace, store: ArtefactStore
) -> tuple[list[tuple[str, list[bytes], int]], bytes]:
    """The corpora (label, documents, lines; -1: no phases, no lines) and the large invoices' source."""
    groups: list[tuple[str, list[bytes], int]] = []
    source = b""
    if args.files:
        groups.append((f"given files ({len(args.files)})", [p.read_bytes() for p in args.files], 0))
    else:
        docs: list[bytes] = []
        for folder in _EXAMPLE_DIRS:
            base = store.mirror / folder if store.mirror else None
            if base is not None and base.is_dir():
                docs.extend(p.read_bytes() for p in sorted(base.iterdir()) if p.is_file())
        groups.append((f"official examples ({len(docs)})", docs, 0))
        source = store.mirror.joinpath(_LARGE_SOURCE).read_bytes() if store.mirror else b""
        default = [] if args.instructions else [500, 5000]
        for lines in [n for n in (default if args.lines is None else args.lines) if n > 0]:
            big = large_invoice(source, lines)
            groups.append((f"{lines}-line invoice ({len(big) // 1024} KB)", [big], lines))
    if args.deep > 0:
        deep = deep_invoice(args.deep)
        groups.append((f"deep {len(deep) // 1024} KB, {args.deep} el.", [deep], -1))
    if args.notes > 0:
        groups.append((f"{args.notes} empty notes", [notes_invoice(args.notes)], -1))
    return groups, source


def _run_instructions(
    args: argparse.Namespace, settings: Settings, store: ArtefactStore, rule_set_id: str
) -> int:
    """``--instructions``: each column's instructions per validation, counted by callgrind."""
    groups, source = _groups(args, store)
    groups = [group for group in groups if group[1]]
    if not groups:
        raise SystemExit("gateway bench validation --instructions: no documents to count")
    print(
        f"rule set {rule_set_id}: instructions per validation, counted by callgrind (valgrind), each column"
        f" in a child process of its own; the lowest of {RUNS} runs per document, median over documents;"
        " the same from run to run for the same build, inputs and host (not time: see"
        " gateway.bench.validation_instructions); --repeat, --interleave and --pause do not apply"
    )
    print(
        f"{'corpus':30} {'fused':>10} {'official':>10} {'raw':>10}  {'f/raw':>6}  {'median f/raw':>12}"
        "  (instructions: millions)"
    )
    counted = count_instructions(
        settings, rule_set_id, [documents for _, documents, _ in groups], warm_up=source or None
    )
    for (label, _, _), found in zip(groups, counted, strict=True):
        medians = {c: statistics.median(d[f"instructions-{c}"] for d in found) / 1e6 for c in COLUMNS}
        per_document = statistics.median(d["instructions-fused"] / d["instructions-raw"] for d in found)
        print(
            f"{label:30} {medians['fused']:10.2f} {medians['official']:10.2f} {medians['raw']:10.2f}"
            f"  {medians['fused'] / medians['raw']:6.2f}  {per_document:12.2f}"
        )
    return 0

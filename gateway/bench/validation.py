"""``gateway bench validation``: ms/document per layer, fused engine vs official engine vs raw artefacts.

Three columns measured in the same run, document by document: the engine as deployed (fused
single-pass stylesheets), the engine running the official stylesheets (``Evaluation.OFFICIAL``), and
the raw artefacts (lxml XSD and the official XSLTs directly on saxonche: no SVRL parsing, no locks,
no report). The last column is fused / raw. Large generated invoices also print the cost per line;
``--deep N`` adds a hostile document (``deep_invoice``: N elements 95 levels deep).

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
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from lxml import etree
from saxonche import PySaxonApiError, PySaxonProcessor

from gateway.bench.validation_phases import phase_times, print_phases, print_steps, steps_in_place
from gateway.bootstrap import build_artefact_store, build_validation_engine
from gateway.config import Settings
from gateway.validation import Evaluation, Layer, LayerKind, ValidationEngine, cached_stylesheet, rule_set_for
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
    """Time the fused and the official engine per layer and the raw XSD / XSLTs on the same documents."""
    store = build_artefact_store(settings)
    rule_set_id = args.rules or settings.validation.rule_set or rule_set_for(date.today(), store.manifest)
    engines: dict[str, ValidationEngine] = {}
    for evaluation in (Evaluation.FUSED, Evaluation.OFFICIAL):
        engine = build_validation_engine(settings, store=store, rule_set=rule_set_id, evaluation=evaluation)
        build = _timed(lambda e=engine: e.warm_up([rule_set_id]))  # type: ignore[misc]
        timings = engine.compiled(rule_set_id).build_seconds
        print(
            f"rule set {rule_set_id}, {evaluation.value} engine: build {build * 1000:.0f} ms ("
            + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in timings.items())
            + ")"
        )
        engines[evaluation.value] = engine
    compiled = engines["official"].compiled(rule_set_id)

    # Raw references: lxml XSD compiled from the mirror files, official/compiled XSLT on a bare processor.
    proc = PySaxonProcessor(license=False)
    raw_xslt = {}
    for spec in compiled.rule_set.layers:
        xslt = store.read(spec.main) if spec.kind is LayerKind.XSLT else cached_stylesheet(store, spec)[0]
        raw_xslt[spec.layer] = proc.new_xslt30_processor().compile_stylesheet(
            stylesheet_text=xslt.decode("utf-8")
        )
    raw_xsd = {}
    for key, path in compiled.rule_set.xsd_roots.items():
        local = store.local_path(path)
        if local is not None:
            raw_xsd[key] = etree.XMLSchema(etree.parse(str(local)))

    groups: list[tuple[str, list[bytes], int]] = []  # label, documents, lines (-1: no phases, no lines)
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
        for lines in [n for n in (args.lines or [500, 5000]) if n > 0]:
            big = large_invoice(source, lines)
            groups.append((f"{lines}-line invoice ({len(big) // 1024} KB)", [big], lines))
    if args.deep > 0:
        deep = deep_invoice(args.deep)
        groups.append((f"deep {len(deep) // 1024} KB, {args.deep} el.", [deep], -1))

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

    def column(name: str, document: bytes) -> dict[str, float]:
        """One validation of ``document`` by one column: its per-layer, total and CPU seconds."""
        if name == "raw":
            cpu = time.process_time()
            sample = _time_raw(document, raw_xsd, raw_xslt, proc)
            sample["cpu-raw"] = time.process_time() - cpu
            return sample
        started, cpu = time.perf_counter(), time.process_time()
        run = engines[name].validate_timed(document, rule_set=rule_set_id)
        sample = {f"{name}-total": time.perf_counter() - started, f"cpu-{name}": time.process_time() - cpu}
        sample.update({f"{name}-{layer.value}": s for layer, s in run.seconds.items()})
        return sample

    columns = [*engines, "raw"]
    pause = max(0.0, args.pause) / 1000
    if pause:
        print(f"(every timed validation follows a pause of {args.pause:g} ms: --pause)")
    for label, documents, lines in groups:
        series = _Series({})
        repeat = max(1, args.repeat if 0 <= lines < 1000 else min(args.repeat, 2))
        # Best of the repeats per document (the machine is shared: a repeat that lost the CPU to
        # another process says nothing about the validator), then median / p90 over documents.
        best: list[dict[str, float]] = [{} for _ in documents]
        if args.interleave:  # per document, the three columns in turn
            order = [(i, c) for i in range(len(documents)) for _ in range(repeat) for c in columns]
        else:  # per round, each column over all the documents, then the next column
            order = [(i, c) for _ in range(repeat) for c in columns for i in range(len(documents))]
        for index, name in order:
            if pause:
                time.sleep(pause)
            sample = column(name, documents[index])
            best[index].update({k: min(v, best[index].get(k, v)) for k, v in sample.items()})
        for found in best:
            for key, seconds in found.items():
                series.add(key, seconds)
        _print_group(label, series, max(lines, 0))
        if not lines:
            print_phases(label, phase_times(engines["fused"], rule_set_id, documents, repeat))
            print_steps(label, steps_in_place(engines["fused"], rule_set_id, documents, repeat, pause=pause))
    return 0


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

"""``gateway bench validation``: ms/document per layer for the engine and for the raw artefacts.

The raw columns run lxml XSD and the compiled XSLTs directly on saxonche (no SVRL parsing, no locks,
no report), so the difference is the engine's overhead. A benchmark prints figures; it is not a test.
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

from gateway.bootstrap import build_artefact_store, build_validation_engine
from gateway.config import Settings
from gateway.validation import Layer, LayerKind, cached_stylesheet, rule_set_for
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


def _timed_raw(proc: Any, executable: Any, text: str) -> float:
    started = time.perf_counter()
    # A dynamic error aborts the official transform; its time still counts.
    with contextlib.suppress(PySaxonApiError):
        executable.transform_to_string(xdm_node=proc.parse_xml(xml_text=text))
    return time.perf_counter() - started


def run_bench_validation(args: argparse.Namespace, settings: Settings) -> int:
    """Time the engine per layer and the raw XSD / XSLTs on the same documents; print a table."""
    store = build_artefact_store(settings)
    rule_set_id = args.rules or settings.validation.rule_set or rule_set_for(date.today(), store.manifest)
    engine = build_validation_engine(settings, store=store, rule_set=rule_set_id)
    build = _timed(lambda: engine.warm_up([rule_set_id]))
    compiled = engine.compiled(rule_set_id)

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

    groups: dict[str, list[bytes]] = {}
    if args.files:
        groups[f"given files ({len(args.files)})"] = [p.read_bytes() for p in args.files]
    else:
        docs: list[bytes] = []
        for folder in _EXAMPLE_DIRS:
            base = store.mirror / folder if store.mirror else None
            if base is not None and base.is_dir():
                docs.extend(p.read_bytes() for p in sorted(base.iterdir()) if p.is_file())
        groups[f"official examples ({len(docs)})"] = docs
        if args.lines > 0:
            big = large_invoice(
                store.mirror.joinpath(_LARGE_SOURCE).read_bytes() if store.mirror else b"", args.lines
            )
            groups[f"{args.lines}-line invoice ({len(big) // 1024} KB)"] = [big]

    print(
        f"rule set {rule_set_id}; build (compile) {build * 1000:.0f} ms: "
        + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in compiled.build_seconds.items())
    )
    print(f"{'corpus':34} {'layer':7} {'engine med':>10} {'p90':>8} {'raw med':>9} {'p90':>8}  (ms/document)")
    print(
        "(engine total = parse + serialise + all layers + report;"
        " raw = lxml XSD and saxonche transforms alone)"
    )
    for label, documents in groups.items():
        series = _Series({})
        for document in documents:
            for _ in range(max(1, args.repeat)):
                started = time.perf_counter()
                timings = engine.validate_timed(document, rule_set=rule_set_id)
                series.add("engine-total", time.perf_counter() - started)
                raw_total = 0.0
                for layer, seconds in timings.seconds.items():
                    series.add(f"engine-{layer.value}", seconds)
                root = etree.fromstring(document, etree.XMLParser(resolve_entities=False, no_network=True))
                schema = raw_xsd.get(f"{etree.QName(root).namespace} {etree.QName(root).localname}")
                if schema is not None:
                    raw_total += _timed(lambda s=schema, r=root: s.validate(r))  # type: ignore[misc]
                    series.add("raw-xsd", raw_total)
                text = str(etree.tostring(root.getroottree(), encoding="unicode"))
                for layer, executable in raw_xslt.items():
                    seconds = _timed_raw(proc, executable, text)
                    raw_total += seconds
                    series.add(f"raw-{layer.value}", seconds)
                series.add("raw-total", raw_total)
        for column in [layer.value for layer in Layer] + ["total"]:
            ours, raw = series.stats(f"engine-{column}"), series.stats(f"raw-{column}")
            ours_cell = f"{ours[0]:10.2f} {ours[1]:8.2f}" if ours else f"{'-':>10} {'-':>8}"
            raw_cell = f"{raw[0]:9.2f} {raw[1]:8.2f}" if raw else f"{'-':>9} {'-':>8}"
            print(f"{label:34} {column:7} {ours_cell} {raw_cell}")
    return 0

"""Where the engine's time goes per document: CPU time of each phase of one validation, timed alone.

``validate()`` runs, in order: the hardened lxml parse, the XSD, the text for Saxon (the received
UTF-8 bytes decoded, or the lxml tree serialised: ``saxon_text``), Saxon's parse of that text
(once, shared by both layers), the CEN and the Peppol transform (one transform of both when their fused
stylesheets share one, ``SharedLayers``), and turning each layer's
report (the fused stylesheets' compact report, ``gateway.validation.compact``) into findings. Each
phase is repeated on its own here (best of the repeats, process CPU time, so a busy machine disturbs
it less), then the median over documents is printed. Phases timed alone run with warm caches, so
their sum is a little under a whole validation.

``steps_in_place`` times the same steps inside one validation instead, in the engine's order on fresh
objects (each step right after the one before it, as ``validate()`` runs them): their sum is the whole
validation. Each phase timed alone is cheaper than in place by what the steps in between push out of the
CPU's caches (BENCHMARKS.md, *Validation, ninth pass* and *thirteenth pass*): the two lines together say how
much of a validation that is.
"""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from saxonche import PySaxonApiError

from gateway.validation import ValidationEngine
from gateway.validation.binary_stub import CONTENT_BLIND_RULE_SETS, stub_binary_objects
from gateway.validation.saxon_text import saxon_text
from gateway.xmlcore import parse_xml


def _cpu(fn: Callable[[], object], repeat: int) -> float:
    """Best process CPU time of ``repeat`` runs of ``fn``, in ms."""
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        fn()
        best = min(best, time.process_time() - started)
    return best * 1000


def phase_times(
    engine: ValidationEngine, rule_set: str, documents: list[bytes], repeat: int
) -> dict[str, float]:
    """Median over ``documents`` of each phase's best CPU time (ms), in pipeline order."""
    samples: dict[str, list[float]] = {}
    for document in documents:
        for phase, ms in _document_phases(engine, rule_set, document, repeat).items():
            samples.setdefault(phase, []).append(ms)
    return {phase: statistics.median(values) for phase, values in samples.items()}


def _document_phases(
    engine: ValidationEngine, rule_set: str, document: bytes, repeat: int
) -> dict[str, float]:
    compiled = engine.compiled(rule_set)
    root = parse_xml(document, max_bytes=engine.max_bytes, what="document")
    text = saxon_text(root, document)
    node = engine.saxon_parse(text)
    found = {
        "lxml parse": _cpu(lambda: parse_xml(document, max_bytes=engine.max_bytes, what="document"), repeat),
        "XSD": _cpu(lambda: compiled.xsd.validate(root), repeat),
        "Saxon text": _cpu(lambda: saxon_text(root, document), repeat),
        "Saxon parse": _cpu(lambda: engine.saxon_parse(text), repeat),
    }
    shared = compiled.shared
    if shared is not None:  # the layers in one transform, as validate() runs them
        outputs: list[str] = []
        with contextlib.suppress(PySaxonApiError):
            outputs = shared.outputs(node) or []
        found["+".join(layer.value for layer in shared.layers) + " transform"] = _cpu(
            partial(_quiet, shared.outputs, node), repeat
        )
        for layer, output in zip(compiled.layers, outputs, strict=False):
            found[f"{layer.layer.value} findings"] = _cpu(partial(layer.findings, output), repeat)
    for layer in compiled.layers if shared is None else ():
        output = ""
        # A dynamic error still costs its transform; it leaves no report to turn into findings.
        with contextlib.suppress(PySaxonApiError):
            output = layer.output(node)
        found[f"{layer.layer.value} transform"] = _cpu(partial(_quiet, layer.output, node), repeat)
        found[f"{layer.layer.value} findings"] = _cpu(partial(layer.findings, output), repeat)
    found["whole validate()"] = _cpu(lambda: engine.validate(document, rule_set=rule_set), repeat)
    return found


def steps_in_place(
    engine: ValidationEngine, rule_set: str, documents: list[bytes], repeat: int, *, pause: float = 0.0
) -> dict[str, float]:
    """Median over ``documents`` of the best CPU time (ms) of each step of a validation timed in place:
    the engine's steps in its order, each document ``repeat`` times in turn with the others (a stream,
    as the benchmark's columns run), then the whole ``validate()`` timed the same way. Only for a rule
    set whose layers share one stylesheet (the default): empty otherwise. ``pause``: seconds slept before
    each timed validation (``bench validation --pause``)."""
    compiled = engine.compiled(rule_set)
    shared = compiled.shared
    if shared is None:
        return {}
    best: list[dict[str, float]] = [{} for _ in documents]
    for _ in range(repeat):
        for index, document in enumerate(documents):
            found = best[index]
            if pause:
                time.sleep(pause)
            for step, seconds in _steps(engine, rule_set, document).items():
                found[step] = min(seconds, found.get(step, seconds))
        for index, document in enumerate(documents):
            if pause:
                time.sleep(pause)
            started = time.process_time()
            engine.validate(document, rule_set=rule_set)
            seconds = time.process_time() - started
            best[index]["whole validate()"] = min(seconds, best[index].get("whole validate()", seconds))
    return {step: statistics.median(found[step] for found in best) * 1000 for step in best[0]}


def _steps(engine: ValidationEngine, rule_set: str, document: bytes) -> dict[str, float]:
    """One validation's steps as ``validate_timed`` runs them for a document on the tree path, each
    timed (process CPU seconds) on the objects the step before made; "sum" is their total."""
    compiled = engine.compiled(rule_set)
    shared = compiled.shared
    assert shared is not None
    clock = time.process_time
    started = clock()
    root = parse_xml(document, max_bytes=engine.max_bytes, what="document")
    parsed = clock()
    compiled.xsd.validate(root)
    checked = clock()
    stubbed = stub_binary_objects(root) if compiled.rule_set.id in CONTENT_BLIND_RULE_SETS else 0
    text = saxon_text(root, None if stubbed else document)
    del root
    texted = clock()
    outputs: list[str] = []
    try:
        node = engine.saxon_parse(text)
    except PySaxonApiError:
        node = None
    saxon_parsed = clock()
    if node is not None:
        with contextlib.suppress(PySaxonApiError):
            outputs = shared.outputs(node) or []
    transformed = clock()
    for layer, output in zip(compiled.layers, outputs, strict=False):
        layer.findings(output)
    done = clock()
    return {
        "lxml parse": parsed - started,
        "XSD": checked - parsed,
        "stub + text": texted - checked,
        "Saxon parse": saxon_parsed - texted,
        "transform": transformed - saxon_parsed,
        "findings": done - transformed,
        "sum": done - started,
    }


def _quiet(fn: Callable[[Any], object], node: Any) -> None:
    with contextlib.suppress(PySaxonApiError):
        fn(node)


def print_phases(label: str, phases: dict[str, float]) -> None:
    """One line: the phases and their share of the whole validation."""
    whole = phases.get("whole validate()", 0.0)
    parts = ", ".join(f"{name} {ms:.3f}" for name, ms in phases.items() if name != "whole validate()")
    print(f"{label:30} fused engine by phase, CPU ms (median of best): {parts}; whole validate() {whole:.3f}")


def print_steps(label: str, steps: dict[str, float]) -> None:
    """One line: the steps timed in place, their sum and the whole validation timed the same way."""
    if not steps:
        return
    totals = ("sum", "whole validate()")
    parts = ", ".join(f"{name} {ms:.3f}" for name, ms in steps.items() if name not in totals)
    print(
        f"{label:30} fused engine in place, CPU ms (median of best): {parts}; sum {steps['sum']:.3f};"
        f" whole validate() {steps['whole validate()']:.3f}"
    )

"""Schematron layers run as compiled XSLT on saxonche (SaxonC-HE): one processor, stylesheets compiled once.

Thread safety: saxonche 13 objects are not documented as thread-safe, and a threaded smoke test showed
no parallel speed-up (the extension holds the GIL while Saxon runs). All Saxon calls of one runtime
therefore go through one lock: safe, and no slower than sharing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from saxonche import PySaxonApiError, PySaxonProcessor

from gateway.errors import ArtefactError
from gateway.validation.compact import ReportError, findings_from_report, split_reports
from gateway.validation.compile_budget import CompileBudget
from gateway.validation.report import RULE_ERROR, Finding, Layer, Severity
from gateway.validation.saxon_heap import collect_saxon_garbage, saxon_heap_options, size_saxon_heap
from gateway.validation.svrl import normalise_text

log = logging.getLogger("gateway.validation")


class SaxonRuntime:
    """One PySaxonProcessor and the lock that serialises every call into it.

    Args:
        heap: ``(young generation MiB, free heap kept MiB)`` of Saxon's isolate, if this is the process's
            first processor (``gateway.validation.saxon_heap``); None or a young generation of 0 keeps
            SaxonC's defaults.
        options: further isolate options with ``heap`` (``size_saxon_heap``), e.g. ``-XX:+PrintGC``.
    """

    def __init__(self, *, heap: tuple[int, int] | None = None, options: tuple[str, ...] = ()) -> None:
        if heap is not None:
            size_saxon_heap(*heap, options)
        self._proc = PySaxonProcessor(license=False)
        self.lock = threading.RLock()

    def collect_garbage(self) -> None:
        """A full collection of Saxon's heap when this process sized it (after compiling: the heap then
        returns what compiling used to the system); nothing with SaxonC's defaults, which keep it."""
        if saxon_heap_options() is not None:
            with self.lock:
                collect_saxon_garbage()

    def compile(self, stylesheet: bytes, *, name: str) -> Any:
        """Compile an XSLT from its text (never a path: names with blanks break Saxon URIs).

        Raises:
            ArtefactError: the stylesheet does not compile.
        """
        with self.lock:
            try:
                return self._proc.new_xslt30_processor().compile_stylesheet(
                    stylesheet_text=stylesheet.decode("utf-8")
                )
            except (PySaxonApiError, UnicodeDecodeError) as exc:
                raise ArtefactError(f"stylesheet {name} does not compile: {exc}") from exc

    def string_value(self, value: str) -> Any:
        """An ``xs:string`` value for a stylesheet parameter."""
        return self._proc.make_string_value(value)

    def parse(self, text: str) -> Any:
        """Parse document text into a Saxon node (raises PySaxonApiError)."""
        with self.lock:
            return self._proc.parse_xml(xml_text=text)

    def parse_file(self, path: str) -> Any:
        """Parse a document from a file into a Saxon node (raises PySaxonApiError): Saxon reads the bytes
        itself, so that no Python ``str``, C string or Java string of the whole document is made."""
        with self.lock:
            return self._proc.parse_xml(xml_file_name=path)


@dataclass(frozen=True, slots=True)
class LayerRun:
    """Findings of one layer and the time Saxon spent on it (seconds), for the benchmark."""

    findings: list[Finding]
    seconds: float


class XSLTLayer:
    """A compiled Schematron (XSLT writing SVRL, or a fused stylesheet writing a compact report) bound
    to a layer.

    Args:
        runtime: the shared Saxon runtime.
        layer: cen or peppol.
        stylesheet: the XSLT text.
        name: for messages (manifest path).
        official: reads the official stylesheet when ``stylesheet`` is a generated equivalent that may
            stop on another dynamic error than the official one (the fused form meets nodes in document
            order, not pattern by pattern); a run stopped by an error then reports the official's.
        budget: how often ``official`` may be compiled (None: whenever needed); beyond it the layer
            reports its own error.
        shared: instead of compiling ``stylesheet``, run this layer alone in a stylesheet of several
            layers (``SharedLayers``) by setting its parameter: ``(layers, parameter value)``.
    """

    def __init__(
        self,
        runtime: SaxonRuntime,
        layer: Layer,
        stylesheet: bytes,
        *,
        name: str,
        official: Callable[[], bytes] | None = None,
        budget: CompileBudget | None = None,
        shared: tuple[SharedLayers, str] | None = None,
    ) -> None:
        self.layer = layer
        self.name = name
        self._runtime = runtime
        self._official = official
        self._budget = budget
        started = time.perf_counter()
        if shared is None:
            self._executable = runtime.compile(stylesheet, name=name)
            self._parameters: dict[str, str] = {}
        else:
            self._executable = shared[0].executable
            self._parameters = {shared[0].parameter: shared[1]}
        self.compile_seconds = time.perf_counter() - started

    def output(self, node: Any) -> str:
        """The raw output of a run on a parsed Saxon node: SVRL, or for a fused stylesheet its compact
        report (``gateway.validation.compact``). Raises PySaxonApiError on a dynamic error."""
        return _transform(self._runtime, self._executable, node, self._parameters)

    def findings(self, output: str) -> list[Finding]:
        """The findings of a run's ``output`` (compact or SVRL), attributed to this layer; an unreadable
        compact report is one FATAL finding (a generator defect: fail closed, never a pass)."""
        if not output:
            message = f"the {self.layer.value} rules produced no report"
            return [Finding(RULE_ERROR, Severity.FATAL, self.layer, message, "")]
        try:
            return findings_from_report(output, self.layer)
        except ReportError as exc:
            message = f"the {self.layer.value} rules produced an unreadable report: {exc}"
            return [Finding(RULE_ERROR, Severity.FATAL, self.layer, message, "")]

    def _official_error(self, node: Any) -> str | None:
        """The dynamic error the official stylesheet stops on for ``node`` (None: no official one, or
        it does not stop). Compiled for this one error and dropped: keeping it would hold its compiled
        form in Saxon's heap for good (33.5 MiB for CEN), recompiling costs ≈ 0.35 s CPU (CEN) per
        document with an error, which is rejected anyway."""
        if self._official is None:
            return None
        if self._budget is not None and not self._budget.take():
            if self._budget.refused == 1 or self._budget.refused % 100 == 0:
                log.warning(
                    "%s: %d document(s) stopped by an XPath error beyond %d a minute; their own error is "
                    "reported without compiling the official stylesheet",
                    self.name,
                    self._budget.refused,
                    self._budget.per_minute,
                )
            return None
        try:
            executable = self._runtime.compile(self._official(), name=self.name)
        except ArtefactError:
            return None
        try:
            _transform(self._runtime, executable, node)
        except PySaxonApiError as exc:
            return normalise_text(str(exc)) or None
        return None

    def run(self, node: Any) -> LayerRun:
        """Run on a parsed Saxon node. A dynamic error is one FATAL finding, never an exception or a pass.

        bis-billing.md §3.2 trap 2: e.g. FORG0001 in Peppol R120's rule-level lets aborts the whole
        transform; the document is then invalid for this layer, and the other layers still report.
        """
        started = time.perf_counter()
        try:
            output: str | None = self.output(node)
        except PySaxonApiError as exc:
            output = None
            error = self._official_error(node) or normalise_text(str(exc)) or "unknown Saxon error"
        seconds = time.perf_counter() - started
        if output is None:
            message = f"the {self.layer.value} rules could not be evaluated on this document: {error}"
            return LayerRun([Finding(RULE_ERROR, Severity.FATAL, self.layer, message, "")], seconds)
        return LayerRun(self.findings(output), seconds)


class SharedLayers:
    """ONE compiled stylesheet for several fused layers (``gateway.validation.fused.fuse_stylesheets``):
    every layer's patterns in one walk of the document, then each layer's compact report in turn.

    A dynamic error stops the whole transform, so ``run`` then answers None and the caller runs each
    layer alone (``XSLTLayer`` with ``shared``: the same stylesheet with ``parameter`` set to the
    layer's name), where an error stops only its own layer, as with one stylesheet per layer.

    Args:
        runtime: the shared Saxon runtime.
        layers: the layers, in the order the stylesheet reports them.
        stylesheet: the XSLT text.
        name: for messages.
        parameter: the global parameter naming the one layer to run (unset: all).
    """

    def __init__(
        self,
        runtime: SaxonRuntime,
        layers: tuple[Layer, ...],
        stylesheet: bytes,
        *,
        name: str,
        parameter: str,
    ) -> None:
        self.layers = layers
        self.parameter = parameter
        self._runtime = runtime
        self.executable = runtime.compile(stylesheet, name=name)

    def outputs(self, node: Any) -> list[str] | None:
        """Each layer's compact report of one run on a parsed Saxon node (None: not one report per
        layer). Raises PySaxonApiError on a dynamic error."""
        output = _transform(self._runtime, self.executable, node)
        parts = split_reports(output)
        return parts if len(parts) == len(self.layers) else None


def _transform(
    runtime: SaxonRuntime, executable: Any, node: Any, parameters: dict[str, str] | None = None
) -> str:
    """Run ``executable`` on a parsed Saxon node under the runtime's lock (raises PySaxonApiError on a
    dynamic error), with string ``parameters`` if any."""
    with runtime.lock:
        try:
            for name, value in (parameters or {}).items():
                executable.set_parameter(name, runtime.string_value(value))
            return str(executable.transform_to_string(xdm_node=node) or "")
        finally:
            # SaxonC keeps the source node among the executable's parameters after the transform:
            # without this the last document's tree stays in Saxon's heap until the next one
            # (7.4 MiB for a 5,000-line invoice, copied by every full collection meanwhile).
            executable.clear_parameters()

"""ValidationEngine: XSD (lxml) + CEN + Peppol Schematron (saxonche) for one rule set, compiled once.

Layers are independent: the Schematron layers run even when the XSD fails (the vefa unit tests rely on
it), and a dynamic XPath error in one layer is a fatal finding of that layer while the others report.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

from lxml import etree
from saxonche import PySaxonApiError

from gateway.validation.artefacts import ArtefactStore
from gateway.validation.compiled import cached_stylesheet
from gateway.validation.manifest import DEFAULT_RULE_SET_ID, LayerKind, RuleSet
from gateway.validation.report import RULE_ERROR, Finding, Layer, Severity, ValidationReport
from gateway.validation.saxon import SaxonRuntime, XSLTLayer
from gateway.validation.svrl import normalise_text
from gateway.validation.xsd import XSDLayer
from gateway.xmlcore import DEFAULT_MAX_XML_BYTES, parse_xml


@dataclass(slots=True)
class CompiledRuleSet:
    """A rule set ready to run: its XSD layer and Schematron layers, plus how long building took."""

    rule_set: RuleSet
    xsd: XSDLayer
    layers: tuple[XSLTLayer, ...]
    build_seconds: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LayerTimings:
    """Findings and per-layer wall time (seconds) of one validation, for the benchmark."""

    report: ValidationReport
    seconds: dict[Layer, float]


class ValidationEngine:
    """Validates UBL documents against a rule set of the manifest; thread-safe ``validate()``.

    Args:
        store: resolves and verifies the artefact files.
        default_rule_set: rule set used when ``validate`` gets none (default: DEFAULT_RULE_SET_ID).
            Entry points pass ``rule_set_for(today)``; the core never reads the clock.
        max_bytes: documents above this size are refused (XMLInputError).
    """

    def __init__(
        self,
        store: ArtefactStore,
        *,
        default_rule_set: str | None = None,
        max_bytes: int = DEFAULT_MAX_XML_BYTES,
    ) -> None:
        self.store = store
        self.default_rule_set = default_rule_set or DEFAULT_RULE_SET_ID
        store.manifest.rule_set(self.default_rule_set)  # unknown id -> ArtefactError now, not later
        self.max_bytes = max_bytes
        self._runtime: SaxonRuntime | None = None
        self._compiled: dict[str, CompiledRuleSet] = {}
        self._build_lock = threading.Lock()

    # -- building ------------------------------------------------------------------------------------

    def warm_up(self, rule_sets: Iterable[str] = ()) -> None:
        """Compile the given rule sets now (default: the default rule set) instead of on first use."""
        for rule_set_id in list(rule_sets) or [self.default_rule_set]:
            self.compiled(rule_set_id)

    def compiled(self, rule_set_id: str | None = None) -> CompiledRuleSet:
        """Return the compiled rule set, building it once (XSD + each Schematron layer).

        Raises:
            ArtefactError: unknown rule set, missing/corrupt artefact, or a stylesheet that does not compile.
        """
        rule_set_id = rule_set_id or self.default_rule_set
        found = self._compiled.get(rule_set_id)
        if found is not None:
            return found
        with self._build_lock:
            found = self._compiled.get(rule_set_id)
            if found is None:
                found = self._build(self.store.manifest.rule_set(rule_set_id))
                self._compiled[rule_set_id] = found
            return found

    def _build(self, rule_set: RuleSet) -> CompiledRuleSet:
        timings: dict[str, float] = {}
        started = time.perf_counter()
        xsd = XSDLayer(rule_set.xsd_roots, self.store.read)
        timings["xsd"] = time.perf_counter() - started
        if self._runtime is None:
            self._runtime = SaxonRuntime()
        layers = []
        for spec in rule_set.layers:
            started = time.perf_counter()
            if spec.kind is LayerKind.XSLT:
                layer = XSLTLayer(self._runtime, spec.layer, self.store.read(spec.main), name=spec.main)
            else:
                stylesheet, from_cache = cached_stylesheet(self.store, spec)
                timings[f"{spec.layer.value}-sch-compile"] = (
                    0.0 if from_cache else time.perf_counter() - started
                )
                try:
                    layer = XSLTLayer(self._runtime, spec.layer, stylesheet, name=spec.main)
                except Exception:
                    if not from_cache:
                        raise
                    # A cached stylesheet Saxon rejects is corrupt (checksum sidecar tampered too): rebuild.
                    stylesheet, _ = cached_stylesheet(self.store, spec, refresh=True)
                    layer = XSLTLayer(self._runtime, spec.layer, stylesheet, name=spec.main)
            timings[spec.layer.value] = time.perf_counter() - started
            layers.append(layer)
        return CompiledRuleSet(rule_set, xsd, tuple(layers), timings)

    # -- running -------------------------------------------------------------------------------------

    def validate(
        self,
        xml: bytes,
        *,
        rule_set: str | None = None,
        layers: Collection[Layer] | None = None,
    ) -> ValidationReport:
        """Validate one document.

        Args:
            xml: the document bytes (UBL Invoice or CreditNote).
            rule_set: rule set id; default ``self.default_rule_set``.
            layers: run only these layers (default all); the conformance suites use it to mimic the
                vefa configurations (Peppol only, CEN only).

        Returns:
            The report; an unknown root element is a fatal XSD finding, not an exception.

        Raises:
            XMLInputError: the input is not well-formed XML, carries a DTD/entity, or is too large.
                (Deliberate: there is no document to report on; the API maps it to problem+json and
                the CLI to an "XML" issue.)
            ArtefactError: the rule set cannot be built.
        """
        return self.validate_timed(xml, rule_set=rule_set, layers=layers).report

    def validate_timed(
        self,
        xml: bytes,
        *,
        rule_set: str | None = None,
        layers: Collection[Layer] | None = None,
    ) -> LayerTimings:
        """Like :meth:`validate`, also returning the wall time spent in each layer."""
        compiled = self.compiled(rule_set)
        wanted = set(Layer) if layers is None else set(layers)
        root = parse_xml(xml, max_bytes=self.max_bytes, what="document")
        findings: list[Finding] = []
        seconds: dict[Layer, float] = {}
        if Layer.XSD in wanted:
            started = time.perf_counter()
            findings.extend(compiled.xsd.validate(root))
            seconds[Layer.XSD] = time.perf_counter() - started
        schematron = [layer for layer in compiled.layers if layer.layer in wanted]
        if schematron:
            assert self._runtime is not None  # built with the rule set
            node, parse_error, parse_seconds = self._saxon_node(root)
            for layer in schematron:
                if parse_error is not None:
                    message = f"the {layer.layer.value} rules could not read the document: {parse_error}"
                    findings.append(Finding(RULE_ERROR, Severity.FATAL, layer.layer, message, ""))
                    continue
                run = layer.run(node)
                findings.extend(run.findings)
                seconds[layer.layer] = seconds.get(layer.layer, 0.0) + run.seconds
            # The shared parse is charged to the first Schematron layer, which would need it alone.
            first = schematron[0].layer
            seconds[first] = seconds.get(first, 0.0) + parse_seconds
        report = ValidationReport(rule_set=compiled.rule_set.id, findings=tuple(findings))
        return LayerTimings(report=report, seconds=seconds)

    def _saxon_node(self, root: etree._Element) -> tuple[Any, str | None, float]:
        # Saxon gets the document TEXT (bis-billing.md §3.3: file paths with blanks or parentheses fail
        # as "Invalid URI"). Serialising the hardened lxml tree also means Saxon never sees a DTD.
        started = time.perf_counter()
        text = etree.tostring(root.getroottree(), encoding="unicode")
        assert self._runtime is not None
        try:
            node = self._runtime.parse(text)
        except PySaxonApiError as exc:
            return None, normalise_text(str(exc)), time.perf_counter() - started
        return node, None, time.perf_counter() - started

"""ValidationEngine: XSD (lxml) + CEN + Peppol Schematron (saxonche) for one rule set, compiled once.

The official compiled XSLTs of a billing rule set run, by default, in their fused single-pass form
(``Evaluation.FUSED``, gateway.validation.fused: the same findings in about a third of the time);
``Evaluation.OFFICIAL`` runs the official stylesheets as published (the differential suite and the
benchmark compare the two).

Layers are independent: the Schematron layers run even when the XSD fails (the vefa unit tests rely on
it), and a dynamic XPath error in one layer is a fatal finding of that layer while the others report.
The fused CEN and Peppol layers share ONE stylesheet and run in one transform (``SharedLayers``: one
walk of the document for both); when that transform stops on a dynamic error, each layer runs again
alone in the same stylesheet, so that the error stops only its own layer.

Memory: the document is parsed once by lxml (XSD); large embedded attachments are then replaced by a
placeholder of the same emptiness (``binary_stub``: no rule reads their content), the tree is serialised
for Saxon (or, if nothing was stubbed, the received UTF-8 bytes are decoded: ``saxon_text``) and dropped
before Saxon builds its own. A 20 MB attachment invoice thus costs Saxon kilobytes.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from lxml import etree
from saxonche import PySaxonApiError

from gateway.errors import ArtefactError
from gateway.validation.artefacts import ArtefactStore
from gateway.validation.binary_stub import CONTENT_BLIND_RULE_SETS, stub_binary_objects
from gateway.validation.compile_budget import CompileBudget
from gateway.validation.compiled import cached_fused_layers, cached_fused_stylesheet, cached_stylesheet
from gateway.validation.fused import ONLY_PARAMETER
from gateway.validation.fused.locations import with_linear_locations
from gateway.validation.malloc_trim import release_free_heap
from gateway.validation.manifest import BILLING_DOCUMENT, DEFAULT_RULE_SET_ID, LayerKind, LayerSpec, RuleSet
from gateway.validation.report import RULE_ERROR, Finding, Layer, Severity, ValidationReport
from gateway.validation.saxon import SaxonRuntime, SharedLayers, XSLTLayer
from gateway.validation.saxon_text import saxon_text
from gateway.validation.streamed import DEFAULT_STREAM_ABOVE_BYTES, StreamedDocument, streamed_document
from gateway.validation.svrl import normalise_text
from gateway.validation.xsd import XSDLayer, XSDSchemas
from gateway.xmlcore import DEFAULT_MAX_XML_BYTES, may_embed_binary, parse_xml
from gateway.xmlcore.held import HeldDocument

log = logging.getLogger("gateway.validation")


class Evaluation(StrEnum):
    """How the official compiled XSLT layers of billing rule sets are run."""

    #: One fused single-pass stylesheet per layer, generated from the official one (the default).
    FUSED = "fused"
    #: The official stylesheets as published.
    OFFICIAL = "official"


_Generator = Callable[..., tuple[bytes, bool]]
#: Documents from this size up return the dropped lxml tree's memory before Saxon parses (1 MiB: a
#: few hundred invoice lines; below it the tree is small and the trim not worth its few ms).
DEFAULT_TRIM_ABOVE_BYTES = 1024 * 1024


@dataclass(slots=True)
class CompiledRuleSet:
    """A rule set ready to run: its XSD layer and Schematron layers, plus how long building took.

    ``shared``: the one stylesheet running all the (fused) layers in one transform, when they have
    one (the layers then run alone in it only after a dynamic error, or when not all are wanted).
    """

    rule_set: RuleSet
    xsd: XSDLayer
    layers: tuple[XSLTLayer, ...]
    build_seconds: dict[str, float] = field(default_factory=dict)
    shared: SharedLayers | None = None


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
        evaluation: fused (default) or official stylesheets for the XSLT layers of billing rule sets.
        saxon_heap: ``(young generation MiB, free heap kept MiB)`` of Saxon's isolate, applied if this
            engine makes the process's first Saxon processor (``gateway.validation.saxon_heap``);
            None: SaxonC's defaults.
        saxon_options: further isolate options given with ``saxon_heap`` (diagnostics: ``-XX:+PrintGC``).
        trim_above_bytes: for documents of at least this size, the C heap's free pages (the dropped lxml
            tree) go back to the system before Saxon parses (``malloc_trim``); 0: never.
        official_compiles_per_minute: how often a fused layer stopped by an XPath error may compile the
            official stylesheet to report its error (``compile_budget``); None: whenever needed.
        stream_above_bytes: documents of at least this size are first checked against the XSD while
            pull-parsed, without a tree (``gateway.validation.streamed``); 0: never.
        strip_blank_text: such a document, found valid, reaches Saxon without the whitespace between its
            elements (``gateway.validation.blank_text``: the same findings, a smaller tree).
    """

    def __init__(
        self,
        store: ArtefactStore,
        *,
        default_rule_set: str | None = None,
        max_bytes: int = DEFAULT_MAX_XML_BYTES,
        evaluation: Evaluation = Evaluation.FUSED,
        saxon_heap: tuple[int, int] | None = None,
        saxon_options: tuple[str, ...] = (),
        trim_above_bytes: int = DEFAULT_TRIM_ABOVE_BYTES,
        official_compiles_per_minute: int | None = None,
        stream_above_bytes: int = DEFAULT_STREAM_ABOVE_BYTES,
        strip_blank_text: bool = True,
    ) -> None:
        self.store = store
        self.evaluation = evaluation
        self.default_rule_set = default_rule_set or DEFAULT_RULE_SET_ID
        store.manifest.rule_set(self.default_rule_set)  # unknown id -> ArtefactError now, not later
        self.max_bytes = max_bytes
        self._saxon_heap = saxon_heap
        self._saxon_options = saxon_options
        self.trim_above_bytes = trim_above_bytes
        self._official_budget = (
            None if official_compiles_per_minute is None else CompileBudget(official_compiles_per_minute)
        )
        self.stream_above_bytes = stream_above_bytes
        self.strip_blank_text = strip_blank_text
        self._runtime: SaxonRuntime | None = None
        self._compiled: dict[str, CompiledRuleSet] = {}
        self._build_lock = threading.Lock()
        self._xsd: dict[str, XSDSchemas] = {}

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
        # The Schematron layers first, the XSD after: Saxon's heap peaks while it compiles and then
        # shrinks to what it keeps (after the collection below), so the XSD's memory does not add
        # to that peak (BENCHMARKS.md, Memory of serve).
        timings: dict[str, float] = {}
        if self._runtime is None:
            self._runtime = SaxonRuntime(heap=self._saxon_heap, options=self._saxon_options)
        fuse = self.evaluation is Evaluation.FUSED and rule_set.document == BILLING_DOCUMENT
        shared = None
        if fuse and len(rule_set.layers) > 1 and all(s.kind is LayerKind.XSLT for s in rule_set.layers):
            shared = self._shared_layers(rule_set.layers, timings)
        layers = []
        for spec in rule_set.layers:
            started = time.perf_counter()
            if spec.kind is LayerKind.SCHEMATRON:
                layer = self._generated_layer(spec, cached_stylesheet, "sch-compile", timings)
            elif shared is not None:
                layer = XSLTLayer(
                    self._runtime,
                    spec.layer,
                    b"",
                    name=spec.main,
                    official=functools.partial(self._official_for_errors, spec.main),
                    budget=self._official_budget,
                    shared=(shared, spec.layer.value),
                )
            elif fuse:
                official = functools.partial(self._official_for_errors, spec.main)  # its dynamic errors
                layer = self._generated_layer(spec, cached_fused_stylesheet, "fuse", timings, official)
            elif self.evaluation is Evaluation.FUSED:  # another document's official XSLT, as it is but
                # for its locations (``fused.locations``: the same strings, in linear time)
                stylesheet = with_linear_locations(self.store.read(spec.main))
                layer = XSLTLayer(self._runtime, spec.layer, stylesheet, name=spec.main)
            else:
                layer = XSLTLayer(self._runtime, spec.layer, self.store.read(spec.main), name=spec.main)
            timings[spec.layer.value] = time.perf_counter() - started
            layers.append(layer)
        self._runtime.collect_garbage()
        started = time.perf_counter()
        xsd = XSDLayer(rule_set.xsd_roots, self.store.read, self._package_schemas(rule_set.xsd_package))
        timings["xsd"] = time.perf_counter() - started
        return CompiledRuleSet(rule_set, xsd, tuple(layers), timings, shared)

    def _package_schemas(self, package: str) -> XSDSchemas:
        """The schemas of an XSD package, one for all its rule sets (``XSDSchemas``; under the build lock)."""
        found = self._xsd.get(package)
        if found is None:
            roots: dict[str, str] = {}
            for rule_set in self.store.manifest.rule_sets.values():
                if rule_set.xsd_package == package:
                    for key, path in rule_set.xsd_roots.items():
                        roots.setdefault(key, path)
            found = self._xsd[package] = XSDSchemas(roots, self.store.read)
        return found

    def _shared_layers(self, specs: tuple[LayerSpec, ...], timings: dict[str, float]) -> SharedLayers | None:
        """One stylesheet for all the fused layers (``SharedLayers``); None when they cannot share one
        (each layer then gets its own fused stylesheet)."""
        assert self._runtime is not None
        started = time.perf_counter()
        name = " + ".join(spec.main for spec in specs)
        layers = tuple(spec.layer for spec in specs)
        try:
            stylesheet, from_cache = cached_fused_layers(self.store, specs)
        except ArtefactError as exc:
            log.info("fused layers run apart: %s", exc)
            return None
        key = "-".join(layer.value for layer in layers)  # e.g. cen-peppol
        timings[f"{key}-fuse"] = 0.0 if from_cache else time.perf_counter() - started
        started = time.perf_counter()
        try:
            shared = SharedLayers(self._runtime, layers, stylesheet, name=name, parameter=ONLY_PARAMETER)
        except ArtefactError:
            if not from_cache:
                raise
            # A cached stylesheet Saxon rejects is corrupt (checksum sidecar tampered too): rebuild.
            stylesheet, _ = cached_fused_layers(self.store, specs, refresh=True)
            shared = SharedLayers(self._runtime, layers, stylesheet, name=name, parameter=ONLY_PARAMETER)
        timings[key] = time.perf_counter() - started
        return shared

    def _official_for_errors(self, path: str) -> bytes:
        """The official stylesheet ``path`` as run for its dynamic error only, its locations built in
        linear time (``fused.locations``: many findings before the error cost no n²)."""
        return with_linear_locations(self.store.read(path))

    def _generated_layer(
        self,
        spec: LayerSpec,
        generate: _Generator,
        step: str,
        timings: dict[str, float],
        official: Callable[[], bytes] | None = None,
    ) -> XSLTLayer:
        """A layer whose stylesheet the gateway generates (cached on disk, see ``compiled``)."""
        assert self._runtime is not None
        started = time.perf_counter()
        stylesheet, from_cache = generate(self.store, spec)
        timings[f"{spec.layer.value}-{step}"] = 0.0 if from_cache else time.perf_counter() - started
        budget = self._official_budget if official is not None else None
        try:
            return XSLTLayer(
                self._runtime, spec.layer, stylesheet, name=spec.main, official=official, budget=budget
            )
        except Exception:
            if not from_cache:
                raise
            # A cached stylesheet Saxon rejects is corrupt (checksum sidecar tampered too): rebuild.
            stylesheet, _ = generate(self.store, spec, refresh=True)
            return XSLTLayer(
                self._runtime, spec.layer, stylesheet, name=spec.main, official=official, budget=budget
            )

    # -- running -------------------------------------------------------------------------------------

    def validate(
        self,
        xml: bytes | HeldDocument,
        *,
        rule_set: str | None = None,
        layers: Collection[Layer] | None = None,
        on_parsed: Callable[[etree._Element], object] | None = None,
    ) -> ValidationReport:
        """Validate one document.

        Args:
            xml: the document bytes (UBL Invoice or CreditNote). In a ``HeldDocument`` (whose caller keeps
                no other reference to the bytes), a large document found valid by the pull parse is moved
                to an unlinked temporary file while Saxon parses and transforms it, and read back after
                (``HeldDocument.spilled``: BENCHMARKS.md, *Memory, fifteenth pass*).
            rule_set: rule set id; default ``self.default_rule_set``.
            layers: run only these layers (default all); the conformance suites use it to mimic the
                vefa configurations (Peppol only, CEN only).
            on_parsed: called with the parsed document before any layer runs (and before large
                attachments are stubbed), so a caller that needs facts of the document reads them from
                this tree instead of parsing the bytes again; it must not keep or change the tree. Not
                called for a large document found valid without a tree (``stream_above_bytes``).

        Returns:
            The report; an unknown root element is a fatal XSD finding, not an exception.

        Raises:
            XMLInputError: the input is not well-formed XML, carries a DTD/entity, or is too large.
                (Deliberate: there is no document to report on; the API maps it to problem+json and
                the CLI to an "XML" issue.)
            ArtefactError: the rule set cannot be built.
        """
        return self.validate_timed(xml, rule_set=rule_set, layers=layers, on_parsed=on_parsed).report

    def validate_timed(
        self,
        xml: bytes | HeldDocument,
        *,
        rule_set: str | None = None,
        layers: Collection[Layer] | None = None,
        on_parsed: Callable[[etree._Element], object] | None = None,
    ) -> LayerTimings:
        """Like :meth:`validate`, also returning the wall time spent in each layer."""
        compiled = self.compiled(rule_set)
        wanted = set(Layer) if layers is None else set(layers)
        findings: list[Finding] = []
        seconds: dict[Layer, float] = {}
        started = time.perf_counter()
        streamed = None  # a large document found valid without a tree (``streamed``)
        if 0 < self.stream_above_bytes <= len(xml):
            streamed = streamed_document(xml, compiled.xsd, max_bytes=self.max_bytes)
        held = xml if isinstance(xml, HeldDocument) and streamed is not None else None
        if streamed is not None:
            del xml  # the bytes are held by ``streamed`` only (and spilled while Saxon works, if ``held``)
        else:
            xml = xml.data() if isinstance(xml, HeldDocument) else xml
            root = parse_xml(xml, max_bytes=self.max_bytes, what="document")
            if on_parsed is not None:
                on_parsed(root)
            if Layer.XSD in wanted:
                started = time.perf_counter()
                findings.extend(compiled.xsd.validate(root, may_embed_binary=may_embed_binary(xml)))
        if Layer.XSD in wanted:
            seconds[Layer.XSD] = time.perf_counter() - started
        schematron = [layer for layer in compiled.layers if layer.layer in wanted]
        with contextlib.ExitStack() as spill:  # the held bytes out of the process (below)
            if schematron:
                assert self._runtime is not None  # built with the rule set
                started = time.perf_counter()
                if streamed is None:
                    stubbed = 0
                    if compiled.rule_set.id in CONTENT_BLIND_RULE_SETS:
                        stubbed = stub_binary_objects(root)  # after the XSD layer, which checks the base64
                    text = saxon_text(root, None if stubbed else xml)
                    del root  # Saxon reads the text: the lxml tree can go before Saxon builds its own
                    if 0 < self.trim_above_bytes <= len(xml):
                        release_free_heap()  # the tree's pages: Saxon's heap could not reuse them
                    node, parse_error, parse_seconds = self._saxon_node(text, started)
                    del text
                else:
                    self._runtime.collect_garbage()  # before a large parse, not during it (*sixth pass*)
                    # Given a HeldDocument, Saxon's parse, the transform and the collection after it run
                    # with the bytes out of the process, read back as ``spill`` closes (*fifteenth pass*).
                    node, parse_error, parse_seconds = self._saxon_streamed(
                        streamed, started, spill if held is not None else None
                    )
                outputs = {}  # layer -> its report from the one transform of all the layers
                shared = compiled.shared
                if shared is not None and parse_error is None and wanted.issuperset(shared.layers):
                    started = time.perf_counter()
                    with contextlib.suppress(PySaxonApiError):  # each layer then runs alone, below
                        outputs = dict(zip(shared.layers, shared.outputs(node) or (), strict=False))
                    first = shared.layers[0]
                    seconds[first] = seconds.get(first, 0.0) + time.perf_counter() - started
                for layer in schematron:
                    if parse_error is not None:
                        message = f"the {layer.layer.value} rules could not read the document: {parse_error}"
                        findings.append(Finding(RULE_ERROR, Severity.FATAL, layer.layer, message, ""))
                        continue
                    if layer.layer in outputs:
                        findings.extend(layer.findings(outputs[layer.layer]))
                        continue
                    run = layer.run(node)
                    findings.extend(run.findings)
                    seconds[layer.layer] = seconds.get(layer.layer, 0.0) + run.seconds
                # The shared parse is charged to the first Schematron layer, which would need it alone.
                first = schematron[0].layer
                seconds[first] = seconds.get(first, 0.0) + parse_seconds
                if streamed is not None:
                    # Saxon's heap of a large document (its tree, the young generation the transform filled)
                    # back to the system before the caller goes on: it would otherwise stay mapped under
                    # whatever the caller allocates next (the store's copies of the document, an expense
                    # draft of its lines), on top of the validation's peak (BENCHMARKS.md, *Memory,
                    # fourteenth pass*).
                    node = None
                    self._runtime.collect_garbage()
        report = ValidationReport(rule_set=compiled.rule_set.id, findings=tuple(findings))
        return LayerTimings(report=report, seconds=seconds)

    def saxon_parse(self, text: str) -> Any:
        """Parse document text into a Saxon node with this engine's runtime (the benchmark's phase
        breakdown times it alone; raises PySaxonApiError)."""
        if self._runtime is None:
            self._runtime = SaxonRuntime()
        return self._runtime.parse(text)

    def _saxon_streamed(
        self, streamed: StreamedDocument, started: float, spill: contextlib.ExitStack | None = None
    ) -> tuple[Any, str | None, float]:
        """Saxon's node of a document found valid by the pull parse: read by Saxon from a temporary file
        of its bytes (``StreamedDocument.saxon_file``), or from its text when no file can be made or Saxon
        cannot read the file.

        A failed file parse is never the document's finding: it may be this process's fault (the file
        removed by a cleaner of the temporary directory, no file descriptor left), so the text is parsed
        then, and only its error (the one the tree path would report) reaches the report.

        ``spill``: once Saxon's file is written, the document's bytes (``streamed.document``) are spilled
        to their own temporary file until ``spill`` closes (the caller's transform and collection)."""
        assert self._runtime is not None
        with streamed.saxon_file(strip_blank=self.strip_blank_text) as path:
            if path is not None:
                if spill is not None:
                    spill.enter_context(streamed.document.spilled())
                with contextlib.suppress(PySaxonApiError):
                    return self._runtime.parse_file(path), None, time.perf_counter() - started
        return self._saxon_node(streamed.saxon_text(strip_blank=self.strip_blank_text), started)

    def _saxon_node(self, text: str, started: float) -> tuple[Any, str | None, float]:
        assert self._runtime is not None
        try:
            node = self._runtime.parse(text)
        except PySaxonApiError as exc:
            return None, normalise_text(str(exc)), time.perf_counter() - started
        return node, None, time.perf_counter() - started

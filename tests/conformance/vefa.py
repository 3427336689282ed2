"""Reader and judge for vefa-validator unit-test sets (bis-billing.md §4), the format of the official
Peppol (rules/unit-UBL-*) and CEN (test/*-unit-UBL) Schematron unit tests.

Semantics (anskaffelser/vefa-validator test-preparer.xslt, svrl-parser.xslt, ValidatorTestExpectation):
* ``configuration`` selects the layers: Peppol only, CEN (+XSD), or the full stack;
* the test document is the element after ``<assert>`` (``*[2]``), or ``*[1]`` without one;
* set-level scope / error / warning / success are merged into each test;
* with a scope, fired rules outside it are ignored;
* ``success X``: X must not fire with any flag; ``error X`` / ``warning X`` with ``number=N`` (default 1):
  X fires with that flag exactly N times; any other in-scope fatal is a failure.
"""

from __future__ import annotations

import copy
import os
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from gateway.validation import Layer, Severity, ValidationReport

#: The artefact mirror (same rule as tests/conftest.py: GATEWAY_SHARED_DIR or ../shared).
ARTEFACTS = (
    Path(os.environ.get("GATEWAY_SHARED_DIR", Path(__file__).resolve().parents[2].parent / "shared"))
    / "artefacts"
)
#: ``run(xslt_path, document) -> Counter((id, flag))`` with an official XSLT (see conformance/conftest.py).
RawRunner = Callable[[str, bytes], Counter[tuple[str, str]]]

VEFA_NS = "http://difi.no/xsd/vefa/validator/1.0"
_V = f"{{{VEFA_NS}}}"

#: vefa configuration -> layers it runs (BIS rules/buildconfig.xml, CEN test configuration).
CONFIGURATION_LAYERS: dict[str, frozenset[Layer]] = {
    "peppolbis-en16931-base-3.0-ubl": frozenset({Layer.PEPPOL}),
    "tc434-ubl": frozenset({Layer.XSD, Layer.CEN}),
    "peppolbis-en16931-01-3.0-ubl-invoice": frozenset(Layer),
}


@dataclass(frozen=True)
class Expectation:
    """What a vefa test expects: rules that must not fire, and rules that must fire N times per flag."""

    scope: frozenset[str] = frozenset()
    success: frozenset[str] = frozenset()
    errors: dict[str, int] = field(default_factory=dict)
    warnings: dict[str, int] = field(default_factory=dict)
    description: str = ""


@dataclass(frozen=True)
class VefaTest:
    """One ``<test>`` of a test set, ready to run."""

    file: Path
    number: str
    configuration: str
    expectation: Expectation
    document: bytes

    @property
    def layers(self) -> frozenset[Layer]:
        """The layers its configuration runs (the full stack for an unknown configuration)."""
        return CONFIGURATION_LAYERS.get(self.configuration, frozenset(Layer))


def _read_assert(node: etree._Element | None) -> Expectation:
    if node is None:
        return Expectation()
    scope, success, errors, warnings, description = set(), set(), {}, {}, []
    for child in node:
        if not isinstance(child.tag, str):
            continue
        text = " ".join((child.text or "").split())
        tag = etree.QName(child).localname
        if tag == "scope":
            scope.add(text)
        elif tag == "success":
            success.add(text)
        elif tag in ("error", "warning"):
            target = errors if tag == "error" else warnings
            target[text] = int(child.get("number", "1"))
        elif tag == "description":
            description.append(text)
    return Expectation(frozenset(scope), frozenset(success), errors, warnings, " ".join(description))


def _merge(outer: Expectation, inner: Expectation) -> Expectation:
    return Expectation(
        scope=outer.scope | inner.scope,
        success=outer.success | inner.success,
        errors={**outer.errors, **inner.errors},
        warnings={**outer.warnings, **inner.warnings},
        description=" ".join(x for x in (outer.description, inner.description) if x),
    )


def _elements(node: etree._Element) -> list[etree._Element]:
    return [child for child in node if isinstance(child.tag, str)]


def read_test_set(path: Path) -> Iterator[VefaTest]:
    """Yield every test of one vefa test-set file."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    root = etree.parse(str(path), parser).getroot()
    configuration = root.get("configuration", "")
    outer = _read_assert(root.find(f"{_V}assert"))
    for index, test in enumerate(root.findall(f"{_V}test"), start=1):
        children = _elements(test)
        has_assert = bool(children) and children[0].tag == f"{_V}assert"
        inner = _read_assert(children[0] if has_assert else None)
        body = children[1] if has_assert and len(children) > 1 else (children[0] if children else None)
        if body is None:
            continue
        # Re-serialise the fragment as a standalone document (its in-scope namespaces come along).
        document = etree.tostring(copy.deepcopy(body), xml_declaration=True, encoding="UTF-8")
        yield VefaTest(path, test.get("id") or str(index), configuration, _merge(outer, inner), document)


def read_suite(directory: Path) -> list[VefaTest]:
    """Every test of every ``*.xml`` test set in ``directory``, in file order."""
    return [t for f in sorted(directory.glob("*.xml")) for t in read_test_set(f)]


def judge(expectation: Expectation, report: ValidationReport) -> list[str]:
    """Return the reasons the report disagrees with the expectation (empty list = agreement)."""
    fired = [
        (f.rule, f.severity) for f in report.findings if not expectation.scope or f.rule in expectation.scope
    ]
    counts = Counter(fired)
    reasons: list[str] = []
    for rule in sorted(expectation.success):
        n = sum(c for (r, _), c in counts.items() if r == rule)
        if n:
            reasons.append(f"{rule} fired {n}x but expected success")
    for wanted, severity in ((expectation.errors, Severity.FATAL), (expectation.warnings, Severity.WARNING)):
        for rule, number in sorted(wanted.items()):
            n = counts[(rule, severity)]
            if n != number:
                reasons.append(f"{rule} not fired {number}x as {severity.value} (fired {n}x)")
    for rule, severity in sorted(set(fired)):
        if severity is Severity.FATAL and rule not in expectation.errors:
            reasons.append(f"unexpected error {rule}")
    return reasons

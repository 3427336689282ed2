"""ISO Schematron -> XSLT 3.0 (SVRL output): the public entry point chaining include, expand, emit.

Covers what the CEN EN 16931 and Peppol BIS Billing 3.0 sources use (bis-billing.md §3.1): ns,
let at schema/phase/pattern/rule level, rules with @flag, assert/report with id/flag, value-of and
name in texts, diagnostics, embedded xsl:function/xsl:key, includes, abstract patterns and rules.
"""

from __future__ import annotations

import re

from lxml import etree

from gateway.errors import SchematronError, XMLInputError
from gateway.validation.schematron.abstract import expand_abstract_patterns, expand_abstract_rules
from gateway.validation.schematron.include import Loader, resolve_includes
from gateway.validation.schematron.namespaces import sch
from gateway.validation.schematron.stylesheet import build_stylesheet
from gateway.xmlcore import parse_xml

#: Query bindings whose XPath the generated XSLT 3.0 evaluates as written. A missing binding
#: defaults to "xslt" (XPath 1.0) in ISO; it is accepted and evaluated as XPath 3.1.
SUPPORTED_QUERY_BINDINGS = frozenset({"", "xslt", "xslt2", "xslt3", "xpath2", "xpath3", "xpath31"})

#: Upper bound for a Schematron source or included file.
MAX_SCHEMATRON_BYTES = 64 * 1024 * 1024

# The tail characters of an XPath variable name: a following one means "another, longer name".
_NAME_CHAR = r"[\w.\-\u00B7]"


def _select_patterns(
    schema: etree._Element, phase: str | None
) -> tuple[list[etree._Element], list[etree._Element]]:
    """Return the patterns to run and the phase's lets; all patterns when no phase is asked for."""
    patterns = [p for p in schema.iterchildren(sch("pattern"))]
    if phase is None or phase == "#ALL":
        return patterns, []
    if phase == "#DEFAULT":
        phase = schema.get("defaultPhase")
        if phase is None:
            return patterns, []
    for element in schema.iterchildren(sch("phase")):
        if element.get("id") == phase:
            active = {a.get("pattern") for a in element.iterchildren(sch("active"))}
            return [p for p in patterns if p.get("id") in active], list(element.iterchildren(sch("let")))
    raise SchematronError(f"no phase {phase!r} in the schema")


def _rename_variable(pattern: etree._Element, old: str, new: str) -> None:
    """Rewrite ``$old`` to ``$new`` in the attributes of a pattern's descendants."""
    reference = re.compile(r"\$" + re.escape(old) + rf"(?!{_NAME_CHAR})")
    for node in pattern.iter():
        if not isinstance(node.tag, str):
            continue
        if node.tag == sch("rule") and any(let.get("name") == old for let in node.iterchildren(sch("let"))):
            continue  # a rule-level let of the same name shadows the pattern one inside that rule
        for key, value in node.attrib.items():
            if "$" in str(value):
                node.set(key, reference.sub("$" + new, str(value)))


def _global_lets(
    schema: etree._Element, patterns: list[etree._Element], phase_lets: list[etree._Element]
) -> list[etree._Element]:
    """Schema, phase and pattern lets, in that order; pattern lets renamed when their name is taken.

    The ISO skeleton and SchXslt make pattern-level lets global variables, so two patterns
    declaring the same name would clash; a later one is renamed inside its own pattern.
    """
    lets = [*schema.iterchildren(sch("let")), *phase_lets]
    taken = {let.get("name", "") for let in lets}
    for number, pattern in enumerate(patterns, start=1):
        for let in list(pattern.iterchildren(sch("let"))):
            name = let.get("name", "")
            if name in taken:
                new = f"{name}_gwp{number}"
                while new in taken:
                    new += "_"
                _rename_variable(pattern, name, new)
                let.set("name", new)
                name = new
            taken.add(name)
            lets.append(let)
    return lets


def compile_schematron(
    source: bytes, *, load: Loader | None = None, base: str = "", phase: str | None = None
) -> bytes:
    """Compile an ISO Schematron schema (query binding xslt2/xslt3) to an SVRL-producing XSLT 3.0.

    Within a pattern only the first matching rule fires for a node; every pattern sees every node,
    attributes included. An XPath dynamic error inside a rule yields a fatal failed-assert
    ``GATEWAY-RULE-ERROR`` for that rule's context, and the other rules keep running.

    Args:
        source: the ``.sch`` document.
        load: returns the bytes of an included file given its href resolved against ``base``
            (POSIX paths or URLs); needed only when the schema uses ``sch:include``.
        base: location of ``source``, for relative include hrefs.
        phase: run only this phase's patterns (``#DEFAULT`` = the schema's defaultPhase);
            ``None`` or ``#ALL`` runs every pattern.

    Returns:
        The XSLT stylesheet bytes (UTF-8), to compile once with saxonche and reuse.

    Raises:
        SchematronError: the source or an include is malformed or uses an unsupported construct.
    """
    try:
        schema = parse_xml(source, max_bytes=MAX_SCHEMATRON_BYTES, what="Schematron schema")
    except XMLInputError as exc:
        raise SchematronError(str(exc), where=base) from exc
    if schema.tag != sch("schema"):
        raise SchematronError(f"document element is {schema.tag}, not an ISO Schematron schema", where=base)
    binding = (schema.get("queryBinding") or "").strip().lower()
    if binding not in SUPPORTED_QUERY_BINDINGS:
        raise SchematronError(f"queryBinding {binding!r} is not supported", where=base)
    resolve_includes(schema, load=load, base=base)
    expand_abstract_patterns(schema)
    expand_abstract_rules(schema)
    patterns, phase_lets = _select_patterns(schema, phase)
    lets = _global_lets(schema, patterns, phase_lets)
    stylesheet = build_stylesheet(schema, patterns=patterns, lets=lets)
    return etree.tostring(stylesheet, xml_declaration=True, encoding="UTF-8")

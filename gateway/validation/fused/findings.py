"""Every failed assert / successful report of the fused stylesheet as a call of one shared function.

The official skeleton writes each finding in place: a literal ``svrl:failed-assert`` (or
``svrl:successful-report``) with its ``test``, three ``xsl:attribute`` (id, flag, and the location, an
``apply-templates`` of the context node in mode ``schematron-select-full-path``) and an ``svrl:text``.
Saxon compiles each of those ~1,000 CEN bodies into its own instruction tree: 11.5 MiB of the 33.5 MiB
the compiled CEN rule set keeps in Saxon's heap, which every full collection copies (BENCHMARKS.md, *Memory
of `serve`*).

``share_findings`` replaces every finding of exactly that shape by ``xsl:sequence`` of a call of
``FUNCTION`` (``REPORT`` for a report) passing only what varies: the context node, id, flag, test,
text and the finding's sort keys (its pattern's position, and for a moved root-rule assert its
position in the rule, else ``()``). The function writes the same element, attributes and text, so
the SVRL, and the findings read from it, are unchanged. A finding of any other shape is left as it is.
"""

from __future__ import annotations

import re

from lxml import etree

from gateway.validation.fused.skeleton import XSL, svrl, xsl

NAMESPACE = "urn:x-gateway:fused"
PREFIX = "fused"
FUNCTION = f"{PREFIX}:failed-assert"
REPORT = f"{PREFIX}:successful-report"
_LOCATION_MODE = "schematron-select-full-path"
_YES = ("yes", "true", "1")
#: An attribute value template's runs: fixed text (braces doubled), then an optional ``{expression}``.
_AVT = re.compile(r"((?:[^{}]|\{\{|\}\})*)(\{[^{}]*\})?")


def expand_text(node: etree._Element) -> str | None:
    """The ``expand-text`` value in scope at ``node`` (``xsl:expand-text`` on a literal result
    element), from the nearest ancestor-or-self declaring it; None when none does."""
    for element in (node, *node.iterancestors()):
        name = "expand-text" if element.tag.startswith(f"{{{XSL}}}") else xsl("expand-text")
        value = element.get(name)
        if value is not None:
            return value.strip()
    return None


def pin_expand_text(original: etree._Element, copied: etree._Element) -> None:
    """Give ``copied`` the ``expand-text`` in scope at ``original``, which it loses once moved out of
    its template (text value templates: ``{...}`` in its text nodes evaluated, or not)."""
    value = expand_text(original)
    if value is not None and copied.get("expand-text") is None and copied.get(xsl("expand-text")) is None:
        copied.set("expand-text" if copied.tag.startswith(f"{{{XSL}}}") else xsl("expand-text"), value)


def _literal(text: str) -> str:
    """An XPath string literal of ``text``."""
    return "'" + text.replace("'", "''") + "'"


def _avt_text(value: str) -> str | None:
    """The fixed value of an attribute value template: its text, ``{{``/``}}`` unescaped and each
    expression integer literals (a Peppol test's ``'^[0-9]{9}$'`` is ``^[0-9]9$`` in the SVRL,
    ``{7,8}`` is ``7 8``); None when an expression is anything else."""
    parts = _AVT.findall(value)
    if "".join(text + expression for text, expression in parts) != value:
        return None
    fixed = []
    for text, expression in parts:
        fixed.append(text.replace("{{", "{").replace("}}", "}"))
        if expression:
            numbers = [number.strip() for number in expression[1:-1].split(",")]
            if not all(re.fullmatch("[0-9]+", number) for number in numbers):
                return None
            fixed.append(" ".join(str(int(number)) for number in numbers))
    return "".join(fixed)


def _fixed_attribute(node: etree._Element, name: str) -> str | None:
    """The text of ``<xsl:attribute name=NAME>text</xsl:attribute>`` (None for any other shape)."""
    if node.tag != xsl("attribute") or node.get("name") != name or len(node) or set(node.attrib) != {"name"}:
        return None
    return _text(node)


def _text(node: etree._Element) -> str:
    """The text a literal text node writes (an XSLT stylesheet drops whitespace-only text)."""
    text = node.text or ""
    return text if text.strip() else ""


def _is_location(node: etree._Element) -> bool:
    """``<xsl:attribute name="location">`` holding only the location ``apply-templates`` of ``.``."""
    if node.tag != xsl("attribute") or set(node.attrib) != {"name"} or node.get("name") != "location":
        return False
    if len(node) != 1:
        return False
    apply = node[0]
    return (
        apply.tag == xsl("apply-templates")
        and set(apply.attrib) == {"mode", "select"}
        and apply.get("mode") == _LOCATION_MODE
        and apply.get("select") == "."
        and len(apply) == 0
        and not (node.text or "").strip()
        and not (apply.tail or "").strip()
    )


def shared_arguments(
    finding: etree._Element, order_attribute: str, assert_attribute: str
) -> tuple[str, list[str]] | None:
    """The shared function writing ``finding`` and its arguments after the node (XPath literals: id,
    flag, test, text, pattern position, position in the rule or ``()``); None when ``finding`` is not
    of the skeleton's shape."""
    if set(finding.attrib) - {"test", order_attribute, assert_attribute} or "test" not in finding.attrib:
        return None
    if finding.tag not in (svrl("failed-assert"), svrl("successful-report")) or (finding.text or "").strip():
        return None
    if expand_text(finding) in _YES:  # its text is a text value template, not a fixed string
        return None
    children = list(finding)
    if len(children) != 4 or any((child.tail or "").strip() for child in children):
        return None
    identifier = _fixed_attribute(children[0], "id")
    flag = _fixed_attribute(children[1], "flag")
    text = children[3]
    test = _avt_text(finding.get("test", ""))
    order = finding.get(order_attribute, "")
    position = finding.get(assert_attribute)
    if (
        identifier is None
        or flag is None
        or test is None
        or not _is_location(children[2])
        or text.tag != svrl("text")
        or len(text)
        or text.attrib
        or not order.isdigit()
        or (position is not None and not position.isdigit())
    ):
        return None
    name = FUNCTION if finding.tag == svrl("failed-assert") else REPORT
    strings = [_literal(value) for value in (identifier, flag, test, _text(text))]
    return name, [*strings, order, position if position is not None else "()"]


def _call(finding: etree._Element, order_attribute: str, assert_attribute: str) -> str | None:
    """The function call writing ``finding``, or None when it is not of the skeleton's shape."""
    shared = shared_arguments(finding, order_attribute, assert_attribute)
    if shared is None:
        return None
    name, arguments = shared
    return f"{name}(., {', '.join(arguments)})"


def share_findings(stylesheet: etree._Element, order_attribute: str, assert_attribute: str) -> int:
    """Replace in ``stylesheet`` every finding of the skeleton's shape by a call; return how many.

    Args:
        order_attribute: the attribute holding the finding's pattern position (always present).
        assert_attribute: the attribute holding a moved assert's position in its rule (optional).
    """
    replaced = 0
    for finding in list(stylesheet.iter(svrl("failed-assert"), svrl("successful-report"))):
        call = _call(finding, order_attribute, assert_attribute)
        parent = finding.getparent()
        if call is None or parent is None:
            continue
        sequence = etree.Element(xsl("sequence"), select=call)
        sequence.tail = finding.tail
        parent.replace(finding, sequence)
        replaced += 1
    return replaced


def declarations(order_attribute: str, assert_attribute: str) -> list[etree._Element]:
    """The two shared functions (``xs`` and ``PREFIX`` must be declared on the stylesheet)."""
    return [_function(name, kind, order_attribute, assert_attribute) for name, kind in _KINDS]


_KINDS = ((FUNCTION, "failed-assert"), (REPORT, "successful-report"))


def _function(name: str, kind: str, order_attribute: str, assert_attribute: str) -> etree._Element:
    function = etree.Element(xsl("function"), name=name)
    function.set("as", "element()")
    for param, kind_of in (
        ("node", "node()"),
        ("id", "xs:string"),
        ("flag", "xs:string"),
        ("test", "xs:string"),
        ("text", "xs:string"),
        ("order", "xs:integer"),
        ("position", "xs:integer?"),
    ):
        etree.SubElement(function, xsl("param"), name=param).set("as", kind_of)
    finding = etree.SubElement(function, svrl(kind), test="{$test}")
    finding.set(order_attribute, "{$order}")
    moved = etree.SubElement(finding, xsl("if"), test="exists($position)")
    etree.SubElement(moved, xsl("attribute"), name=assert_attribute, select="$position")
    etree.SubElement(finding, xsl("attribute"), name="id", select="$id")
    etree.SubElement(finding, xsl("attribute"), name="flag", select="$flag")
    location = etree.SubElement(finding, xsl("attribute"), name="location")
    etree.SubElement(location, xsl("apply-templates"), select="$node", mode=_LOCATION_MODE)
    text = etree.SubElement(finding, svrl("text"))
    etree.SubElement(text, xsl("value-of"), select="$text")
    return function

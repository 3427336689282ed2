"""Include resolution, abstract pattern/rule expansion and error handling of the Schematron compiler
(no XSLT run: these check the compiled stylesheet's structure)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from lxml import etree

from gateway.errors import ArtefactError, SchematronError
from gateway.validation.schematron import compile_schematron, resolve_href
from gateway.validation.schematron.abstract import ParamSubstitution

XSL = "{http://www.w3.org/1999/XSL/Transform}"
SCH_OPEN = '<schema xmlns="http://purl.oclc.org/dsdl/schematron" queryBinding="xslt2">'


def _templates(xslt: bytes) -> list[tuple[str, str]]:
    """(match, mode) of the rule templates, in order."""
    root = etree.fromstring(xslt)
    return [
        (t.get("match", ""), t.get("mode", ""))
        for t in root.iterchildren(f"{XSL}template")
        if t.get("priority") and float(t.get("priority", "0")) >= 1000
    ]


def _tests(xslt: bytes) -> list[str]:
    root = etree.fromstring(xslt)
    return [w.get("test", "") for w in root.iter(f"{XSL}when")]


def _loader(files: dict[str, str], calls: list[str]) -> Callable[[str], bytes]:
    def load(href: str) -> bytes:
        calls.append(href)
        return files[href].encode()

    return load


def test_substitution_prefers_the_longest_name_and_is_single_pass() -> None:
    substitute = ParamSubstitution({"A": "x", "AB": "y", "C": "$A"})
    assert substitute("$AB and $A and $ABC and $C") == "y and x and yC and $A"


def test_resolve_href_relative_to_the_including_file() -> None:
    assert resolve_href("dir/main.sch", "sub/a.sch") == "dir/sub/a.sch"
    assert resolve_href("dir/sub/a.sch", "../b.sch") == "dir/b.sch"
    assert resolve_href("", "a.sch") == "a.sch"
    assert resolve_href("https://example.org/x/main.sch", "y/a.sch") == "https://example.org/x/y/a.sch"


def test_nested_includes_resolve_relative_paths() -> None:
    files = {
        "root/parts/pattern.sch": (
            '<pattern xmlns="http://purl.oclc.org/dsdl/schematron" id="p">'
            '<include href="../rules/rule.sch"/></pattern>'
        ),
        "root/rules/rule.sch": (
            '<rule xmlns="http://purl.oclc.org/dsdl/schematron" context="b">'
            '<assert id="R1" test="false()">x</assert></rule>'
        ),
    }
    calls: list[str] = []
    xslt = compile_schematron(
        f'{SCH_OPEN}<include href="parts/pattern.sch"/></schema>'.encode(),
        load=_loader(files, calls),
        base="root/main.sch",
    )
    assert calls == ["root/parts/pattern.sch", "root/rules/rule.sch"]
    assert _templates(xslt) == [("b", "gwsch:p1")]


def test_include_fragment_selects_element_by_id() -> None:
    files = {
        "lib.sch": (
            '<schema xmlns="http://purl.oclc.org/dsdl/schematron"><pattern id="one"><rule context="a">'
            '<assert id="A" test="1"/></rule></pattern><pattern id="two"><rule context="b">'
            '<assert id="B" test="1"/></rule></pattern></schema>'
        )
    }
    xslt = compile_schematron(
        f'{SCH_OPEN}<include href="lib.sch#two"/></schema>'.encode(), load=_loader(files, [])
    )
    assert _templates(xslt) == [("b", "gwsch:p1")]


def test_abstract_pattern_with_trailing_blank_param_names() -> None:
    # CEN 1.3.16 declares e.g. <param name="VAT_breakdown " .../>: the name must be trimmed.
    source = f"""{SCH_OPEN}
      <pattern abstract="true" id="model">
        <rule context="$VAT_breakdown ">
          <assert id="BR-X" flag="fatal" test="$BR-X">text</assert>
          <assert id="BR-X1" flag="fatal" test="$BR-X1">text</assert>
        </rule>
      </pattern>
      <pattern is-a="model" id="UBL-model">
        <param name="VAT_breakdown " value="cac:TaxTotal/cac:TaxSubtotal"/>
        <param name="BR-X" value="exists(cbc:TaxAmount)"/>
        <param name="BR-X1" value="exists(cbc:TaxableAmount)"/>
      </pattern>
    </schema>"""
    xslt = compile_schematron(source.encode())
    assert _templates(xslt) == [("cac:TaxTotal/cac:TaxSubtotal", "gwsch:p1")]
    assert _tests(xslt) == ["exists(cbc:TaxAmount)", "exists(cbc:TaxableAmount)"]
    active = etree.fromstring(xslt).find(".//{http://purl.oclc.org/dsdl/svrl}active-pattern")
    assert active is not None
    assert active.get("id") == "UBL-model"


def test_abstract_rule_and_extends() -> None:
    source = f"""{SCH_OPEN}
      <pattern id="p">
        <rule abstract="true" id="common"><assert id="C" test="@id">c</assert></rule>
        <rule context="a"><extends rule="common"/><assert id="A" test="b">a</assert></rule>
      </pattern>
    </schema>"""
    xslt = compile_schematron(source.encode())
    assert _templates(xslt) == [("a", "gwsch:p1")]
    assert _tests(xslt) == ["@id", "b"]


@pytest.mark.parametrize(
    ("source", "load", "message"),
    [
        (b"<schema", None, "not well-formed"),
        (b'<schema xmlns="urn:other"/>', None, "not an ISO Schematron schema"),
        (f'{SCH_OPEN}<include href="a.sch"/></schema>'.encode(), None, "no loader"),
        (f'{SCH_OPEN}<pattern is-a="nope" id="x"/></schema>'.encode(), None, "names no abstract pattern"),
        (
            f'{SCH_OPEN}<pattern><rule><assert test="1"/></rule></pattern></schema>'.encode(),
            None,
            "without @context",
        ),
        (
            f'{SCH_OPEN}<pattern><rule context="a"><assert/></rule></pattern></schema>'.encode(),
            None,
            "without @test",
        ),
        (
            f'{SCH_OPEN}<pattern><rule context="a"><extends rule="zz"/></rule></pattern></schema>'.encode(),
            None,
            "names no abstract rule",
        ),
        (
            b'<schema xmlns="http://purl.oclc.org/dsdl/schematron" queryBinding="xquery"/>',
            None,
            "queryBinding",
        ),
        (f'{SCH_OPEN}<include href="missing.sch"/></schema>'.encode(), {}, "cannot load"),
        (
            f'{SCH_OPEN}<include href="loop.sch"/></schema>'.encode(),
            {
                "loop.sch": (
                    '<pattern xmlns="http://purl.oclc.org/dsdl/schematron">'
                    '<include href="loop.sch"/></pattern>'
                )
            },
            "include cycle",
        ),
        (
            f'{SCH_OPEN}<include href="bad.sch"/></schema>'.encode(),
            {"bad.sch": "<pattern"},
            "not well-formed",
        ),
    ],
)
def test_malformed_schematron_raises_schematron_error(
    source: bytes, load: dict[str, str] | None, message: str
) -> None:
    loader = None if load is None else _loader(load, [])
    with pytest.raises(SchematronError, match=message) as info:
        compile_schematron(source, load=loader)
    assert isinstance(info.value, ArtefactError)  # callers handling artefact problems catch it too


def test_pattern_let_name_collision_is_renamed_within_its_pattern() -> None:
    source = f"""{SCH_OPEN}
      <let name="v" value="1"/>
      <pattern>
        <let name="v" value="2"/>
        <rule context="a"><assert id="A" test="$v = 2 and $vv">x</assert></rule>
      </pattern>
    </schema>"""
    xslt = compile_schematron(source.encode())
    root = etree.fromstring(xslt)
    names = [v.get("name") for v in root.iterchildren(f"{XSL}variable")]
    assert names == ["v", "v_gwp1"]
    assert _tests(xslt) == ["$v_gwp1 = 2 and $vv"]

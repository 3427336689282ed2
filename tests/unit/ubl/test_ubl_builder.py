"""The UBL element builder refuses what XML 1.0 cannot carry with a MappingError (a 422), never lxml's
ValueError (a 500); the model refuses such text first, this is the writer's own guard."""

from __future__ import annotations

import pytest
from lxml import etree

from gateway.errors import MappingError
from gateway.ubl.builder import add, document, group, serialise


@pytest.mark.parametrize(("value", "attribute"), [("a\x00b", None), ("ok", "x\x01y"), ("\x1f", None)])
def test_a_character_xml_cannot_carry_is_a_mapping_error(value: str, attribute: str | None) -> None:
    root = document("root", {})
    parent = group(root, "cac:Party")
    with pytest.raises(MappingError, match="cbc:Name"):
        add(parent, "cbc:Name", value, schemeID=attribute)
    assert parent.parts == []  # nothing half-written is left behind


def test_tab_newline_and_unicode_are_written() -> None:
    root = document("root", {"cbc": "urn:cbc"})
    add(root, "cbc:Note", "a\tb\nc é 😀 &<>\r", languageID='n\tl"&<>')
    element = etree.fromstring(serialise(root))[0]
    assert element.text == "a\tb\nc é 😀 &<>\r"
    assert element.get("languageID") == 'n\tl"&<>'


def test_empty_aggregates_are_left_out() -> None:
    root = document("root", {"cac": "urn:cac", "cbc": "urn:cbc"})
    add(group(group(root, "cac:A"), "cac:B"), "cbc:Note", None)
    add(group(root, "cac:C"), "cbc:Note", " \t")
    add(group(root, "cac:D"), "cbc:ID", "1")
    assert serialise(root) == (
        b"<?xml version='1.0' encoding='UTF-8'?>\n"
        b'<root xmlns:cac="urn:cac" xmlns:cbc="urn:cbc">\n'
        b"  <cac:D>\n    <cbc:ID>1</cbc:ID>\n  </cac:D>\n</root>\n"
    )

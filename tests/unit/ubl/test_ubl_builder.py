"""The UBL element builder refuses what XML 1.0 cannot carry with a MappingError (a 422), never lxml's
ValueError (a 500); the model refuses such text first, this is the writer's own guard."""

from __future__ import annotations

import pytest
from lxml import etree

from gateway.errors import MappingError
from gateway.ubl.builder import add, group


@pytest.mark.parametrize(("value", "attribute"), [("a\x00b", None), ("ok", "x\x01y"), ("\x1f", None)])
def test_a_character_xml_cannot_carry_is_a_mapping_error(value: str, attribute: str | None) -> None:
    root = etree.Element("root")
    parent = group(root, "cac:Party")
    with pytest.raises(MappingError, match="cbc:Name"):
        add(parent, "cbc:Name", value, schemeID=attribute)
    assert len(parent) == 0  # nothing half-written is left behind


def test_tab_newline_and_unicode_are_written() -> None:
    root = etree.Element("root")
    element = add(root, "cbc:Note", "a\tb\nc é 😀", languageID="nl")
    assert element is not None
    assert element.text == "a\tb\nc é 😀"

"""Conformance fixtures: the official compiled XSLTs run raw with saxonche, as the differential reference."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from lxml import etree
from saxonche import PySaxonProcessor
from vefa import RawRunner

SVRL = "{http://purl.oclc.org/dsdl/svrl}"


@pytest.fixture(scope="session")
def raw_official(artefacts_dir: Path) -> RawRunner:
    """``run(xslt_path, document) -> Counter((id, flag))`` with the official XSLT, bypassing the engine.

    Deliberately independent of gateway.validation (own processor, own SVRL reading): it is the
    reference the engine is compared with. A missing flag is reported as "".
    """
    proc = PySaxonProcessor(license=False)
    compiled: dict[str, object] = {}

    def run(xslt: str, document: bytes) -> Counter[tuple[str, str]]:
        if xslt not in compiled:
            text = (artefacts_dir / xslt).read_text(encoding="utf-8")
            compiled[xslt] = proc.new_xslt30_processor().compile_stylesheet(stylesheet_text=text)
        root = etree.fromstring(document, etree.XMLParser(resolve_entities=False, no_network=True))
        node = proc.parse_xml(xml_text=etree.tostring(root.getroottree(), encoding="unicode"))
        svrl = compiled[xslt].transform_to_string(xdm_node=node)  # type: ignore[attr-defined]
        report = etree.fromstring(svrl.encode("utf-8"))
        return Counter(
            (n.get("id", ""), n.get("flag", ""))
            for n in report.iter(f"{SVRL}failed-assert", f"{SVRL}successful-report")
        )

    return run

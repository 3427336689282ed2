"""blank_text beyond the billing stylesheets the scan read in BENCHMARKS.md (*Memory, thirteenth pass*: CEN
and Peppol 3.0.21): the rule sets of the other documents the engine validates, and 3.0.19's stylesheets
compiled from Schematron, report the same through the streamed path, their whitespace between elements
removed, as through the tree path (*Saxon's temporary file, second pass*)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gateway.validation import ArtefactStore, ValidationEngine
from gateway.validation.blank_text import without_blank_text
from gateway.validation.streamed import streamed_document

pytestmark = pytest.mark.slow

_DOCUMENTS = {
    "peppol-invoice-response-3-t111": "peppol-invoice-response/**/*.xml",
    "peppol-mls-1.0.1": "peppol-mls-1.0.1/examples/**/*.xml",
    "peppol-tsr-1.0.5": "peppol-reporting/tsr-1.0.5/**/*.xml",
    "peppol-eusr-1.1.5": "peppol-reporting/eusr-1.1.5/**/*.xml",
    "peppol-bis-billing-3.0.19-sch": "peppol-bis-billing-3.0.21/examples/*.xml",
}


@pytest.mark.parametrize("rule_set", sorted(_DOCUMENTS))
def test_other_rule_sets_report_the_same_without_blank_text(
    rule_set: str, artefacts_dir: Path, tmp_path: Path
) -> None:
    store = ArtefactStore.from_paths(mirror=artefacts_dir, cache_dir=tmp_path)
    streaming = ValidationEngine(store, stream_above_bytes=1)
    tree = ValidationEngine(store, stream_above_bytes=0)
    xsd = streaming.compiled(rule_set).xsd
    failures, stripped = [], 0
    for path in sorted(artefacts_dir.glob(_DOCUMENTS[rule_set])):
        # Without comments (a comment leaves the text as received), indented everywhere (an empty
        # element gets whitespace of its own, which stays)
        document = re.sub(rb"<!--.*?-->", b"", path.read_bytes(), flags=re.DOTALL)
        document = re.sub(rb">[ \t\r\n]*<", b">\n      <", document)
        streamed = streamed_document(document, xsd, max_bytes=streaming.max_bytes)
        stripped += streamed is not None and without_blank_text(document) != document
        if streaming.validate(document, rule_set=rule_set) != tree.validate(document, rule_set=rule_set):
            failures.append(path.name)
    assert stripped >= 5
    assert not failures, failures

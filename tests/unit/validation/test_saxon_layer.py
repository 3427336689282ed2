"""XSLTLayer (gateway.validation.saxon): a transform leaves no document behind in Saxon's heap."""

from __future__ import annotations

import pytest
from saxonche import PySaxonApiError

from gateway.validation.report import Layer
from gateway.validation.saxon import SaxonRuntime, XSLTLayer

_NAME_OF_ROOT = b"""<xsl:stylesheet version="3.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">
  <xsl:template match="/"><r><xsl:value-of select="name(*)"/></r></xsl:template>
</xsl:stylesheet>"""


def test_the_transformed_document_is_not_kept_by_the_executable() -> None:
    # SaxonC keeps the source node among the executable's parameters: a transform without a node
    # would then run on the previous document again, whose tree stays in Saxon's heap meanwhile.
    runtime = SaxonRuntime()
    layer = XSLTLayer(runtime, Layer.CEN, _NAME_OF_ROOT, name="name-of-root.xsl")
    node = runtime.parse("<kept-in-saxon/>")

    assert "<r>kept-in-saxon</r>" in layer.output(node)
    del node

    with pytest.raises(PySaxonApiError, match="initial match selection"):
        layer._executable.transform_to_string()


def test_a_layer_still_runs_document_after_document() -> None:
    runtime = SaxonRuntime()
    layer = XSLTLayer(runtime, Layer.CEN, _NAME_OF_ROOT, name="name-of-root.xsl")

    assert "<r>first</r>" in layer.output(runtime.parse("<first/>"))
    assert "<r>second</r>" in layer.output(runtime.parse("<second/>"))

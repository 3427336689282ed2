"""Large embedded attachments shrunk to a placeholder before the Schematron layers read the document.

An invoice may carry attachments as base64 in ``cbc:EmbeddedDocumentBinaryObject`` (BT-125): megabytes of
text that Saxon would otherwise hold several times over (the serialised text, its own copy, its tree).
No rule of the rule sets in ``CONTENT_BLIND_RULE_SETS`` reads that content beyond its emptiness: checked
rule by rule in the official 3.0.21 stylesheets (CEN-EN16931-UBL.xslt, PEPPOL-EN16931-UBL.xslt):

* UBL-DT-06/07 (``//*[ends-with(name(), 'BinaryObject')]``), BR-CL-24 and PEPPOL-EN16931-CL001
  (``cbc:EmbeddedDocumentBinaryObject[@mimeCode]``) test attributes only;
* PEPPOL-EN16931-R008 (``//*[not(*) and not(normalize-space())]``, "no empty elements") tests
  emptiness, which the placeholder keeps: non-blank content becomes ``A``, blank content one blank;
* the rules on ``cac:AdditionalDocumentReference``, ``cac:Attachment`` and the document root test the
  presence of elements, ``@filename`` and other children, never the attachment's text;
* locations are element paths, and no message prints the content.

The XSD layer runs on the untouched tree first (it checks ``xsd:base64Binary``); only then is the
content replaced, in the same tree (no second copy). An element with children (comments, elements:
invalid, but the Schematron layers still run on invalid documents) is left as it is, and so is one
anywhere but in an attachment of an Invoice or CreditNote root (invalid too: there a rule may read it).
tests/conformance/test_fused_differential.py compares the findings with and without the placeholder.
"""

from __future__ import annotations

from typing import Final

from lxml import etree

#: Rule sets whose Schematron layers were checked not to read the attachment content (see above).
CONTENT_BLIND_RULE_SETS: Final = frozenset({"peppol-bis-billing-3.0.21"})
#: Content up to this many characters is left alone (small attachments cost nothing).
STUB_MIN_CHARS: Final = 4096
_CBC: Final = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
_CAC: Final = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
_ROOTS: Final = frozenset(
    f"{{urn:oasis:names:specification:ubl:schema:xsd:{name}-2}}{name}" for name in ("Invoice", "CreditNote")
)
#: Where BT-125 is, from the root: the only place the rules above were checked for. Elsewhere (e.g. inside
#: a ``cbc:PrimaryAccountNumberID``, or an element whose name ends in ``Amount``, in an invalid document)
#: rules read the string value of an ancestor, which includes the content (BR-51's string-length).
_BINARY_OBJECTS: Final = (
    f"{{{_CAC}}}AdditionalDocumentReference/{{{_CAC}}}Attachment/{{{_CBC}}}EmbeddedDocumentBinaryObject"
)


def stub_binary_objects(root: etree._Element, *, min_chars: int = STUB_MIN_CHARS) -> int:
    """Replace the text of every childless ``cbc:EmbeddedDocumentBinaryObject`` of an attachment (BT-125:
    ``/Invoice/cac:AdditionalDocumentReference/cac:Attachment``, or the CreditNote's) longer than
    ``min_chars`` by ``A`` (non-blank content) or one blank (blank content), in place.

    Returns:
        How many elements were changed.
    """
    changed = 0
    if root.tag not in _ROOTS:
        return 0  # e.g. an unknown root whose name ends in "Amount": UBL-DT-01 reads its string value
    for element in root.iterfind(_BINARY_OBJECTS):
        if len(element):
            continue
        text = element.text
        if text is None or len(text) <= min_chars:
            continue
        element.text = " " if text.isspace() else "A"
        del text  # the document-sized string goes now, not at the next element
        changed += 1
    return changed

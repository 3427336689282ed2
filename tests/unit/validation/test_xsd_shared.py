"""One compiled UBL schema per XSD package, shared by its rule sets, with each rule set's own findings."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from lxml import etree

from gateway.validation import ValidationEngine
from gateway.validation.xsd import XSDLayer, XSDSchemas

BILLING, MLS, T111 = "peppol-bis-billing-3.0.21", "peppol-mls-1.0.1", "peppol-invoice-response-3-t111"
INVOICE = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2 Invoice"
AR = "urn:oasis:names:specification:ubl:schema:xsd:ApplicationResponse-2 ApplicationResponse"
EXT = "urn:oasis:names:specification:ubl:schema:xsd:CommonExtensionComponents-2"

#: An ApplicationResponse that breaks its XSD (an unknown element): only a schema that declares the
#: ApplicationResponse root validates it inside a lax wildcard (UBL extension content).
BAD_RESPONSE = (
    b'<ApplicationResponse xmlns="urn:oasis:names:specification:ubl:schema:xsd:ApplicationResponse-2">'
    b"<Unknown/></ApplicationResponse>"
)
BAD_INVOICE = b'<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"><Unknown/></Invoice>'


def _with_extension(document: bytes, root_end: bytes, content: bytes) -> bytes:
    """``document`` with a UBL extension holding ``content`` as the root's first child (the XSD's order)."""
    extension = (
        f'<ext:UBLExtensions xmlns:ext="{EXT}"><ext:UBLExtension><ext:ExtensionContent>'.encode()
        + content
        + b"</ext:ExtensionContent></ext:UBLExtension></ext:UBLExtensions>"
    )
    head, tail = document.split(root_end, 1)
    return head + root_end + extension + tail


def _root_end(document: bytes, root: bytes) -> bytes:
    start = document.index(b"<" + root)
    return document[start : document.index(b">", start) + 1]


@pytest.fixture(scope="module")
def invoice(artefacts_dir: Path) -> bytes:
    return (artefacts_dir / BILLING / "examples" / "base-example.xml").read_bytes()


@pytest.fixture(scope="module")
def mls(artefacts_dir: Path) -> bytes:
    return (artefacts_dir / MLS / "examples" / "MessageLevelStatus_Example_AP.xml").read_bytes()


def test_the_rule_sets_of_one_xsd_package_share_one_compiled_schema(
    validation_engine: ValidationEngine,
) -> None:
    # One UBL schema holds the common library once (≈ 15 MiB less per process that validates invoices
    # and MLS or Invoice Responses: BENCHMARKS.md, MLS second pass).
    invoice_schema = validation_engine.compiled(BILLING).xsd.schema(INVOICE)
    mls_schema = validation_engine.compiled(MLS).xsd.schema(AR)
    t111_schema = validation_engine.compiled(T111).xsd.schema(AR)
    assert invoice_schema is not None
    assert mls_schema is not None
    assert t111_schema is not None
    assert mls_schema[0] is invoice_schema[0]
    assert t111_schema[0] is invoice_schema[0]
    assert validation_engine.compiled(MLS).xsd.roots == (AR,)


@pytest.mark.parametrize(
    ("rule_set", "fixture", "root", "nested"),
    [(BILLING, "invoice", b"Invoice", BAD_RESPONSE), (MLS, "mls", b"ApplicationResponse", BAD_INVOICE)],
)
def test_another_rule_sets_root_in_a_lax_wildcard_keeps_the_rule_sets_own_findings(
    validation_engine: ValidationEngine,
    request: pytest.FixtureRequest,
    rule_set: str,
    fixture: str,
    root: bytes,
    nested: bytes,
) -> None:
    document: bytes = request.getfixturevalue(fixture)
    store = validation_engine.store
    roots = store.manifest.rule_set(rule_set).xsd_roots
    package_roots = {**store.manifest.rule_set(BILLING).xsd_roots, **store.manifest.rule_set(MLS).xsd_roots}
    package = XSDSchemas(package_roots, store.read)
    compiled = package.shared()
    assert compiled is not None
    end = _root_end(document, root)
    for extra, expected in ((b"", []), (b"<ext:Stray/>", None)):
        # Valid otherwise (the nested element alone differs), then invalid besides (an element the
        # extension does not allow): the shared schema's stricter view must not show in either.
        tree = etree.fromstring(_with_extension(document, end, nested + extra))
        own = XSDLayer(roots, store.read).validate(tree)
        shared = XSDLayer(roots, store.read, package)
        assert shared.schema(next(iter(roots))) == compiled
        assert not compiled[0].validate(tree)  # the shared schema does see the nested root
        assert shared.validate(tree) == own
        if expected is not None:
            assert own == expected
        else:
            assert own  # the stray element is reported, by both


def test_what_only_the_shared_schema_declares_is_not_let_pass(
    validation_engine: ValidationEngine, invoice: bytes, artefacts_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The shared schema is not stricter everywhere: it also declares the ApplicationResponse root and
    # its type. A valid response in a strict wildcard (ds:CanonicalizationMethod holds any element), or
    # an element of extension content with xsi:type naming ApplicationResponseType, passed it, while
    # the Invoice's own schema (the official one) reports them: an XSD-invalid invoice was accepted.
    response = etree.fromstring(
        (
            artefacts_dir / "peppol-invoice-response" / "examples" / "T111-uc003-Invoice is accepted.xml"
        ).read_bytes()
    )
    xsi = "http://www.w3.org/2001/XMLSchema-instance"
    typed = etree.Element("{urn:x}Typed", nsmap={"xsi": xsi, "r": AR.split(" ")[0]})
    typed.set(f"{{{xsi}}}type", "r:ApplicationResponseType")
    typed.extend(copy.deepcopy(child) for child in response)
    strict = etree.Element("{http://www.w3.org/2000/09/xmldsig#}CanonicalizationMethod", Algorithm="urn:x")
    strict.append(response)
    end = _root_end(invoice, b"Invoice")
    for nested in (typed, strict):
        document = _with_extension(invoice, end, etree.tostring(nested))
        for stream_above in (0, 1):  # the tree path, the streamed path
            monkeypatch.setattr(validation_engine, "stream_above_bytes", stream_above)
            report = validation_engine.validate(document, rule_set=BILLING)
            assert {f.rule for f in report.fatal} == {"XSD"}, (nested.tag, stream_above)

"""The XSD layer: UBL 2.1 schemas compiled once with lxml, loaded through the ArtefactStore (verified)."""

from __future__ import annotations

import posixpath
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from html import escape
from typing import Any, cast

from lxml import etree

from gateway.errors import ArtefactError
from gateway.model.document import is_xsd_base64
from gateway.validation.report import XSD_RULE, Finding, Layer, Severity
from gateway.xmlcore import string_value

# A virtual absolute base: libxml2 resolves relative schemaLocations against it, and the resolver maps
# the result back to a manifest path. No real file system path is ever opened by libxml2.
_BASE = "/artefact-store/"
_XSI = "http://www.w3.org/2001/XMLSchema-instance"
#: An attribute ``<prefix>:type`` in the bytes: an ``xsi:type`` may be there (a false alarm costs a tree).
_MAY_NAME_A_TYPE = re.compile(rb":type\s*=")
#: The one ``xs:base64Binary`` element of UBL's common library (BT-125; ``udt:BinaryObjectType``), allowed in
#: every ``cac:Attachment`` (of any document reference, lines included).
_BINARY_OBJECT = (
    "{urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2}EmbeddedDocumentBinaryObject"
)


class _StoreResolver(etree.Resolver):
    def __init__(self, read: Callable[[str], bytes]) -> None:
        super().__init__()
        self._read = read

    def resolve(self, system_url: str, public_id: str, context: Any = None) -> Any:
        if not system_url.startswith(_BASE):
            raise ArtefactError(f"XSD import outside the artefact store refused: {system_url}")
        path = posixpath.normpath(system_url[len(_BASE) :])
        return self.resolve_string(self._read(path), context, base_url=system_url)


def _compile(text: bytes, path: str, read: Callable[[str], bytes]) -> etree.XMLSchema:
    parser = etree.XMLParser(no_network=True, resolve_entities=False, load_dtd=False)
    parser.resolvers.add(_StoreResolver(read))
    try:
        return etree.XMLSchema(etree.fromstring(text, parser=parser, base_url=_BASE + path))
    except (etree.XMLSchemaParseError, etree.XMLSyntaxError) as exc:
        raise ArtefactError(f"XSD {path} does not compile: {exc}") from exc


def _compile_as_one(
    roots: Mapping[str, str], read: Callable[[str], bytes]
) -> tuple[etree.XMLSchema, threading.Lock]:
    """One schema for ``roots`` (one namespace each): a root's main XSD, or for several a wrapper importing
    each namespace; with the lock its users hold (lxml keeps the error log on the schema object: one lock
    per schema keeps reports apart)."""
    if len(roots) == 1:
        ((_, path),) = roots.items()
        return _compile(read(path), path, read), threading.Lock()
    namespaces = {key.split(" ", 1)[0]: path for key, path in roots.items()}
    return _compile(_wrapper(namespaces), "roots.xsd", read), threading.Lock()


def _wrapper(namespaces: Mapping[str, str]) -> bytes:
    """A schema that only imports each namespace from its main XSD (paths are manifest paths)."""
    imports = "".join(
        f'<xsd:import namespace="{escape(ns)}" schemaLocation="{escape(_BASE + path)}"/>'
        for ns, path in namespaces.items()
    )
    return f'<xsd:schema xmlns:xsd="http://www.w3.org/2001/XMLSchema">{imports}</xsd:schema>'.encode()


def root_key(root: etree._Element) -> str:
    """Return "{namespace} localname" of an element, the key of the manifest's ``xsd.roots``."""
    qname = etree.QName(root)
    return f"{qname.namespace or ''} {qname.localname}"


class XSDSchemas:
    """The compiled UBL schemas of one XSD package, shared by the rule sets that use it.

    Every root of every rule set of the package (Invoice, CreditNote, ApplicationResponse) is compiled into
    ONE schema (a wrapper importing each root's namespace): the UBL common library they share (about half a
    schema's 16 MiB) is held once. A process validating invoices and the MLS or Invoice Responses it sends
    or receives thus holds one schema, not one per rule set (BENCHMARKS.md, *MLS, second pass*: +15 MiB each).
    Roots that share a namespace with another path (not the case in UBL) make each rule set compile its own.

    Args:
        roots: "{namespace} localname" -> manifest path of the main XSD, over all the package's rule sets.
        read: verified reader of manifest paths (``ArtefactStore.read``).
    """

    def __init__(self, roots: Mapping[str, str], read: Callable[[str], bytes]) -> None:
        self.read = read
        self.roots = dict(roots)
        self._shared: tuple[etree.XMLSchema, threading.Lock] | None = None
        self._failed = False
        self._lock = threading.Lock()

    def shares(self, roots: Mapping[str, str]) -> bool:
        """Whether a rule set of these roots can use the shared schema (its roots are among them)."""
        namespaces = {key.split(" ", 1)[0] for key in self.roots}
        return len(namespaces) == len(self.roots) and all(self.roots.get(k) == v for k, v in roots.items())

    def shared(self) -> tuple[etree.XMLSchema, threading.Lock] | None:
        """The schema of all the package's roots and the lock its users hold, compiled on first use; None
        when the package's schemas do not compile as one (each rule set then compiles its own)."""
        with self._lock:
            if self._failed:
                return None
            if self._shared is None:
                try:
                    self._shared = _compile_as_one(self.roots, self.read)
                except ArtefactError:
                    self._failed = True
                    return None
            return self._shared


class XSDLayer:
    """UBL 2.1 XSD validation for the document types of a rule set (Invoice, CreditNote).

    The main schemas are compiled as ONE schema (a wrapper importing each root's namespace), so the
    components they share (the UBL common library, about half a schema's 16 MiB) are held once. Given
    ``shared`` (the package's :class:`XSDSchemas`), that schema also holds the other rule sets' roots and
    is the same object for all of them.

    Findings are those of this rule set's own roots alone: the shared schema declares other root elements
    (e.g. ApplicationResponse beside Invoice), which UBL's lax wildcards (extension content, ds:Object)
    would then validate where this rule set's schema skips them. It is not stricter everywhere: such an
    element in a strict wildcard (``ds:CanonicalizationMethod``), or an ``xsi:type`` naming another root's
    type, is valid for it only. A document that holds such an element below its root, or an ``xsi:type``,
    is therefore validated again with this rule set's own schema (compiled on first need).

    Args:
        roots: "{namespace} localname" -> manifest path of the main XSD.
        read: verified reader of manifest paths (``ArtefactStore.read``).
        shared: the package's schemas (None: compile this rule set's own).
    """

    def __init__(
        self, roots: Mapping[str, str], read: Callable[[str], bytes], shared: XSDSchemas | None = None
    ) -> None:
        self._roots = dict(roots)
        self._read = read
        self._schemas: dict[str, tuple[etree.XMLSchema, threading.Lock]] = {}
        self._foreign: tuple[str, ...] = ()
        self._foreign_names: tuple[bytes, ...] = ()
        self._foreign_start: re.Pattern[bytes] | None = None
        self._own: dict[str, tuple[etree.XMLSchema, threading.Lock]] | None = None
        self._own_lock = threading.Lock()
        entry = shared.shared() if shared is not None and shared.shares(roots) else None
        if shared is not None and entry is not None:
            self._schemas = dict.fromkeys(roots, entry)
            self._foreign = tuple(_tag(key) for key in shared.roots if key not in roots)
            foreign = [key for key in shared.roots if key not in roots]
            self._foreign_names = tuple(key.split(" ", 1)[1].encode() for key in foreign)
            names = b"|".join(re.escape(name) for name in self._foreign_names)
            # A start tag of such an element, whatever its prefix (a text naming it is no false alarm).
            self._foreign_start = (
                re.compile(rb"<(?:[^\s<>/:!?]+:)?(?:" + names + rb")[\s/>]") if names else None
            )
        else:
            self._schemas = self._compile_own()
            self._own = self._schemas

    def _compile_own(self) -> dict[str, tuple[etree.XMLSchema, threading.Lock]]:
        roots, read = self._roots, self._read
        if len({key.split(" ", 1)[0] for key in roots}) == len(roots) > 1:
            return dict.fromkeys(roots, _compile_as_one(roots, read))
        return {key: _compile_as_one({key: path}, read) for key, path in roots.items()}

    @property
    def roots(self) -> tuple[str, ...]:
        """The accepted root elements as "{namespace} localname"."""
        return tuple(self._schemas)

    def schema(self, key: str) -> tuple[etree.XMLSchema, threading.Lock] | None:
        """The schema of the root element ``key`` ("{namespace} localname") and the lock its users hold;
        None for a root this rule set does not accept."""
        return self._schemas.get(key)

    def validate(self, root: etree._Element, *, may_embed_binary: bool = True) -> list[Finding]:
        """Validate a parsed document; an unknown root element is one fatal finding.

        ``may_embed_binary``: False when the document's bytes do not name ``EmbeddedDocumentBinaryObject``
        (``gateway.xmlcore.may_embed_binary``): its base64 check (``_base64_errors``) is then skipped, not
        even a walk of the tree.
        """
        key = root_key(root)
        entry = self._schemas.get(key)
        if entry is None:
            accepted = " or ".join(k.split(" ")[1] for k in self._schemas)
            return [
                Finding(
                    XSD_RULE,
                    Severity.FATAL,
                    Layer.XSD,
                    f"root element {{{key.replace(' ', '}')} is not a UBL document this rule set accepts "
                    f"(expected {accepted})",
                    "line 1" if root.sourceline is None else f"line {root.sourceline}",
                )
            ]
        errors = _errors(root, entry)
        if self._foreign and (_holds_any(root, self._foreign) or _names_a_type(root)):
            # See the class: this rule set's roots alone. Also when the shared schema found no error: it
            # is not stricter everywhere. Another root in a strict wildcard (``ds:CanonicalizationMethod``
            # holds any element), or an ``xsi:type`` naming a type of another root's namespace in extension
            # content, is valid there and an error for this rule set's own schema (the official one).
            errors = _errors(root, self._own_schemas()[key])
        if may_embed_binary:
            errors.extend(_base64_errors(root, errors))
        return [Finding(XSD_RULE, Severity.FATAL, Layer.XSD, msg, f"line {line}") for line, msg in errors]

    def may_be_lenient(self, xml: bytes) -> bool:
        """Whether the shared schema's answer for the document ``xml`` may be more lenient than this rule
        set's own schema (``validate``: another root's element or an ``xsi:type``), judged on the bytes
        (a false alarm only costs a validation of the tree)."""
        if self._foreign_start is None:
            return False
        # Plain bytes first: a pattern is tried at every "<" or ":" (35 and 6 ms on the 6.4 MB of a 5,000-line
        # invoice), a search for a literal runs at memory speed (1.6 ms).
        if b":type" in xml and _MAY_NAME_A_TYPE.search(xml) is not None:
            return True
        named = any(name in xml for name in self._foreign_names)
        return named and self._foreign_start.search(xml) is not None

    def _own_schemas(self) -> dict[str, tuple[etree.XMLSchema, threading.Lock]]:
        with self._own_lock:
            if self._own is None:
                self._own = self._compile_own()
            return self._own


def _tag(key: str) -> str:
    """The Clark name "{namespace}localname" of a root key "namespace localname"."""
    namespace, localname = key.split(" ", 1)
    return f"{{{namespace}}}{localname}" if namespace else localname


def _holds_any(root: etree._Element, tags: tuple[str, ...]) -> bool:
    """Whether an element below ``root`` has one of ``tags``."""
    return any(element is not root for element in root.iter(*tags))


#: Compiled once: the XPath text compiled per call cost half again as much (15 against 11 us per example).
_ANY_XSI_TYPE = etree.XPath("boolean(//@xsi:type)", namespaces={"xsi": _XSI})


def _names_a_type(root: etree._Element) -> bool:
    """Whether an element of the document has an ``xsi:type`` attribute."""
    return bool(_ANY_XSI_TYPE(root))


def _errors(root: etree._Element, entry: tuple[etree.XMLSchema, threading.Lock]) -> list[tuple[int, str]]:
    schema, lock = entry
    with lock:
        if schema.validate(root):
            return []
        return [(e.line, e.message) for e in cast(Iterable[Any], schema.error_log)]


_NOT_BASE64 = (
    f"Element '{_BINARY_OBJECT}': the content is not a valid value of the atomic type 'xs:base64Binary'."
)


def _base64_errors(root: etree._Element, errors: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """An error for each ``cbc:EmbeddedDocumentBinaryObject`` whose text is not ``xs:base64Binary`` and that
    libxml2 did not report (on the element's line): libxml2 accepts some such text (``!!!!``, ``QUJ!`` a
    thousand times) that the schema, and Xerces at the receiving access point, refuse.

    Judged slice by slice (``is_xsd_base64``): no copy without blanks, nor a decoded one, of a large
    attachment. Every ``cac:Attachment`` may hold one (``DocumentReferenceType``: contract, line, ...
    document references), hence a walk of the tree (lxml's iterator, in C), which ``validate`` skips for
    documents whose bytes do not name the element.
    """
    found: list[tuple[int, str]] = []
    reported: set[int] | None = None
    for element in root.iter(_BINARY_OBJECT):
        text = (element.text or "") if not len(element) else string_value(element)
        if is_xsd_base64(text):
            continue
        del text  # an attachment-sized string: not held while the next element is judged
        if reported is None:
            prefix = f"Element '{_BINARY_OBJECT}'"
            reported = {line for line, message in errors if message.startswith(prefix)}
        line = cast(int | None, element.sourceline) or 0
        if line in reported:
            continue
        found.append((line, _NOT_BASE64))
    return found

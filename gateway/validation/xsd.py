"""The XSD layer: UBL 2.1 schemas compiled once with lxml, loaded through the ArtefactStore (verified)."""

from __future__ import annotations

import posixpath
import threading
from collections.abc import Callable, Iterable, Mapping
from html import escape
from typing import Any, cast

from lxml import etree

from gateway.errors import ArtefactError
from gateway.validation.report import XSD_RULE, Finding, Layer, Severity

# A virtual absolute base: libxml2 resolves relative schemaLocations against it, and the resolver maps
# the result back to a manifest path. No real file system path is ever opened by libxml2.
_BASE = "/artefact-store/"


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


class XSDLayer:
    """UBL 2.1 XSD validation for the document types of a rule set (Invoice, CreditNote).

    The main schemas are compiled as ONE schema (a wrapper importing each root's namespace), so the
    components they share (the UBL common library, about half a schema's 16 MiB) are held once.
    Roots that share a namespace (not the case in UBL) get a schema each.

    Args:
        roots: "{namespace} localname" -> manifest path of the main XSD.
        read: verified reader of manifest paths (``ArtefactStore.read``).
    """

    def __init__(self, roots: Mapping[str, str], read: Callable[[str], bytes]) -> None:
        self._schemas: dict[str, tuple[etree.XMLSchema, threading.Lock]] = {}
        namespaces = {key.split(" ", 1)[0]: path for key, path in roots.items()}
        if len(namespaces) == len(roots) > 1:
            # lxml keeps the error log on the schema object: one lock per schema keeps reports apart.
            shared = (_compile(_wrapper(namespaces), "roots.xsd", read), threading.Lock())
            self._schemas = dict.fromkeys(roots, shared)
        else:
            for key, path in roots.items():
                self._schemas[key] = (_compile(read(path), path, read), threading.Lock())

    @property
    def roots(self) -> tuple[str, ...]:
        """The accepted root elements as "{namespace} localname"."""
        return tuple(self._schemas)

    def schema(self, key: str) -> tuple[etree.XMLSchema, threading.Lock] | None:
        """The schema of the root element ``key`` ("{namespace} localname") and the lock its users hold;
        None for a root this rule set does not accept."""
        return self._schemas.get(key)

    def validate(self, root: etree._Element) -> list[Finding]:
        """Validate a parsed document; an unknown root element is one fatal finding."""
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
        schema, lock = entry
        with lock:
            if schema.validate(root):
                return []
            errors = [(e.line, e.message) for e in cast(Iterable[Any], schema.error_log)]
        return [Finding(XSD_RULE, Severity.FATAL, Layer.XSD, msg, f"line {line}") for line, msg in errors]

"""Hardened XML parsing: no DTD, no entities, no network, bounded size.

Every XML byte string that reaches the gateway from outside (API bodies, AS4 SOAP parts, decrypted
payloads, artefacts) goes through :func:`parse_xml`. The parser keeps comments, whitespace and
namespace prefixes exactly, because AS4 signature digests are computed over the document *as parsed*.
"""

from __future__ import annotations

from typing import Any, Final, TypeVar

from lxml import etree

from gateway.errors import XMLInputError
from gateway.xmlcore.start_tags import check_start_tags

#: Default upper bound for one XML document (bytes). Peppol invoices with embedded PDFs stay well below.
DEFAULT_MAX_XML_BYTES: Final = 50 * 1024 * 1024
#: A limit above this many bytes lifts libxml2's own limits (text nodes of 10 MB, depth 256): ``huge_tree``.
HUGE_TREE_ABOVE_BYTES: Final = 10_000_000


def parser_options(*, huge_tree: bool) -> dict[str, bool]:
    """The hardened parser's settings (no DTD, no entities, no network; comments, PIs and whitespace kept),
    for a parser of another kind (a pull parser) that must judge a document as :func:`parse_xml` does."""
    return {
        "resolve_entities": False,
        "no_network": True,
        "load_dtd": False,
        "dtd_validation": False,
        "huge_tree": huge_tree,
        "remove_blank_text": False,
        "remove_comments": False,
        "remove_pis": False,
        "collect_ids": False,
    }


class _NothingOutside(etree.Resolver):
    """Answers every external resource a document names with an empty text, so nothing is opened."""

    def resolve(self, system_url: str, public_id: str, context: Any = None) -> Any:  # the stubs lack context
        # resolve_string, not resolve_empty: lxml hands an "empty" answer back to libxml2's own loader.
        return self.resolve_string("", context, base_url=None)


_NOTHING_OUTSIDE: Final = _NothingOutside()
_Parser = TypeVar("_Parser", bound=etree.XMLParser)


def sealed(parser: _Parser) -> _Parser:
    """``parser`` opening no file a document names.

    ``load_dtd=False`` and ``no_network=True`` do not stop libxml2 from reading a local file named by a
    parameter entity of the internal subset (``<!DOCTYPE a [<!ENTITY % p SYSTEM "/dev/zero"> %p;]>``) when
    ``collect_ids`` is off: a sender could make the parse read ``/dev/zero`` for ever or wait on a FIFO,
    before the DTD is refused. Every parser of outside bytes is sealed; the DTD is then refused as before.
    """
    parser.resolvers.add(_NOTHING_OUTSIDE)
    return parser


def _new_parser(*, huge_tree: bool) -> etree.XMLParser:
    # A new parser per call: lxml parsers are not thread-safe, and the service parses from threads.
    return sealed(etree.XMLParser(**parser_options(huge_tree=huge_tree)))  # type: ignore[arg-type]


def parse_xml(data: bytes, *, max_bytes: int = DEFAULT_MAX_XML_BYTES, what: str = "XML") -> etree._Element:
    """Parse untrusted XML into an element tree, refusing anything dangerous.

    Args:
        data: the raw bytes (never a str: the declared encoding must be honoured).
        max_bytes: refuse larger input before parsing.
        what: a short name of the input used in error messages ("SOAP envelope", "invoice").

    Returns:
        The root element.

    Raises:
        XMLInputError: too large, not well-formed, or carrying a DTD / entity declaration.
        XMLLimitExceeded: an element with too many attributes, a namespace URI or name too long
            (``start_tags``), before the parse.
        XMLEncodingRefused: not in UTF-8 or another ASCII-compatible encoding (``encoding``), before it.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError("parse_xml takes bytes")
    data = bytes(data)
    if len(data) > max_bytes:
        raise XMLInputError(f"{what} is {len(data)} bytes, above the limit of {max_bytes}")
    if not data or data.isspace():  # not data.strip(): that copies the whole document
        raise XMLInputError(f"{what} is empty")
    check_start_tags(data, what=what)
    try:
        root = etree.fromstring(data, parser=_new_parser(huge_tree=max_bytes > HUGE_TREE_ABOVE_BYTES))
    except etree.XMLSyntaxError as exc:
        raise XMLInputError(f"{what} is not well-formed XML: {exc}") from exc
    except ValueError as exc:  # e.g. "Unicode strings with encoding declaration are not supported"
        raise XMLInputError(f"{what} cannot be parsed: {exc}") from exc
    tree = root.getroottree()
    docinfo: Any = tree.docinfo  # lxml-stubs lack DocInfo.doctype/internalDTD
    # A DTD (internal subset or external id) is refused outright: it is the vehicle of XXE and
    # entity-expansion attacks, and no Peppol document needs one.
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise XMLInputError(f"{what} carries a DTD, which is not allowed")
    for node in root.iter(etree.Entity):  # unresolved entity references left by resolve_entities=False
        raise XMLInputError(f"{what} references an entity ({node}), which is not allowed")
    return root

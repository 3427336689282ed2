"""Step 1 of ISO Schematron compilation: resolve ``sch:include`` (and ``sch:extends/@href``).

The caller supplies a ``load(href)`` callable, so this module does no file or network I/O itself.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from urllib.parse import urldefrag, urljoin

from lxml import etree

from gateway.errors import SchematronError, XMLInputError
from gateway.validation.schematron.namespaces import sch
from gateway.xmlcore import parse_xml

#: Returns the bytes of the file an include names (already resolved against the including file).
Loader = Callable[[str], bytes]

#: Includes nested deeper than this are taken for a cycle the href comparison could not see.
MAX_INCLUDE_DEPTH = 32


def resolve_href(base: str, href: str) -> str:
    """Resolve ``href`` against the location ``base`` of the including document.

    URLs (``scheme://``) resolve with RFC 3986 rules; plain paths with POSIX rules, normalised so
    that ``a/../b.sch`` and ``b.sch`` name the same file (cycle detection compares them).

    Args:
        base: location of the including document ("" for the top-level source).
        href: the ``@href`` value, without fragment.

    Returns:
        The resolved location, passed to the caller's ``load``.
    """
    if "://" in base or "://" in href:
        return urljoin(base, href)
    if posixpath.isabs(href):
        return posixpath.normpath(href)
    return posixpath.normpath(posixpath.join(posixpath.dirname(base), href))


def _load_element(
    href_attr: str, *, base: str, load: Loader | None, stack: tuple[str, ...]
) -> tuple[etree._Element, str]:
    """Load the element an ``href`` points at, its own includes resolved; return it and its location."""
    href, fragment = urldefrag(href_attr.strip())
    if not href:
        raise SchematronError("include/extends without a document href is not supported", where=href_attr)
    if load is None:
        raise SchematronError("the schema includes other files but no loader was given", where=href_attr)
    location = resolve_href(base, href)
    if location in stack or len(stack) >= MAX_INCLUDE_DEPTH:
        raise SchematronError("include cycle", where=" -> ".join((*stack, location)))
    try:
        data = load(location)
    except SchematronError:
        raise
    except Exception as exc:  # the caller's loader: OSError, KeyError, ArtefactError ...
        raise SchematronError(f"cannot load included file: {exc}", where=location) from exc
    try:
        root = parse_xml(data, what=f"Schematron include {location}")
    except XMLInputError as exc:
        raise SchematronError(str(exc), where=location) from exc
    resolve_includes(root, load=load, base=location, _stack=(*stack, location))
    if fragment:
        # ISO/IEC 19757-3 §5.4.4: "href" may point at an element by its id.
        matches = [el for el in root.iter() if isinstance(el.tag, str) and el.get("id") == fragment]
        if not matches:
            raise SchematronError(f"no element with id {fragment!r} in included file", where=location)
        root = matches[0]
    return root, location


def resolve_includes(
    root: etree._Element, *, load: Loader | None, base: str = "", _stack: tuple[str, ...] = ()
) -> None:
    """Replace, in place, every ``sch:include`` under ``root`` by the element it references.

    ``sch:extends`` with an ``@href`` (ISO 2016) is replaced by the children of the referenced
    element. Includes nest to any depth; hrefs resolve relative to the including file.

    Args:
        root: the Schematron element tree (modified in place).
        load: returns the bytes of a resolved href; ``None`` when the schema must be self-contained.
        base: location of ``root``'s document, for relative hrefs.
        _stack: locations being included (cycle detection); internal.

    Raises:
        SchematronError: no loader, a load failure, a malformed included file, a missing fragment
            or an include cycle.
    """
    for node in list(root.iter(sch("include"), sch("extends"))):
        href_attr = node.get("href")
        if node.tag == sch("extends") and href_attr is None:
            continue  # extends/@rule: handled with abstract rules
        if href_attr is None:
            raise SchematronError("sch:include without @href")
        parent = node.getparent()
        if parent is None:
            raise SchematronError("the document element cannot be an include", where=href_attr)
        included, location = _load_element(href_attr, base=base, load=load, stack=_stack or (base,))
        if included.tag == sch("schema"):
            raise SchematronError(
                "an include must reference a pattern, rule or other part, not a schema", where=location
            )
        index = parent.index(node)
        if node.tag == sch("include"):
            replacement = [included]
        else:
            replacement = [child for child in included if isinstance(child.tag, str)]
        tail = node.tail
        parent.remove(node)
        for offset, element in enumerate(replacement):
            parent.insert(index + offset, element)
        if replacement:
            replacement[-1].tail = tail

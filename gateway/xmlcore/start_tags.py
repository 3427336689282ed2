"""A bound on the attributes of one start tag, checked on the bytes before any parse.

libxml2 builds an element's whole start tag, every attribute and namespace declaration of it, before it
reports the element to a pull parser or a tree: the streamed paths (``gateway.ubl.sbd_stream``, the
streamed XSD check) drop finished elements, but not one that is still being read. One element carrying
very many attributes cost 30 to 58 times its bytes (``<Invoice a0='' a1='' ...>``, 17 MB: ≈ 1 GB), namespace
declarations ≈ 15 times, before any check could refuse it (BENCHMARKS.md, *Attributes per start tag*).

An attribute value cannot hold a raw ``<``, so a start tag with N attributes (namespace declarations
included) has N ``=`` each followed by a quoted value before the next ``<`` (libxml2 stops at the first
unquoted one). The scan looks for N of them after one ``<``, outside ``>``: a regular expression with
possessive quantifiers, which never backtracks, and whose attempt at a ``<`` stops at the tag's ``>``, so
a text (a large embedded attachment) is skipped by the search for the next ``<`` (20 MB: ≈ 7 ms). A UBL
element has a handful of attributes, an SBD root a few namespace declarations. The only false alarm: a
comment or processing instruction written like a start tag with more than ``MAX_ATTRIBUTES_PER_TAG``
attributes.

Each attribute the expression counts has its own ``=``, so bytes holding at most ``MAX_ATTRIBUTES_PER_TAG``
``=`` cannot match: they are let through after at most ``MAX_ATTRIBUTES_PER_TAG + 1`` searches for the
next ``=`` (``bytes.find``, memchr: a 20 MB base64 attachment in 0.3 ms, where the expression takes 17 ms and
``bytes.count`` 18 ms), which skips the expression for most documents (a received invoice, its SBD and
SOAP envelope; BENCHMARKS.md, *Receiver instructions per document*). A document with more ``=`` pays
those searches (≈ 20 us) on top of the expression.
"""

from __future__ import annotations

import re
from typing import Final

from gateway.errors import XMLLimitExceeded

#: The most attributes and namespace declarations one start tag may carry: the limit of the validation's
#: own XML parser (Saxon's JAXP, ``jdk.xml.elementAttributeLimit``: "Element "Invoice" has more than "200"
#: attributes"), so nothing a validation could pass is refused, and nothing above is parsed to fail there.
MAX_ATTRIBUTES_PER_TAG: Final = 200
_CROWDED_TAG: Final = re.compile(
    rb"""<[^<=>]*+(?:=\s*+(?:"[^"]*+"|'[^']*+')[^<=>]*+){%d}""" % (MAX_ATTRIBUTES_PER_TAG + 1)
)


def check_start_tags(data: bytes | bytearray | memoryview, *, what: str) -> None:
    """Refuse ``data`` if a start tag may carry more than ``MAX_ATTRIBUTES_PER_TAG`` attributes.

    Raises:
        XMLLimitExceeded: more than ``MAX_ATTRIBUTES_PER_TAG`` ``="..."`` follow one ``<`` before a ``>``.
    """
    if not isinstance(data, memoryview) and _few_equals_signs(data):
        return
    found = _CROWDED_TAG.search(data)
    if found is not None:
        raise XMLLimitExceeded(
            f"{what} has an element with more than {MAX_ATTRIBUTES_PER_TAG} attributes and namespace "
            f"declarations (at byte {found.start()}): the limit is {MAX_ATTRIBUTES_PER_TAG} per element "
            "(or a comment written like such a start tag)"
        )


def _few_equals_signs(data: bytes | bytearray) -> bool:
    """``data`` holds at most ``MAX_ATTRIBUTES_PER_TAG`` ``=``: then no start tag in it can hold more
    attributes. Stops at the one after that number."""
    at = -1
    for _ in range(MAX_ATTRIBUTES_PER_TAG + 1):
        at = data.find(b"=", at + 1)
        if at < 0:
            return True
    return False

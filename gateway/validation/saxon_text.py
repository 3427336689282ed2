"""The document text Saxon parses: the received bytes themselves when they say what the tree says.

Saxon reads text, never a path (bis-billing.md §3.3: file paths with blanks or parentheses fail as
"Invalid URI"). The text is either the lxml tree serialised again or, when nothing changed the tree
and the bytes are UTF-8 XML 1.0, the received bytes decoded: the same document for an XML parser, at
a twentieth of the cost (0.001 against 0.025 ms per official example). Either way Saxon never sees a
DTD: the hardened parse before it refuses one.
"""

from __future__ import annotations

from lxml import etree

_UTF8_BOM = b"\xef\xbb\xbf"


def saxon_text(root: etree._Element, received: bytes | None) -> str:
    """The text for Saxon's parse of the document whose parsed tree is ``root``.

    Args:
        root: the document's root element (hardened parse: no DTD, no entity references).
        received: the bytes ``root`` was parsed from, if the tree was not changed since; None when it
            was (e.g. attachments stubbed), so the text is the tree serialised.
    """
    if isinstance(received, bytes):  # a bytearray or memoryview takes the serialised tree
        text = received_text(received, root.getroottree().docinfo)
        if text is not None:
            return text
    return etree.tostring(root.getroottree(), encoding="unicode")


def received_text(received: bytes, docinfo: etree.DocInfo) -> str | None:
    """The received bytes decoded, if their declaration (``docinfo`` of their parse) says UTF-8 XML 1.0
    (and they decode); None otherwise (the caller serialises a tree instead)."""
    # Only UTF-8 XML 1.0: another encoding needs the declaration honoured (a str has none to
    # honour), and XML 1.1 reads some line ends and control characters differently from the
    # XML 1.0 lxml parsed.
    if docinfo.xml_version == "1.0" and (docinfo.encoding or "").upper() in ("UTF-8", "UTF8"):
        body = received[len(_UTF8_BOM) :] if received.startswith(_UTF8_BOM) else received
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError:
            pass  # lxml read it, so this should not happen; the tree's text is always right
    return None

"""Namespace URIs and qualified names shared by the Schematron compiler modules."""

from __future__ import annotations

from typing import Final

#: ISO Schematron (ISO/IEC 19757-3).
SCH_NS: Final = "http://purl.oclc.org/dsdl/schematron"
#: XSLT, for embedded ``xsl:function`` / ``xsl:key`` and the generated stylesheet.
XSL_NS: Final = "http://www.w3.org/1999/XSL/Transform"
#: Schematron Validation Report Language (ISO/IEC 19757-3 Annex D).
SVRL_NS: Final = "http://purl.oclc.org/dsdl/svrl"
#: XPath/XQuery error codes, bound in ``xsl:catch`` ($err:code, $err:description).
ERR_NS: Final = "http://www.w3.org/2005/xqt-errors"
#: Namespace of the helper functions the compiler adds to every stylesheet.
GW_NS: Final = "urn:x-peppol-gateway:schematron"
XS_NS: Final = "http://www.w3.org/2001/XMLSchema"


def sch(local: str) -> str:
    """Return the Clark name ``{SCH_NS}local`` of a Schematron element."""
    return f"{{{SCH_NS}}}{local}"


def xsl(local: str) -> str:
    """Return the Clark name ``{XSL_NS}local`` of an XSLT element."""
    return f"{{{XSL_NS}}}{local}"


def svrl(local: str) -> str:
    """Return the Clark name ``{SVRL_NS}local`` of an SVRL element."""
    return f"{{{SVRL_NS}}}{local}"

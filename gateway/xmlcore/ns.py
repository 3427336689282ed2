"""Namespace URIs used across UBL, SBDH, SOAP/ebMS3 and XML security."""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

#: prefix -> namespace URI. Read-only; use ``dict(NS)`` to extend for an XPath call.
NS: Final = MappingProxyType(
    {
        # UBL 2.1
        "inv": "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2",
        "cn": "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2",
        "ar": "urn:oasis:names:specification:ubl:schema:xsd:ApplicationResponse-2",
        "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
        "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
        "ext": "urn:oasis:names:specification:ubl:schema:xsd:CommonExtensionComponents-2",
        # Peppol envelope
        "sbdh": "http://www.unece.org/cefact/namespaces/StandardBusinessDocumentHeader",
        # SOAP 1.2, ebMS3, WS-Security, XML-DSig, XML-Enc
        "S12": "http://www.w3.org/2003/05/soap-envelope",
        "eb": "http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/",
        "ebbp": "http://docs.oasis-open.org/ebxml-bp/ebbp-signals-2.0",
        "wsse": "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd",
        "wsse11": "http://docs.oasis-open.org/wss/oasis-wss-wssecurity-secext-1.1.xsd",
        "wsu": "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd",
        "ds": "http://www.w3.org/2000/09/xmldsig#",
        "ec": "http://www.w3.org/2001/10/xml-exc-c14n#",
        "xenc": "http://www.w3.org/2001/04/xmlenc#",
        "xenc11": "http://www.w3.org/2009/xmlenc11#",
        # Schematron output
        "svrl": "http://purl.oclc.org/dsdl/svrl",
    }
)

"""Hardened XML plumbing shared by every layer that reads XML: parsing and namespace constants."""

from gateway.xmlcore.ns import NS
from gateway.xmlcore.parse import DEFAULT_MAX_XML_BYTES, parse_xml

__all__ = ["DEFAULT_MAX_XML_BYTES", "NS", "parse_xml"]

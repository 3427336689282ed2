"""Hardened XML plumbing shared by every layer that reads XML: parsing and namespace constants."""

from gateway.xmlcore.name_length import MAX_NAME_BYTES
from gateway.xmlcore.ns import NS
from gateway.xmlcore.parse import DEFAULT_MAX_XML_BYTES, parse_xml
from gateway.xmlcore.start_tags import MAX_ATTRIBUTES_PER_TAG, MAX_NAMESPACE_URI_BYTES, check_start_tags
from gateway.xmlcore.stream import (
    check_element,
    check_well_formed,
    declared_encoding,
    may_embed_binary,
    root_element_bytes,
    root_element_span,
    root_name,
    root_skeleton,
    top_level_element,
)
from gateway.xmlcore.string_value import string_value

__all__ = [
    "DEFAULT_MAX_XML_BYTES",
    "MAX_ATTRIBUTES_PER_TAG",
    "MAX_NAMESPACE_URI_BYTES",
    "MAX_NAME_BYTES",
    "NS",
    "check_element",
    "check_start_tags",
    "check_well_formed",
    "declared_encoding",
    "may_embed_binary",
    "parse_xml",
    "root_element_bytes",
    "root_element_span",
    "root_name",
    "root_skeleton",
    "string_value",
    "top_level_element",
]

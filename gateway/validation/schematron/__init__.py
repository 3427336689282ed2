"""The project's ISO Schematron compiler: ``.sch`` (with includes and abstract patterns) -> XSLT 3.0
that writes SVRL, run with saxonche; plus an SVRL reader. Sans-IO: includes come through ``load``.
"""

from gateway.validation.schematron.compiler import SUPPORTED_QUERY_BINDINGS, compile_schematron
from gateway.validation.schematron.include import Loader, resolve_href
from gateway.validation.schematron.svrl import RULE_ERROR_ID, SVRLFinding, parse_svrl

__all__ = [
    "RULE_ERROR_ID",
    "SUPPORTED_QUERY_BINDINGS",
    "Loader",
    "SVRLFinding",
    "compile_schematron",
    "parse_svrl",
    "resolve_href",
]

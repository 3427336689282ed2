"""Validation of UBL documents: XSD + CEN EN 16931 + Peppol BIS Billing rules from pinned official artefacts.

The Schematron compiler lives in the subpackage ``gateway.validation.schematron``.
"""

from gateway.validation.artefacts import ArtefactStore, Origin
from gateway.validation.compiled import cached_stylesheet
from gateway.validation.engine import CompiledRuleSet, Evaluation, LayerTimings, ValidationEngine
from gateway.validation.manifest import (
    DEFAULT_MANIFEST_PATH,
    DEFAULT_RULE_SET_ID,
    RULE_SETS,
    ArtefactFile,
    LayerKind,
    LayerSpec,
    Manifest,
    Package,
    RuleSet,
    load_manifest,
    parse_manifest,
    rule_set_for,
)
from gateway.validation.report import (
    RULE_ERROR,
    XSD_RULE,
    Finding,
    Layer,
    Severity,
    ValidationReport,
    ensure_valid,
)

__all__ = [
    "DEFAULT_MANIFEST_PATH",
    "DEFAULT_RULE_SET_ID",
    "RULE_ERROR",
    "RULE_SETS",
    "XSD_RULE",
    "ArtefactFile",
    "ArtefactStore",
    "CompiledRuleSet",
    "Evaluation",
    "Finding",
    "Layer",
    "LayerKind",
    "LayerSpec",
    "LayerTimings",
    "Manifest",
    "Origin",
    "Package",
    "RuleSet",
    "Severity",
    "ValidationEngine",
    "ValidationReport",
    "cached_stylesheet",
    "ensure_valid",
    "load_manifest",
    "parse_manifest",
    "rule_set_for",
]

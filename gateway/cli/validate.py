"""``gateway validate [--rules ID] [--json] FILE...``: validate UBL files with one engine built once."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

from gateway.bootstrap import build_artefact_store, build_validation_engine
from gateway.config import Settings
from gateway.errors import ArtefactError, XMLInputError
from gateway.validation import (
    Finding,
    Layer,
    Manifest,
    Severity,
    ValidationEngine,
    ValidationReport,
    rule_set_for,
)

#: Rule id of an issue that stands for an unreadable or non-XML input file.
INPUT_RULE = "XML"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``validate`` subcommand."""
    p = subparsers.add_parser(
        "validate",
        help="validate UBL invoices / credit notes (XSD + CEN + Peppol)",
        description="Validate UBL files. Exit code 0: all valid; 1: any invalid or unreadable; 2: usage.",
    )
    p.add_argument("files", nargs="+", metavar="FILE", type=Path, help="UBL XML files")
    p.add_argument(
        "--rules", metavar="ID", help="rule set id (default: settings, else the one in force today)"
    )
    p.add_argument("--json", action="store_true", help="one JSON line per file")
    p.set_defaults(func=run_validate)


def choose_rule_set(requested: str | None, settings: Settings, today: date, manifest: Manifest) -> str:
    """``--rules``, else GATEWAY_VALIDATION__RULE_SET, else ``manifest``'s rule set in force on ``today``."""
    return requested or settings.validation.rule_set or rule_set_for(today, manifest)


def input_problem(message: str) -> ValidationReport:
    """A report standing for a file that could not be read or parsed (never a traceback)."""
    return ValidationReport(
        rule_set="", findings=(Finding(INPUT_RULE, Severity.FATAL, Layer.XSD, message, ""),)
    )


def validate_file(engine: ValidationEngine, path: Path, rule_set: str) -> ValidationReport:
    """Validate one file; unreadable or non-XML input becomes an ``XML`` issue."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return input_problem(f"cannot read file: {exc.strerror or exc}")
    try:
        return engine.validate(data, rule_set=rule_set)
    except XMLInputError as exc:
        return input_problem(str(exc))


def line_for(path: Path, report: ValidationReport) -> dict[str, Any]:
    """The ``--json`` line of one file."""
    return {"file": str(path), "valid": report.valid, "issues": [f.to_dict() for f in report.findings]}


def _print_text(path: Path, report: ValidationReport) -> None:
    verdict = "valid" if report.valid else "INVALID"
    print(f"{path}: {verdict} ({len(report.fatal)} fatal, {len(report.warnings)} warnings)")
    for f in report.findings:
        where = f" at {f.location}" if f.location else ""
        print(f"  {f.severity.value:7} {f.layer.value:6} {f.rule}{where}: {f.message}")


def run_validate(args: argparse.Namespace, settings: Settings) -> int:
    """Validate every file in one process; print a verdict per file."""
    store = build_artefact_store(settings)
    try:
        rule_set = choose_rule_set(args.rules, settings, date.today(), store.manifest)
        store.manifest.rule_set(rule_set)
    except ArtefactError as exc:
        print(f"gateway validate: {exc}", file=sys.stderr)
        return 2
    engine = build_validation_engine(settings, store=store, rule_set=rule_set)
    all_valid = True
    for path in args.files:
        report = validate_file(engine, path, rule_set)
        all_valid = all_valid and report.valid
        if args.json:
            print(json.dumps(line_for(path, report), ensure_ascii=False), flush=True)
        else:
            _print_text(path, report)
    return 0 if all_valid else 1

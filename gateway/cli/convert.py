"""``gateway convert IN.json [-o OUT.xml]``: JSON document -> validated BIS Billing 3.0 UBL."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path

from gateway.bootstrap import build_validation_engine
from gateway.config import Settings
from gateway.errors import InvalidDocumentData
from gateway.services.conversion import convert_document, parse_document_json
from gateway.validation import rule_set_for


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("convert", help="convert a JSON invoice/credit note to validated UBL")
    p.add_argument("input", type=Path, metavar="IN.json")
    p.add_argument("-o", "--output", type=Path, metavar="OUT.xml", help="default: standard output")
    p.add_argument("--rules", metavar="ID", help="rule set id (default: the one in force today)")
    p.set_defaults(func=run_convert)


def run_convert(args: argparse.Namespace, settings: Settings) -> int:
    try:
        data = args.input.read_bytes()
    except OSError as exc:
        print(f"convert: cannot read {args.input}: {exc.strerror}", file=sys.stderr)
        return 2
    try:
        engine = build_validation_engine(settings)
        manifest = engine.store.manifest  # the configured one (GATEWAY_ARTEFACTS__MANIFEST)
        rule_set = args.rules or settings.validation.rule_set or rule_set_for(date.today(), manifest)
        result = convert_document(parse_document_json(data), engine=engine, rule_set=rule_set)
    except InvalidDocumentData as exc:
        print(
            json.dumps({"file": str(args.input), "valid": False, "errors": exc.problems}, ensure_ascii=False)
        )
        return 1
    if not result.report.valid:
        # Never hand out an invalid document: print the report instead of the UBL.
        report = {"file": str(args.input), **result.report.to_dict()}
        print(json.dumps(report, ensure_ascii=False))
        return 1
    if args.output:
        args.output.write_bytes(result.ubl)
        warnings = len(result.report.warnings)
        print(f"convert: wrote {args.output} (valid, {warnings} warning(s))", file=sys.stderr)
    else:
        sys.stdout.buffer.write(result.ubl)
    return 0

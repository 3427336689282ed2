"""``gateway reporting create --month YYYY-MM``: build, validate, store and queue the month's Peppol TSR and
EUSR (peppol-as4.md §11); the worker does the same by itself on days 2..15 of the next month."""

from __future__ import annotations

import argparse
import json

from gateway.bootstrap import build_services
from gateway.config import Settings
from gateway.errors import ConfigurationError
from gateway.model.report import ReportMonth


def _month(text: str) -> ReportMonth:
    try:
        return ReportMonth.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``reporting`` subcommand."""
    p = subparsers.add_parser(
        "reporting",
        help="Peppol reporting: monthly Transaction Statistics and End User Statistics reports",
        description="Create the TSR and EUSR of a month (idempotent: a stored report is kept).",
    )
    actions = p.add_subparsers(dest="reporting_command", metavar="ACTION", required=True)
    create = actions.add_parser("create", help="build, validate, store and queue the reports of a month")
    create.add_argument("--month", type=_month, required=True, metavar="YYYY-MM")
    create.set_defaults(func=run_create)


def run_create(args: argparse.Namespace, settings: Settings) -> int:
    services = build_services(settings)
    try:
        reporter = services.reporter
        if reporter is None:
            raise ConfigurationError("Peppol reporting needs our AP key (GATEWAY_KEYSTORE__...): the Seat ID")
        reports = reporter.create(args.month)
    finally:
        services.store.close()
    for report in reports:
        issues = report.validation_report.get("issues", [])
        fatal = [i["rule"] for i in issues if i.get("severity") == "fatal"]
        print(
            json.dumps(
                {
                    "id": report.id,
                    "month": str(report.month),
                    "kind": report.kind.value,
                    "status": report.status.value,
                    "outbound_document_id": report.outbound_document_id,
                    "fatal": fatal,
                }
            )
        )
    return 0 if all(r.status.value != "invalid" for r in reports) else 1

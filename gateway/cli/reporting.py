"""``gateway reporting create --month YYYY-MM``: build, validate, store and queue the month's Peppol TSR and
EUSR (peppol-as4.md §11); the worker does the same by itself on days 2..15 of the next month.

``--remake`` remakes the month's reports the network never took (stored ``invalid``, or whose delivery
ended ``failed`` or ``rejected``) and keeps the others; it refuses (exit 2) when none of them may be remade.
A kind whose remake failed (the database unavailable, ...) is named on stderr and makes the exit code 2,
after the reports remade are printed.
"""

from __future__ import annotations

import argparse
import json
import sys

from gateway.bootstrap import build_services
from gateway.config import Settings
from gateway.errors import ConfigurationError
from gateway.model.report import ReportKind, ReportMonth, StoredReport
from gateway.services.reporting import LAST_SENDING_DAY


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
        description="Create the TSR and EUSR of a month (idempotent: a stored report is kept), or remake"
        " those the network never took (--remake).",
    )
    actions = p.add_subparsers(dest="reporting_command", metavar="ACTION", required=True)
    create = actions.add_parser("create", help="build, validate, store and queue the reports of a month")
    create.add_argument("--month", type=_month, required=True, metavar="YYYY-MM")
    create.add_argument(
        "--remake",
        action="store_true",
        help="remake the month's reports stored invalid or whose delivery ended failed or rejected (a new"
        " outbound document; the failed one stays); refuse one stored and not sent by design, in flight or"
        " delivered",
    )
    create.add_argument(
        "--kind",
        type=ReportKind,
        choices=list(ReportKind),
        help="with --remake: only this report (default: both)",
    )
    create.set_defaults(func=run_create)


def run_create(args: argparse.Namespace, settings: Settings) -> int:
    if args.kind is not None and not args.remake:
        print("gateway: --kind goes with --remake", file=sys.stderr)
        return 2
    services = build_services(settings)
    failed = False
    try:
        reporter = services.reporter
        if reporter is None:
            raise ConfigurationError("Peppol reporting needs our AP key (GATEWAY_KEYSTORE__...): the Seat ID")
        if args.remake:
            kinds = (args.kind,) if args.kind is not None else tuple(ReportKind)
            outcome = reporter.remake_month(args.month, kinds)
            reports = outcome.remade
            for kind, reason in outcome.kept:
                print(f"gateway: kept the {kind.value.upper()}: {reason}", file=sys.stderr)
            for kind, error in outcome.failed:
                print(f"gateway: remaking the {kind.value.upper()} failed: {error}", file=sys.stderr)
            failed = bool(outcome.failed)
            if services.clock.now().date() > args.month.next().start.replace(day=LAST_SENDING_DAY):
                print(
                    f"gateway: warning: reports of {args.month} sent after day {LAST_SENDING_DAY} of the next"
                    " month are not processed by OpenPeppol",
                    file=sys.stderr,
                )
        else:
            reports = reporter.create(args.month)
    finally:
        services.store.close()
    for report in reports:
        print(json.dumps(_line(report)))
    if failed:
        return 2  # as a GatewayError is: the failed kind is left as it was, to be remade again
    return 0 if all(r.status.value != "invalid" for r in reports) else 1


def _line(report: StoredReport) -> dict[str, object]:
    issues = report.validation_report.get("issues", [])
    return {
        "id": report.id,
        "month": str(report.month),
        "kind": report.kind.value,
        "status": report.status.value,
        "outbound_document_id": report.outbound_document_id,
        "fatal": [i["rule"] for i in issues if i.get("severity") == "fatal"],
    }

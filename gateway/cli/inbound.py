"""``gateway inbound backfill-numbers``: store the numbers of the documents received before migration 0015
(``services.number_backfill``), once after the upgrade, while the gateway runs."""

from __future__ import annotations

import argparse

from gateway.bootstrap import build_store
from gateway.config import Settings
from gateway.services.number_backfill import DEFAULT_BATCH, BackfillOutcome, backfill_numbers


def _batch(text: str) -> int:
    try:
        value = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from exc
    if not 1 <= value <= 10_000:
        raise argparse.ArgumentTypeError("a batch is 1..10000 documents")
    return value


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``inbound`` subcommand."""
    p = subparsers.add_parser(
        "inbound",
        help="received documents: maintenance",
        description="Maintenance of the received documents.",
    )
    actions = p.add_subparsers(dest="inbound_command", metavar="ACTION", required=True)
    backfill = actions.add_parser(
        "backfill-numbers",
        help="store the number (BT-1, an Invoice Response's ID) of documents received before it was stored",
        description="Read the number of every received invoice, credit note, Invoice Response and MLS that"
        " has none stored (received before migration 0015) from its stored bytes, as far as the number only,"
        " and store it. Safe while the gateway runs and to run again.",
    )
    backfill.add_argument(
        "--batch",
        type=_batch,
        default=DEFAULT_BATCH,
        metavar="N",
        help=f"documents read before their numbers are written in one transaction (default {DEFAULT_BATCH})",
    )
    backfill.add_argument("--quiet", action="store_true", help="print the totals only")
    backfill.set_defaults(func=run_backfill)


def run_backfill(args: argparse.Namespace, settings: Settings) -> int:
    store = build_store(settings)

    def progress(so_far: BackfillOutcome) -> None:
        if not args.quiet:
            print(f"read {so_far.read}, numbered {so_far.filled}", flush=True)

    try:
        outcome = backfill_numbers(store, batch=args.batch, progress=progress)
    finally:
        store.close()
    print(
        f"{outcome.filled} received documents numbered; {outcome.read} read,"
        f" {outcome.without} with no number to read"
    )
    return 0

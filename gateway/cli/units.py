"""``gateway units import FILE`` and ``gateway units list``: the production units as data in the database."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from gateway.bootstrap import SystemClock, build_store
from gateway.config import Settings
from gateway.errors import ConfigurationError
from gateway.services.units import list_units, parse_units, save_units


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``units`` subcommand."""
    p = subparsers.add_parser(
        "units",
        help="production units (routing and approval of received invoices)",
        description="Import production units from CSV (code,name,active,members) or JSON, or list them.",
    )
    actions = p.add_subparsers(dest="units_command", metavar="ACTION", required=True)
    imp = actions.add_parser("import", help="create or replace the units of a .csv or .json file")
    imp.add_argument("file", type=Path, metavar="FILE")
    imp.set_defaults(func=run_import)
    show = actions.add_parser("list", help="print the units as JSON lines")
    show.set_defaults(func=run_list)


def run_import(args: argparse.Namespace, settings: Settings) -> int:
    path: Path = args.file
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"cannot read {path}: {exc.strerror}") from exc
    units = parse_units(data, filename=path.name)
    store = build_store(settings)
    try:
        count = save_units(store, units, clock=SystemClock())
    finally:
        store.close()
    print(f"{count} production units imported from {path}")
    return 0


def run_list(args: argparse.Namespace, settings: Settings) -> int:
    store = build_store(settings)
    try:
        for unit in list_units(store):
            print(
                json.dumps(
                    {
                        "code": unit.code,
                        "key": unit.key,
                        "name": unit.name,
                        "active": unit.active,
                        "members": list(unit.members),
                    },
                    ensure_ascii=False,
                )
            )
    finally:
        store.close()
    return 0

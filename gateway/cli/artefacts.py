"""``gateway artefacts list|verify``: show the pinned artefacts and where they resolve from; re-hash them."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date

from gateway.bootstrap import build_artefact_store
from gateway.config import Settings
from gateway.errors import ArtefactError
from gateway.validation import DEFAULT_RULE_SET_ID, ArtefactStore


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``artefacts list`` and ``artefacts verify``."""
    p = subparsers.add_parser(
        "artefacts", help="validation artefacts: list rule sets and files, verify checksums"
    )
    sub = p.add_subparsers(dest="artefacts_command", metavar="ACTION", required=True)
    p_list = sub.add_parser("list", help="rule sets, files, versions and where each resolves from")
    p_list.add_argument("--json", action="store_true", help="machine-readable output")
    p_list.set_defaults(func=run_list)
    p_verify = sub.add_parser(
        "verify", help="re-hash every pinned file (exit 1 on a mismatch or a missing file)"
    )
    p_verify.set_defaults(func=run_verify)


def _in_force(store: ArtefactStore, today: date) -> str | None:
    try:
        return store.manifest.rule_set_for(today).id
    except ArtefactError:
        return None


def _listing(store: ArtefactStore, today: date) -> dict[str, object]:
    manifest = store.manifest
    in_force = _in_force(store, today)
    rule_sets = []
    for rs in manifest.rule_sets.values():
        rule_sets.append(
            {
                "id": rs.id,
                "title": rs.title,
                "bis_release": rs.bis_release,
                "cen_release": rs.cen_release,
                "effective_from": rs.effective_from.isoformat(),
                "in_force_today": rs.id == in_force,
                "builtin_default": rs.id == DEFAULT_RULE_SET_ID,
                "layers": [{"layer": s.layer.value, "kind": s.kind.value, "main": s.main} for s in rs.layers],
                "files": [f.path for f in manifest.files_of(rs.id)],
            }
        )
    files = [
        {
            "path": f.path,
            "package": f.package,
            "version": manifest.packages[f.package].version,
            "sha256": f.sha256,
            "origin": store.origin(f.path).value,
            "url": f.url,
            "url_verified": f.url_verified,
        }
        for f in manifest.files.values()
    ]
    return {
        "mirror": str(store.mirror),
        "cache_dir": str(store.cache_dir),
        "rule_sets": rule_sets,
        "files": files,
    }


def run_list(args: argparse.Namespace, settings: Settings) -> int:
    """Print the rule sets and the files with their resolution origin."""
    store = build_artefact_store(settings)
    today = date.today()
    listing = _listing(store, today)
    in_force = _in_force(store, today)
    if args.json:
        print(json.dumps(listing, indent=2))
        return 0
    print(f"mirror: {listing['mirror']}\ncache:  {listing['cache_dir']}\n")
    print("rule sets:")
    for rs in store.manifest.rule_sets.values():
        flags = [
            flag
            for flag, on in (
                ("in force today", rs.id == in_force),
                ("built-in default", rs.id == DEFAULT_RULE_SET_ID),
            )
            if on
        ]
        suffix = f"  [{', '.join(flags)}]" if flags else ""
        print(f"  {rs.id:32} BIS {rs.bis_release:7} CEN {rs.cen_release:7} from {rs.effective_from}{suffix}")
        for spec in rs.layers:
            print(f"      {spec.layer.value:6} {spec.kind.value:10} {spec.main}")
    print("\nfiles:")
    for f in store.manifest.files.values():
        version = store.manifest.packages[f.package].version
        print(f"  {store.origin(f.path).value:7} {f.package:26} {version:10} {f.sha256[:12]}  {f.path}")
    return 0


def run_verify(args: argparse.Namespace, settings: Settings) -> int:
    """Re-hash every pinned file from its origin; exit 1 when any is missing or differs."""
    store = build_artefact_store(settings)
    problems = store.verify()
    total = len(store.manifest.files)
    for problem in problems:
        print(f"FAIL {problem}", file=sys.stderr)
    print(f"{total - len(problems)} of {total} artefact files verified (SHA-256)")
    return 1 if problems else 0

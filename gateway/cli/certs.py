"""``gateway certs dev-pki DIR``: write a throwaway development PKI (root -> AP CA -> POP000001, POP000002).

Never for production: see certs/README.md for configuring a Peppol-issued certificate.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from gateway.config import Settings
from gateway.crypto import DEV_PKCS12_PASSWORD, generate_dev_pki


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``certs dev-pki``."""
    p = subparsers.add_parser("certs", help="key and certificate tooling")
    sub = p.add_subparsers(dest="certs_command", metavar="ACTION", required=True)
    d = sub.add_parser("dev-pki", help="generate a throwaway development PKI (PEM + PKCS#12)")
    d.add_argument("dir", type=Path, metavar="DIR")
    d.add_argument("--seat-id", action="append", help="AP CN(s) (default POP000001 and POP000002)")
    d.add_argument(
        "--password", default=DEV_PKCS12_PASSWORD, help=f"PKCS#12 password (default {DEV_PKCS12_PASSWORD!r})"
    )
    d.add_argument("--force", action="store_true", help="overwrite existing files")
    d.set_defaults(func=run_certs_dev_pki)


def run_certs_dev_pki(args: argparse.Namespace, settings: Settings) -> int:
    """Generate and write the files; refuses to overwrite without --force (exit 2)."""
    seat_ids = tuple(args.seat_id or ("POP000001", "POP000002"))
    pki = generate_dev_pki(now=datetime.now(UTC), seat_ids=seat_ids)
    files = pki.files(args.password)
    existing = [n for n in files if (args.dir / n).exists()]
    if existing and not args.force:
        print(f"gateway: {args.dir} already holds {', '.join(existing)} (use --force)", file=sys.stderr)
        return 2
    pki.write(args.dir, args.password, overwrite=True)  # private keys: created 0600
    print(
        json.dumps(
            {
                "dir": str(args.dir),
                "files": sorted(files),
                "pkcs12_password": args.password,
                "trust": ["root.pem", "apca.pem"],
                "aps": {
                    cn: {"cert": f"{cn.lower()}.cert.pem", "key": f"{cn.lower()}.key.pem"} for cn in seat_ids
                },
            },
            indent=2,
        )
    )
    return 0

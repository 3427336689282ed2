"""``gateway archive export|verify``: the auditor's archive of a period (layout: ``services.archive``)."""

from __future__ import annotations

import argparse
import hashlib
import sys
from datetime import UTC, datetime
from pathlib import Path

from gateway import __version__
from gateway.bootstrap import SystemClock, build_store, load_identity
from gateway.cli.archive_export import export_archive
from gateway.config import Settings
from gateway.services.archive import MANIFEST, SUMS, ArchiveInfo, ArchivePeriod, verify
from gateway.services.archive_signature import SIGNATURE, SIGNER, SignatureCheck, check_signature
from gateway.store import SQLDocumentStore


def _moment(text: str) -> datetime:
    """An ISO date (midnight UTC) or date-time (UTC when naive)."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO date or date-time: {text!r}") from exc
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``archive`` subcommand."""
    p = subparsers.add_parser(
        "archive",
        help="export the evidence of a period as a self-describing folder, or verify one",
        description="export: UBL, AS4 messages, receipts, MLS, Invoice Responses, e-mails and status history "
        "of the documents created or received in [--since, --until), with a manifest of SHA-256 digests and "
        "a README; verify: recompute every digest (exit 1 on any difference).",
    )
    actions = p.add_subparsers(dest="archive_command", metavar="ACTION", required=True)
    export = actions.add_parser("export", help="write the archive of a period into DIR (new or empty)")
    export.add_argument("--since", type=_moment, required=True, help="ISO date or date-time (UTC), included")
    export.add_argument("--until", type=_moment, required=True, help="ISO date or date-time (UTC), excluded")
    export.add_argument("dir", type=Path, metavar="DIR")
    export.set_defaults(func=run_export)
    check = actions.add_parser("verify", help="check an archive folder against its manifest")
    check.add_argument("dir", type=Path, metavar="DIR")
    check.set_defaults(func=run_verify)


def run_export(args: argparse.Namespace, settings: Settings) -> int:
    """Write the archive; exit 0, or 2 for a bad period or a non-empty folder."""
    if args.until <= args.since:
        print("gateway archive export: --until must be after --since", file=sys.stderr)
        return 2
    folder: Path = args.dir
    if folder.exists() and any(folder.iterdir()):
        print(f"gateway archive export: {folder} is not empty", file=sys.stderr)
        return 2
    period = ArchivePeriod(args.since, args.until)
    signer = load_identity(settings)  # None without a keystore: the archive is then not signed
    store = build_store(settings)
    try:
        assert isinstance(store, SQLDocumentStore)
        info = ArchiveInfo(
            period, SystemClock().now(), settings.retention.evidence_years, f"peppol-gateway {__version__}"
        )
        summary = export_archive(store, folder, info, signer=signer)
    finally:
        store.close()
    signed = (
        f"signed by {signer.certificate.subject.rfc4514_string()}" if signer else "not signed (no keystore)"
    )
    print(
        f"{folder}: {summary.counts['outbound']} outbound and {summary.counts['inbound']} inbound documents, "
        f"{summary.files} files, {signed}"
    )
    return 0


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def run_verify(args: argparse.Namespace, settings: Settings) -> int:
    """Verify the archive; exit 0 when intact, 1 with one line per problem otherwise."""
    folder: Path = args.dir
    manifest_file, sums_file = folder / MANIFEST, folder / SUMS
    if not manifest_file.is_file() or not sums_file.is_file():
        print(f"{folder}: not an archive ({MANIFEST} or {SUMS} missing)", file=sys.stderr)
        return 1
    digests = {p.relative_to(folder).as_posix(): _sha256(p) for p in sorted(folder.rglob("*")) if p.is_file()}
    problems = verify(manifest_file.read_bytes(), sums_file.read_bytes(), digests)
    signed = _signature(folder, bytes.fromhex(digests[SUMS]))
    if signed.problem is not None:
        problems.append(signed.problem)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        return 1
    signature = f"signed by {signed.signer}" if signed.signer else "not signed"
    print(f"{folder}: intact ({len(digests)} files), {signature}")
    return 0


def _signature(folder: Path, sums_sha256: bytes) -> SignatureCheck:
    """The check of the archive's signature; no problem and no signer when it has none."""
    signature, signer = folder / SIGNATURE, folder / SIGNER
    if not signature.is_file() and not signer.is_file():
        return SignatureCheck(None)
    if not signature.is_file() or not signer.is_file():
        return SignatureCheck(f"{SIGNATURE} and {SIGNER} go together: one is missing")
    return check_signature(sums_sha256, signature.read_bytes(), signer.read_bytes())

"""The auditor's archive (sans-IO part): what goes in it, its manifest, its README, and its verification.

An archive is a plain folder that needs no gateway to read (``gateway archive export``):

* ``outbound/<document id>/`` and ``inbound/<document id>/``: ``document.xml`` (the UBL exactly as sent or
  received: invoices, credit notes, Invoice Responses, MLS), ``record.json`` (metadata, validation report,
  status history, the list of messages), and ``messages/``: each AS4 message exactly as exchanged
  (``NN-request.http``: header fields, blank line, body), each signal that answered it (``NN-signal-MM-
  receipt.http`` / ``-error.http``), and a fallback e-mail as sent (``NN-email.eml``);
* ``manifest.json``: the period, when and by what it was written, the legal retention, and the SHA-256 and
  size of every other file; ``SHA256SUMS``: the same digests for ``sha256sum -c`` (manifest included);
  both list the files in the order they were written (outbound, inbound, the README), so the exporter
  writes them file by file (:func:`manifest_frame`, :func:`manifest_entry`, :func:`sums_line`);
* ``README.txt``: this layout in plain words, for the auditor;
* when the gateway has its AP key, ``SHA256SUMS.sig`` and ``SHA256SUMS.pem``: ``SHA256SUMS`` signed with it
  (:mod:`gateway.services.archive_signature`), outside the manifest.

``verify`` recomputes what the manifest claims: a changed, missing or added file is reported.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from gateway.services.archive_signature import SIGNATURE, SIGNER

FORMAT: Final = "peppol-gateway-archive/1"
MANIFEST: Final = "manifest.json"
SUMS: Final = "SHA256SUMS"
README: Final = "README.txt"


def sha256_hex(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True, slots=True)
class FileDigest:
    """What the manifest records of one file: its SHA-256 (hex) and size."""

    sha256: str
    size: int

    @classmethod
    def of(cls, data: bytes) -> FileDigest:
        return cls(sha256_hex(data), len(data))


@dataclass(frozen=True, slots=True)
class ArchivePeriod:
    """The half-open period ``[since, until)`` of documents created (outbound) or received (inbound)."""

    since: datetime
    until: datetime


def http_message(headers: list[tuple[str, str]] | tuple[tuple[str, str], ...], body: bytes) -> bytes:
    """An exchanged message as a file: header fields (wire order), a blank line, the body bytes as is."""
    head = "".join(f"{name}: {value}\r\n" for name, value in headers)
    return head.encode("utf-8") + b"\r\n" + body


def json_file(value: Any) -> bytes:
    """Stable, readable JSON (sorted keys, UTF-8)."""
    return (json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n").encode(
        "utf-8"
    )


def readme(period: ArchivePeriod, retention_years: int, counts: Mapping[str, int]) -> bytes:
    """The auditor's README."""
    text = f"""Archive of the cooperative's Peppol access point
=================================================

Period: documents created (sent) or received from {period.since.isoformat()} up to, not including,
{period.until.isoformat()} (UTC).
Outbound documents: {counts.get("outbound", 0)}; inbound: {counts.get("inbound", 0)}.
Legal retention: {retention_years} years (Belgian VAT code, art. 60 §3, invoices from 2023).

Layout
  outbound/<id>/document.xml   the UBL document exactly as sent (invoice, credit note, Invoice Response,
                               MLS)
  outbound/<id>/record.json    sender, receiver, document type, status, status history, validation report
                               (receiver EM:<address>: a buyer without any Peppol id, e-mailed only)
  outbound/<id>/messages/      NN-request.http: the AS4 message exactly as sent (header fields, blank
                               line, MIME body); NN-signal-MM-receipt.http / -error.http: every signed
                               answer; NN-email.eml: the e-mail sent when the buyer was not on Peppol
  inbound/<id>/...             the same for documents received (the signals are the receipts we sent)
  manifest.json                the SHA-256 and size of every other file
  SHA256SUMS                   the same digests (manifest.json included) for: sha256sum -c SHA256SUMS
  SHA256SUMS.sig, .pem         when present: SHA256SUMS signed by the access point's key (RSA, SHA-256),
                               and the access point's certificate followed by its CA certificates

Checking it without the gateway: run `sha256sum -c SHA256SUMS` in this folder, and compare the digests in
manifest.json. The signature, when present:
  openssl x509 -in SHA256SUMS.pem -pubkey -noout > ap-key.pem
  openssl dgst -sha256 -verify ap-key.pem -signature SHA256SUMS.sig SHA256SUMS
and check that SHA256SUMS.pem is the cooperative's access point certificate (Peppol AP CA). The AS4
messages are signed (XML-DSig, WS-Security) and encrypted to the receiver; the receipts are signed by
the other access point. `gateway archive verify <folder>` checks the digests and the signature.
"""
    return text.encode("utf-8")


@dataclass(frozen=True, slots=True)
class ArchiveInfo:
    """What the manifest says of the archive as a whole: its period, when and by what it was written, and
    the legal retention."""

    period: ArchivePeriod
    created_at: datetime
    retention_years: int
    generator: str


def manifest_frame(info: ArchiveInfo) -> tuple[bytes, bytes]:
    """The manifest's text before and after its file entries (:func:`manifest_entry`, written in between).

    Head, the entries joined by ``,`` and tail together are the ``json_file`` of the whole manifest, so it
    can be written file by file without holding the list of files.
    """
    marker = "\x00files\x00"
    text = json_file(
        {
            "format": FORMAT,
            "generator": info.generator,
            "created_at": info.created_at.isoformat(),
            "period": {"since": info.period.since.isoformat(), "until": info.period.until.isoformat()},
            "retention_years": info.retention_years,
            "files": {marker: None},
        }
    )
    head, _, tail = text.partition(b"\n    " + json.dumps(marker).encode("ascii") + b": null")
    return head, tail


def manifest_entry(path: str, digest: FileDigest, *, first: bool) -> bytes:
    """One file's entry in the manifest (``first``: the first entry, no separating comma)."""
    entry = json.dumps({"bytes": digest.size, "sha256": digest.sha256}, indent=2, sort_keys=True)
    name = json.dumps(path, ensure_ascii=False)
    text = f"{'' if first else ','}\n    {name}: {entry.replace(chr(10), chr(10) + '    ')}"
    return text.encode("utf-8")


def sums_line(path: str, digest: FileDigest) -> bytes:
    """One line of ``SHA256SUMS`` (``sha256sum`` format: two spaces, text mode)."""
    return f"{digest.sha256}  {path}\n".encode()


def verify(manifest_bytes: bytes, sums_bytes: bytes, digests: Mapping[str, str]) -> list[str]:
    """Check an archive: ``digests`` maps every file found (relative path, ``/``-separated) to its SHA-256.

    Returns:
        The problems found, one sentence each; empty when the archive is intact.
    """
    problems: list[str] = []
    try:
        claimed = json.loads(manifest_bytes)
        files = claimed["files"]
        if claimed.get("format") != FORMAT:
            problems.append(f"{MANIFEST}: unknown format {claimed.get('format')!r}")
    except (ValueError, KeyError, TypeError) as exc:
        return [f"{MANIFEST}: unreadable ({exc})"]
    for path, entry in sorted(files.items()):
        found = digests.get(path)
        if found is None:
            problems.append(f"{path}: missing")
        elif found != entry.get("sha256"):
            problems.append(f"{path}: SHA-256 {found} differs from the manifest's {entry.get('sha256')}")
    for path in sorted(set(digests) - set(files) - {MANIFEST, SUMS, SIGNATURE, SIGNER}):
        problems.append(f"{path}: not in the manifest")
    listed: dict[str, str] = {}
    for line in sums_bytes.decode("utf-8", "replace").splitlines():
        digest, _, path = line.partition("  ")
        listed[path] = digest
    if set(listed) != set(files) | {MANIFEST}:
        problems.append(f"{SUMS}: does not list exactly the manifest's files and the manifest")
    for path, digest in sorted(listed.items()):
        if path in digests and digests[path] != digest:
            problems.append(f"{path}: SHA-256 differs from {SUMS}")
    return problems

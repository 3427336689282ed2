"""The archive manifest written file by file is exactly the JSON of the whole manifest, and verifies."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from gateway.services.archive import (
    FORMAT,
    MANIFEST,
    SUMS,
    ArchiveInfo,
    ArchivePeriod,
    FileDigest,
    json_file,
    manifest_entry,
    manifest_frame,
    sha256_hex,
    sums_line,
    verify,
)

PERIOD = ArchivePeriod(datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
CREATED = datetime(2027, 1, 2, 3, 4, 5, tzinfo=UTC)
FILES = {
    "outbound/d-1/document.xml": b"<Invoice/>",
    "outbound/d-1/record.json": b"{}\n",
    'inbound/caf\u00e9 "quoted"\\/document.xml': b"",  # non-ASCII, quote and backslash in a name
    "README.txt": b"read me\n",
}


def _streamed(files: dict[str, bytes] = FILES) -> tuple[bytes, bytes]:
    head, tail = manifest_frame(ArchiveInfo(PERIOD, CREATED, 10, "g 1.0"))
    entries = [
        manifest_entry(path, FileDigest.of(data), first=n == 0)
        for n, (path, data) in enumerate(files.items())
    ]
    manifest = head + b"".join(entries) + tail
    sums = b"".join(sums_line(path, FileDigest.of(data)) for path, data in files.items())
    return manifest, sums + sums_line(MANIFEST, FileDigest.of(manifest))


def test_streamed_manifest_is_the_json_of_the_whole_manifest() -> None:
    manifest, _ = _streamed()
    whole = {
        "format": FORMAT,
        "generator": "g 1.0",
        "created_at": CREATED.isoformat(),
        "period": {"since": PERIOD.since.isoformat(), "until": PERIOD.until.isoformat()},
        "retention_years": 10,
        "files": {path: {"sha256": sha256_hex(data), "bytes": len(data)} for path, data in FILES.items()},
    }
    assert json.loads(manifest) == whole
    # The files are listed in the order written; written in sorted order, the manifest is byte for byte
    # the one json_file makes of the whole (sorted keys, indented, UTF-8).
    assert list(json.loads(manifest)["files"]) == list(FILES)
    assert _streamed(dict(sorted(FILES.items())))[0] == json_file(whole)


def test_streamed_manifest_and_sums_verify() -> None:
    manifest, sums = _streamed()
    digests = {path: sha256_hex(data) for path, data in FILES.items()}
    digests[MANIFEST], digests[SUMS] = sha256_hex(manifest), sha256_hex(sums)
    assert verify(manifest, sums, digests) == []
    changed = dict(digests, **{"outbound/d-1/document.xml": sha256_hex(b"<Invoice>")})
    assert verify(manifest, sums, changed) == [
        "outbound/d-1/document.xml: SHA-256 "
        f"{sha256_hex(b'<Invoice>')} differs from the manifest's {sha256_hex(b'<Invoice/>')}",
        f"outbound/d-1/document.xml: SHA-256 differs from {SUMS}",
    ]

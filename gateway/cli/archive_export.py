"""Writes the auditor's archive of a period into a folder, file by file (layout: ``services.archive``).

Each file is written as the store hands it over, and its manifest entry and ``SHA256SUMS`` line are
appended at once, so memory is bounded by one document whatever the period holds. The manifest and
``SHA256SUMS`` are written under temporary names and get their final names only when the archive is
complete: a failed export leaves no manifest, and ``gateway archive verify`` refuses the folder. With the
AP key, ``SHA256SUMS`` is signed last (from its digest, computed while it was written).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from types import TracebackType
from typing import BinaryIO, Final, Self

from gateway.crypto import KeyMaterial
from gateway.services.archive import (
    MANIFEST,
    README,
    SUMS,
    ArchiveInfo,
    FileDigest,
    manifest_entry,
    manifest_frame,
    readme,
    sums_line,
)
from gateway.services.archive_signature import SIGNATURE, SIGNER, sign_sums
from gateway.store.archive import PAGE_SIZE, archived_documents
from gateway.store.sql import SQLDocumentStore

_PARTIAL: Final = ".partial"


class ArchiveWriter:
    """An archive folder being written: :meth:`add` each file, then leave the ``with`` block to finish it."""

    def __init__(self, folder: Path, info: ArchiveInfo, *, signer: KeyMaterial | None = None) -> None:
        self.folder = folder
        self.files = 0
        self._signer = signer
        self._sums_digest = hashlib.sha256()
        head, self._tail = manifest_frame(info)
        folder.mkdir(parents=True, exist_ok=True)
        self._manifest: BinaryIO = (folder / (MANIFEST + _PARTIAL)).open("xb")
        self._sums: BinaryIO = (folder / (SUMS + _PARTIAL)).open("xb")
        self._manifest_digest = hashlib.sha256()
        self._manifest_size = 0
        self._write_manifest(head)

    def _write_manifest(self, chunk: bytes) -> None:
        self._manifest.write(chunk)
        self._manifest_digest.update(chunk)
        self._manifest_size += len(chunk)

    def _target(self, relative: str) -> Path:
        path = PurePosixPath(relative)
        if (
            path.is_absolute()
            or any(part in ("", ".", "..") for part in relative.split("/"))
            or relative in (MANIFEST, SUMS)
            or relative.endswith(_PARTIAL)
        ):
            raise ValueError(f"not a file name inside the archive: {relative!r}")
        return self.folder.joinpath(*path.parts)

    def add(self, relative: str, data: bytes) -> None:
        """Write one file (a new one: never overwritten) and record its digest."""
        target = self._target(relative)
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("xb") as stream:
            stream.write(data)
        digest = FileDigest.of(data)
        self._write_manifest(manifest_entry(relative, digest, first=self.files == 0))
        self._write_sums(sums_line(relative, digest))
        self.files += 1

    def _write_sums(self, line: bytes) -> None:
        self._sums.write(line)
        self._sums_digest.update(line)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is not None:
            self._manifest.close()
            self._sums.close()
            (self.folder / (MANIFEST + _PARTIAL)).unlink(missing_ok=True)
            (self.folder / (SUMS + _PARTIAL)).unlink(missing_ok=True)
            return
        self._write_manifest(self._tail)
        self._manifest.close()
        manifest = FileDigest(self._manifest_digest.hexdigest(), self._manifest_size)
        self._write_sums(sums_line(MANIFEST, manifest))
        self._sums.close()
        if self._signer is not None:
            signature, chain = sign_sums(self._signer, self._sums_digest.digest())
            (self.folder / SIGNATURE).write_bytes(signature)
            (self.folder / SIGNER).write_bytes(chain)
            self.files += 2
        (self.folder / (MANIFEST + _PARTIAL)).replace(self.folder / MANIFEST)
        (self.folder / (SUMS + _PARTIAL)).replace(self.folder / SUMS)
        self.files += 2


@dataclass(slots=True)
class ExportSummary:
    """What an export wrote: documents per direction and files (manifest and SHA256SUMS included)."""

    counts: dict[str, int] = field(default_factory=lambda: {"outbound": 0, "inbound": 0})
    files: int = 0


def export_archive(
    store: SQLDocumentStore,
    folder: Path,
    info: ArchiveInfo,
    *,
    signer: KeyMaterial | None = None,
    page_size: int = PAGE_SIZE,
) -> ExportSummary:
    """Write the archive of ``info.period`` into ``folder`` (which should be new or empty), its
    ``SHA256SUMS`` signed with ``signer`` when given (``services.archive_signature``).

    Raises:
        StoreError: the store failed (the folder then holds no manifest).
        OSError: a file could not be written.
    """
    summary = ExportSummary()
    with ArchiveWriter(folder, info, signer=signer) as writer:
        for document in archived_documents(store, info.period, page_size=page_size):
            for relative, data in document.files:
                writer.add(relative, data)
            summary.counts[document.folder] += 1
            del document  # not held while the next one is read
        writer.add(README, readme(info.period, info.retention_years, summary.counts))
    summary.files = writer.files
    return summary

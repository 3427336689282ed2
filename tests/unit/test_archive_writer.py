"""The archive writer: files stay inside the folder, and an export that fails leaves no manifest."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.cli.archive_export import ArchiveWriter
from gateway.services.archive import MANIFEST, SUMS, ArchiveInfo, ArchivePeriod

PERIOD = ArchivePeriod(datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))


def _writer(folder: Path) -> ArchiveWriter:
    return ArchiveWriter(folder, ArchiveInfo(PERIOD, PERIOD.until, 10, "t"))


@pytest.mark.parametrize(
    "name", ["../outside", "/etc/passwd", "a//b", "a/./b", MANIFEST, SUMS, "x.partial", "outbound/.."]
)
def test_a_name_outside_the_archive_or_of_its_manifest_is_refused(tmp_path: Path, name: str) -> None:
    with _writer(tmp_path / "archive") as writer, pytest.raises(ValueError, match="inside the archive"):
        writer.add(name, b"x")
    assert not (tmp_path / "outside").exists()


def test_a_failed_export_leaves_no_manifest(tmp_path: Path) -> None:
    folder = tmp_path / "archive"

    def export() -> None:
        with _writer(folder) as writer:
            writer.add("outbound/d/document.xml", b"<Invoice/>")
            raise RuntimeError("store lost")

    with pytest.raises(RuntimeError):
        export()
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()) == [
        "outbound/d/document.xml"
    ]


def test_a_finished_archive_has_its_manifest_and_sums(tmp_path: Path) -> None:
    folder = tmp_path / "archive"
    with _writer(folder) as writer:
        writer.add("outbound/d/document.xml", b"<Invoice/>")
    assert writer.files == 3
    assert (folder / SUMS).read_text().splitlines()[-1].endswith(f"  {MANIFEST}")

"""ArtefactStore: mirror -> cache -> fetch, SHA-256 always checked, atomic cache writes."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from gateway.errors import ArtefactError
from gateway.validation import ArtefactStore, Manifest, Origin, parse_manifest

GOOD = b"<schema/>\n"
PATH = "pkg-1/dir/file.xsd"
URL = "https://example.invalid/pkg-1/dir/file.xsd"


def _manifest(data: bytes = GOOD) -> Manifest:
    return parse_manifest(
        json.dumps(
            {
                "packages": {"pkg-1": {"title": "t", "version": "1", "upstream": "u"}},
                "files": [
                    {
                        "path": PATH,
                        "package": "pkg-1",
                        "sha256": hashlib.sha256(data).hexdigest(),
                        "size": len(data),
                        "url": URL,
                    }
                ],
                "rule_sets": [],
            }
        )
    )


class FakeFetch:
    def __init__(self, payload: bytes | Exception) -> None:
        self.payload = payload
        self.calls: list[str] = []

    def __call__(self, url: str) -> bytes:
        self.calls.append(url)
        if isinstance(self.payload, Exception):
            raise self.payload
        return self.payload


def _store(mirror: Path | None, cache: Path | None, fetch: FakeFetch | None = None) -> ArtefactStore:
    return ArtefactStore(manifest=_manifest(), mirror=mirror, cache_dir=cache, fetch=fetch)


def _put(base: Path, data: bytes) -> None:
    (base / PATH).parent.mkdir(parents=True, exist_ok=True)
    (base / PATH).write_bytes(data)


def test_mirror_first(tmp_path: Path) -> None:
    mirror, cache = tmp_path / "m", tmp_path / "c"
    _put(mirror, GOOD)
    _put(cache, b"corrupt")
    fetch = FakeFetch(GOOD)
    store = _store(mirror, cache, fetch)
    assert store.origin(PATH) is Origin.MIRROR
    assert store.read(PATH) == GOOD
    assert fetch.calls == []


def test_mirror_mismatch_names_file_expected_and_actual(tmp_path: Path) -> None:
    _put(tmp_path, b"tampered")
    with pytest.raises(ArtefactError) as info:
        _store(tmp_path, None).read(PATH)
    message = str(info.value)
    assert PATH in message
    assert hashlib.sha256(GOOD).hexdigest() in message
    assert hashlib.sha256(b"tampered").hexdigest() in message


def test_cache_second(tmp_path: Path) -> None:
    _put(tmp_path, GOOD)
    fetch = FakeFetch(b"never")
    store = _store(tmp_path / "no-mirror", tmp_path, fetch)
    assert store.origin(PATH) is Origin.CACHE
    assert store.read(PATH) == GOOD
    assert fetch.calls == []


def test_fetch_last_verifies_and_writes_the_cache_atomically(tmp_path: Path) -> None:
    fetch = FakeFetch(GOOD)
    store = _store(None, tmp_path, fetch)
    assert store.origin(PATH) is Origin.FETCH
    assert store.read(PATH) == GOOD
    assert store.read(PATH) == GOOD  # memoised: one download
    assert fetch.calls == [URL]
    assert (tmp_path / PATH).read_bytes() == GOOD
    assert [p.name for p in (tmp_path / PATH).parent.iterdir()] == ["file.xsd"]  # no temp files left


def test_fetched_bytes_with_a_wrong_checksum_are_refused_and_not_cached(tmp_path: Path) -> None:
    store = _store(None, tmp_path, FakeFetch(b"evil"))
    with pytest.raises(ArtefactError, match="SHA-256 mismatch"):
        store.read(PATH)
    assert not (tmp_path / PATH).exists()


def test_corrupt_cache_entry_is_refetched(tmp_path: Path) -> None:
    _put(tmp_path, b"half-written")
    fetch = FakeFetch(GOOD)
    assert _store(None, tmp_path, fetch).read(PATH) == GOOD
    assert fetch.calls == [URL]
    assert (tmp_path / PATH).read_bytes() == GOOD


def test_corrupt_cache_entry_without_fetch_is_an_error(tmp_path: Path) -> None:
    _put(tmp_path, b"half-written")
    with pytest.raises(ArtefactError, match="SHA-256 mismatch"):
        _store(None, tmp_path).read(PATH)


def test_missing_everywhere(tmp_path: Path) -> None:
    store = _store(tmp_path / "m", tmp_path / "c")
    assert store.origin(PATH) is Origin.MISSING
    with pytest.raises(ArtefactError, match="not found"):
        store.read(PATH)


def test_fetch_failure_is_wrapped(tmp_path: Path) -> None:
    with pytest.raises(ArtefactError, match="boom") as info:
        _store(None, tmp_path, FakeFetch(OSError("boom"))).read(PATH)
    assert isinstance(info.value.__cause__, OSError)


def test_unpinned_path_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ArtefactError, match="not pinned"):
        _store(tmp_path, None).read("other/file.xsd")


def test_verify_reports_each_problem(tmp_path: Path) -> None:
    _put(tmp_path, b"tampered")
    problems = _store(tmp_path, None).verify()
    assert len(problems) == 1
    assert "SHA-256 mismatch" in problems[0]
    _put(tmp_path, GOOD)
    assert _store(tmp_path, None).verify() == []


def test_the_artefact_cache_module_is_named_after_what_it_holds() -> None:
    # ``gateway.validation.store`` shared its name with the database package ``gateway.store``.
    assert ArtefactStore.__module__ == "gateway.validation.artefacts"

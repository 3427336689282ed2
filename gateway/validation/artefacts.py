"""ArtefactStore: resolves pinned artefact files from a mirror, a cache or an injected fetcher.

Order: mirror directory -> cache directory -> ``fetch(url)`` (then written to the cache atomically).
Every byte string is checked against the manifest's SHA-256, whatever its origin. The store does no
network I/O itself: the HTTP adapter lives in gateway/transport and is passed in as ``fetch``.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path

from gateway.errors import ArtefactError
from gateway.validation.manifest import ArtefactFile, Manifest, load_manifest

Fetch = Callable[[str], bytes]


class Origin(StrEnum):
    """Where a file resolves from."""

    MIRROR = "mirror"
    CACHE = "cache"
    FETCH = "fetch"
    MISSING = "missing"


def sha256_hex(data: bytes) -> str:
    """Return the lower-case hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same directory and ``os.replace``.

    Readers never see a half-written file, and concurrent writers of the same content are harmless.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class ArtefactStore:
    """Resolves and verifies the files pinned in the manifest.

    Args:
        manifest: the parsed manifest.
        mirror: a read-only directory with the upstream layout (../shared/artefacts), or None.
        cache_dir: a writable directory for fetched files and compiled stylesheets, or None.
        fetch: ``fetch(url) -> bytes`` used when a file is neither in the mirror nor the cache.
    """

    def __init__(
        self,
        *,
        manifest: Manifest,
        mirror: Path | None,
        cache_dir: Path | None,
        fetch: Fetch | None = None,
    ) -> None:
        self.manifest = manifest
        self.mirror = mirror
        self.cache_dir = cache_dir
        self._fetch = fetch
        self._loaded: dict[str, bytes] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_paths(
        cls,
        *,
        mirror: Path | None,
        cache_dir: Path | None,
        fetch: Fetch | None = None,
        manifest_path: Path | None = None,
    ) -> ArtefactStore:
        """Build a store over the project manifest (schemas/ubl/manifest.json) or ``manifest_path``."""
        return cls(manifest=load_manifest(manifest_path), mirror=mirror, cache_dir=cache_dir, fetch=fetch)

    # -- resolution --------------------------------------------------------------------------------

    def origin(self, path: str) -> Origin:
        """Say where ``path`` would resolve from now (no checksum check)."""
        self.manifest.file(path)
        if self.mirror is not None and (self.mirror / path).is_file():
            return Origin.MIRROR
        if self.cache_dir is not None and (self.cache_dir / path).is_file():
            return Origin.CACHE
        entry = self.manifest.file(path)
        return Origin.FETCH if self._fetch is not None and entry.url else Origin.MISSING

    def local_path(self, path: str) -> Path | None:
        """Return the on-disk file ``path`` resolves to (mirror or cache), if any."""
        for base in (self.mirror, self.cache_dir):
            if base is not None and (base / path).is_file():
                return base / path
        return None

    def read(self, path: str) -> bytes:
        """Return the verified bytes of the pinned file ``path`` (memoised per store).

        Raises:
            ArtefactError: not pinned, not found anywhere, not fetchable, or SHA-256 mismatch.
        """
        with self._lock:
            cached = self._loaded.get(path)
        if cached is not None:
            return cached
        data = self._resolve(self.manifest.file(path))
        with self._lock:
            self._loaded[path] = data
        return data

    def _resolve(self, entry: ArtefactFile) -> bytes:
        if self.mirror is not None:
            candidate = self.mirror / entry.path
            if candidate.is_file():
                # A mirror is curated: a mismatch there is an error, not something to repair silently.
                return self._verified(entry, _read(candidate), f"mirror {self.mirror}")
        if self.cache_dir is not None:
            candidate = self.cache_dir / entry.path
            if candidate.is_file():
                data = _read(candidate)
                if sha256_hex(data) == entry.sha256:
                    return data
                if self._fetch is None:
                    self._verified(entry, data, f"cache {self.cache_dir}")  # raises with the detail
                # A corrupt cache entry is replaced by a fresh download below.
        if self._fetch is None or not entry.url:
            where = [str(p) for p in (self.mirror, self.cache_dir) if p is not None]
            raise ArtefactError(
                f"artefact {entry.path} not found in {where or 'no mirror/cache'} and cannot be fetched"
                + ("" if entry.url else " (no upstream URL known)")
            )
        try:
            data = self._fetch(entry.url)
        except ArtefactError:
            raise
        except Exception as exc:  # the adapter's own errors (TransportError, ...) are wrapped once
            raise ArtefactError(f"fetching artefact {entry.path} from {entry.url} failed: {exc}") from exc
        self._verified(entry, data, entry.url)
        if self.cache_dir is not None:
            write_atomically(self.cache_dir / entry.path, data)
        return data

    @staticmethod
    def _verified(entry: ArtefactFile, data: bytes, source: str) -> bytes:
        actual = sha256_hex(data)
        if actual != entry.sha256:
            raise ArtefactError(
                f"artefact {entry.path} from {source}: SHA-256 mismatch"
                f" (expected {entry.sha256}, actual {actual})"
            )
        return data

    # -- checks ------------------------------------------------------------------------------------

    def verify(self, paths: list[str] | None = None) -> list[str]:
        """Re-hash files from disk/fetch (bypassing the memo) and return one problem line per failure.

        Args:
            paths: the files to check; default every file of the manifest.
        """
        problems: list[str] = []
        for path in paths if paths is not None else list(self.manifest.files):
            try:
                self._resolve(self.manifest.file(path))
            except ArtefactError as exc:
                problems.append(str(exc))
        return problems

    # -- compiled-stylesheet cache -------------------------------------------------------------------

    def cached_blob(self, name: str) -> bytes | None:
        """Return a derived file (e.g. a compiled stylesheet) from ``<cache_dir>/compiled/``, if present."""
        if self.cache_dir is None:
            return None
        path = self.cache_dir / "compiled" / name
        try:
            return path.read_bytes()
        except OSError:
            return None

    def store_blob(self, name: str, data: bytes) -> None:
        """Write a derived file to ``<cache_dir>/compiled/`` atomically (no-op without a cache dir)."""
        if self.cache_dir is not None:
            write_atomically(self.cache_dir / "compiled" / name, data)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ArtefactError(f"cannot read artefact {path}: {exc}") from exc

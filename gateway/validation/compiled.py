"""XSLT for a Schematron-source layer: compiled by gateway.validation.schematron, cached on disk.

The cache key hashes the compiler (its version and source files) and the pinned SHA-256 of every
Schematron file, so a new compiler or a new release never reuses a stale stylesheet. Each cached
stylesheet carries a SHA-256 sidecar; a corrupt entry is recompiled and overwritten.
"""

from __future__ import annotations

import hashlib
import importlib
from functools import cache
from pathlib import Path

from gateway.errors import ArtefactError
from gateway.validation.artefacts import ArtefactStore, sha256_hex
from gateway.validation.manifest import LayerSpec

_COMPILER_PACKAGE = "gateway.validation.schematron"


@cache
def compiler_fingerprint() -> str:
    """Hash of the Schematron compiler (``COMPILER_VERSION`` if declared, plus its source files)."""
    module = importlib.import_module(_COMPILER_PACKAGE)
    digest = hashlib.sha256(str(getattr(module, "COMPILER_VERSION", "")).encode())
    package_dir = Path(module.__file__ or "").parent
    for source in sorted(package_dir.rglob("*.py")):
        digest.update(source.relative_to(package_dir).as_posix().encode())
        digest.update(source.read_bytes())
    return digest.hexdigest()


def cache_key(store: ArtefactStore, spec: LayerSpec) -> str:
    """Cache key of the compiled stylesheet of ``spec``."""
    digest = hashlib.sha256(compiler_fingerprint().encode())
    for path in (spec.main, *sorted(spec.includes)):
        digest.update(f"\n{path} {store.manifest.file(path).sha256}".encode())
    return digest.hexdigest()


def compile_layer(store: ArtefactStore, spec: LayerSpec) -> bytes:
    """Compile the Schematron of ``spec`` to XSLT (reads only files pinned in the manifest).

    Raises:
        ArtefactError: a source file is missing or corrupt, or the compiler rejects it.
    """
    from gateway.validation.schematron import compile_schematron

    try:
        return compile_schematron(store.read(spec.main), load=store.read, base=spec.main)
    except ArtefactError:
        raise
    except Exception as exc:
        raise ArtefactError(f"compiling Schematron {spec.main} failed: {exc}") from exc


def cached_stylesheet(store: ArtefactStore, spec: LayerSpec, *, refresh: bool = False) -> tuple[bytes, bool]:
    """Return ``(xslt, from_cache)`` for a Schematron-source layer, compiling on a miss.

    Args:
        store: the artefact store (its cache dir keeps the result).
        spec: a layer of kind ``schematron``.
        refresh: ignore the cached entry (used when Saxon rejected it).
    """
    name = f"{spec.layer.value}-{cache_key(store, spec)}.xslt"
    if not refresh:
        data = store.cached_blob(name)
        checksum = store.cached_blob(name + ".sha256")
        if (
            data is not None
            and checksum is not None
            and checksum.decode(errors="replace").strip() == sha256_hex(data)
        ):
            return data, True
    xslt = compile_layer(store, spec)
    store.store_blob(name, xslt)
    store.store_blob(name + ".sha256", sha256_hex(xslt).encode())
    return xslt, False

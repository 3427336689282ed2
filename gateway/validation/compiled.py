"""Stylesheets the gateway generates, cached on disk: the XSLT of a Schematron-source layer (compiled by
gateway.validation.schematron) and the fused single-pass form of an official compiled XSLT
(gateway.validation.fused).

The cache key hashes the generator (its version and source files) and the pinned SHA-256 of every
source file, so a new generator or a new release never reuses a stale stylesheet. Each cached
stylesheet carries a SHA-256 sidecar; a corrupt entry is regenerated and overwritten.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
from collections.abc import Callable
from functools import cache
from pathlib import Path

from gateway.errors import ArtefactError
from gateway.validation.artefacts import ArtefactStore, sha256_hex
from gateway.validation.manifest import LayerSpec

log = logging.getLogger("gateway.validation")

_COMPILER_PACKAGE = "gateway.validation.schematron"
_FUSER_PACKAGE = "gateway.validation.fused"
#: Modules outside a generator package whose source shapes what it generates: the fused stylesheets
#: write the compact report of ``gateway.validation.compact`` (its marker and field XPath).
_ALSO_HASHED = {_FUSER_PACKAGE: ("gateway.validation.compact",)}


@cache
def compiler_fingerprint(package: str = _COMPILER_PACKAGE) -> str:
    """Hash of a stylesheet generator package (``COMPILER_VERSION`` / ``FUSER_VERSION`` if declared,
    plus its source files and those of the modules it writes for, ``_ALSO_HASHED``)."""
    module = importlib.import_module(package)
    version = getattr(module, "COMPILER_VERSION", getattr(module, "FUSER_VERSION", ""))
    digest = hashlib.sha256(str(version).encode())
    package_dir = Path(module.__file__ or "").parent
    for source in sorted(package_dir.rglob("*.py")):
        digest.update(source.relative_to(package_dir).as_posix().encode())
        digest.update(source.read_bytes())
    for name in _ALSO_HASHED.get(package, ()):
        digest.update(name.encode())
        digest.update(Path(importlib.import_module(name).__file__ or "").read_bytes())
    return digest.hexdigest()


def cache_key(store: ArtefactStore, spec: LayerSpec, *, package: str = _COMPILER_PACKAGE) -> str:
    """Cache key of the stylesheet ``package`` generates for ``spec``."""
    digest = hashlib.sha256(compiler_fingerprint(package).encode())
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
    return _cached(store, name, lambda: compile_layer(store, spec), refresh=refresh)


def fuse_layer(store: ArtefactStore, spec: LayerSpec) -> bytes:
    """The fused single-pass stylesheet of an official compiled XSLT layer.

    Raises:
        ArtefactError: the file is missing or corrupt, or not in the ISO skeleton shape.
    """
    from gateway.validation.fused import fuse_stylesheet

    try:
        return fuse_stylesheet(store.read(spec.main))
    except ArtefactError:
        raise
    except Exception as exc:
        raise ArtefactError(f"fusing {spec.main} failed: {exc}") from exc


def cached_fused_stylesheet(
    store: ArtefactStore, spec: LayerSpec, *, refresh: bool = False
) -> tuple[bytes, bool]:
    """Return ``(xslt, from_cache)``: the fused form of an official XSLT layer, generated on a miss."""
    name = f"{spec.layer.value}-fused-{cache_key(store, spec, package=_FUSER_PACKAGE)}.xslt"
    return _cached(store, name, lambda: fuse_layer(store, spec), refresh=refresh)


def fuse_layers(store: ArtefactStore, specs: tuple[LayerSpec, ...]) -> bytes:
    """ONE fused stylesheet for several official compiled XSLT layers (``fused.fuse_stylesheets``).

    Raises:
        CombineError: the stylesheets cannot share one module (the caller runs them apart).
        ArtefactError: a file is missing or corrupt, or a stylesheet is not in the ISO skeleton shape.
    """
    from gateway.validation.fused import fuse_stylesheets

    return fuse_stylesheets([store.read(spec.main) for spec in specs], [spec.layer.value for spec in specs])


def cached_fused_layers(
    store: ArtefactStore, specs: tuple[LayerSpec, ...], *, refresh: bool = False
) -> tuple[bytes, bool]:
    """Return ``(xslt, from_cache)``: the one fused stylesheet of ``specs``, generated on a miss."""
    digest = hashlib.sha256()
    for spec in specs:
        digest.update(f"{spec.layer.value} {cache_key(store, spec, package=_FUSER_PACKAGE)}\n".encode())
    name = f"{'-'.join(spec.layer.value for spec in specs)}-fused-{digest.hexdigest()}.xslt"
    return _cached(store, name, lambda: fuse_layers(store, specs), refresh=refresh)


def _cached(
    store: ArtefactStore, name: str, build: Callable[[], bytes], *, refresh: bool
) -> tuple[bytes, bool]:
    if not refresh:
        data = store.cached_blob(name)
        checksum = store.cached_blob(name + ".sha256")
        if (
            data is not None
            and checksum is not None
            and checksum.decode(errors="replace").strip() == sha256_hex(data)
        ):
            return data, True
    xslt = build()
    try:
        store.store_blob(name, xslt)
        store.store_blob(name + ".sha256", sha256_hex(xslt).encode())
    except OSError as exc:
        # The cache only saves the next build: a full disk or a read-only cache directory must not stop
        # validation (the build's result is good; the next process builds it again).
        log.warning("compiled stylesheet %s not cached: %s", name, exc)
    return xslt, False

"""The size of Saxon's young generation: the GraalVM isolate of saxonche, created with ``-Xmn``.

saxonche is SaxonC, a GraalVM native image. Its Java heap lives in a GraalVM isolate that SaxonC creates
when the first ``PySaxonProcessor`` is made, with no options: the serial collector then sizes the young
generation from the machine's physical memory (or a container's limit) and lets it grow to well over
100 MiB before it collects, and memory once mapped for the heap stays mapped. With the young generation
capped, a ``serve`` process stays about 100 MiB smaller under load for a few percent more CPU in
collections (README, *Memory of serve*).

SaxonC offers no setting for this, but its documented C API keeps the isolate in
``SaxonProcessor::sxn_environ`` (``sxnc_environment``: isolate, thread, main thread) and creates one only
while ``SaxonProcessor::jvmCreatedCPP`` is 0. So before the first processor this module creates the
isolate itself with ``graal_create_isolate`` and parameters of version 3, whose ``argc``/``argv`` carry
isolate options (GraalVM's ``IsolateArgumentParser``: ``-Xmn`` sets ``MaxNewSize``), and hands it to
SaxonC. Only the young generation is capped: the maximum heap stays unbounded, because a heap too small
for a document ends the whole process (GraalVM answers an ``OutOfMemoryError`` there with a fatal error).

Anything unexpected (another saxonche build without these symbols, an isolate that already exists, a
failed creation) leaves SaxonC to create its default isolate: the only effect is the memory figure.
Not done: SaxonC's own set-up also registers its C++ extension-function callback, which the gateway
does not use (Python extension functions are registered separately by saxonche and still work).
"""

from __future__ import annotations

import ctypes
import logging
import os
import threading
from pathlib import Path

log = logging.getLogger(__name__)

_ENVIRONMENT_SYMBOL = "_ZN14SaxonProcessor11sxn_environE"  # SaxonProcessor::sxn_environ
_CREATED_SYMBOL = "_ZN14SaxonProcessor13jvmCreatedCPPE"  # SaxonProcessor::jvmCreatedCPP
_ISOLATE_PARAMS_VERSION = 3  # the first version with argc/argv


class _IsolateParams(ctypes.Structure):
    """``graal_create_isolate_params_t`` up to version 3 (GraalVM's ``graal_isolate.h``)."""

    _fields_ = [
        ("version", ctypes.c_int),
        ("reserved_address_space_size", ctypes.c_size_t),
        ("auxiliary_image_path", ctypes.c_char_p),
        ("auxiliary_image_reserved_space_size", ctypes.c_size_t),
        ("argc", ctypes.c_int),  # _reserved_1
        ("argv", ctypes.POINTER(ctypes.c_char_p)),  # _reserved_2
        ("pkey", ctypes.c_int),
    ]


class _Environment(ctypes.Structure):
    """SaxonC's ``sxnc_environment`` (SaxonCGlue.h)."""

    _fields_ = [("isolate", ctypes.c_void_p), ("thread", ctypes.c_void_p), ("mainthread", ctypes.c_void_p)]


_lock = threading.Lock()
_decided = False
_applied_mib: int | None = None
# SaxonC keeps a pointer to these for the life of the process.
_keep_alive: list[object] = []


def young_generation_mib() -> int | None:
    """The young-generation cap this process's Saxon isolate was created with (None: SaxonC's default)."""
    return _applied_mib


def cap_young_generation(mib: int) -> bool:
    """Create Saxon's isolate with a young generation of at most ``mib`` MiB, if none exists yet.

    Call before the first ``PySaxonProcessor`` of the process; later calls change nothing. ``mib`` 0
    keeps SaxonC's default.

    Returns:
        True if this process's isolate has the cap (now or from an earlier call).
    """
    global _decided, _applied_mib
    with _lock:
        if _decided:
            return _applied_mib == mib if mib else _applied_mib is None
        _decided = True
        if mib <= 0:
            return True
        try:
            applied = _create_isolate(mib)
        except (OSError, AttributeError, ValueError) as exc:
            log.warning("Saxon's young generation left at its default: %s", exc)
            return False
        if applied:
            _applied_mib = mib
        return applied


def _libraries() -> tuple[ctypes.CDLL, ctypes.CDLL]:
    """The two SaxonC libraries saxonche has loaded: the C++ API and the GraalVM image."""
    import saxonche  # loaded here, and with it both libraries

    libs = Path(saxonche.__file__ or "").parent / "saxonche.libs"
    api = next(libs.glob("libsaxonc-he-*.so*"), None) or next(libs.glob("libsaxonc-*e-*.so*"), None)
    core = next(libs.glob("libsaxonc-core-*.so*"), None)
    if api is None or core is None:
        raise OSError(f"SaxonC libraries not found in {libs}")
    mode = getattr(os, "RTLD_NOLOAD", 0)
    return ctypes.CDLL(str(api), mode=mode), ctypes.CDLL(str(core), mode=mode)


def _create_isolate(mib: int) -> bool:
    api, core = _libraries()
    created = ctypes.c_int.in_dll(api, _CREATED_SYMBOL)
    environment = ctypes.c_void_p.in_dll(api, _ENVIRONMENT_SYMBOL)
    if created.value or environment.value:
        log.info("Saxon's isolate already exists: its young generation stays as it is")
        return False
    arguments = [b"gateway", f"-Xmn{mib}m".encode()]
    argv = (ctypes.c_char_p * (len(arguments) + 1))(*arguments, None)
    params = _IsolateParams(version=_ISOLATE_PARAMS_VERSION, argc=len(arguments), argv=argv)
    env = _Environment()
    create = core.graal_create_isolate
    create.argtypes = [ctypes.POINTER(_IsolateParams), ctypes.c_void_p, ctypes.c_void_p]
    create.restype = ctypes.c_int
    status = create(
        ctypes.byref(params),
        ctypes.addressof(env) + _Environment.isolate.offset,
        ctypes.addressof(env) + _Environment.thread.offset,
    )
    if status != 0:
        log.warning("Saxon's isolate with -Xmn%dm failed (%d): SaxonC's default is used", mib, status)
        return False
    env.mainthread = env.thread
    _keep_alive.extend([env, argv, params])
    environment.value = ctypes.addressof(env)
    created.value = 1
    return True

"""The size of Saxon's heap: the GraalVM isolate of saxonche, created with ``-Xmn`` and ``MaxHeapFree``.

saxonche is SaxonC, a GraalVM native image. Its Java heap lives in a GraalVM isolate that SaxonC creates
when the first ``PySaxonProcessor`` is made, with no options: the serial collector then sizes the young
generation from the machine's physical memory (or a container's limit) and lets it grow to well over
100 MiB before it collects, and keeps freed heap chunks mapped for reuse. With the young generation
capped (young collections then take ≈ 0.5 ms every few documents), little free heap kept, and one full
collection after compiling (``collect_saxon_garbage``), a ``serve`` process stays about 100 MiB smaller
(BENCHMARKS.md, *Memory of serve*).

SaxonC offers no setting for this, but its documented C API keeps the isolate in
``SaxonProcessor::sxn_environ`` (``sxnc_environment``: isolate, thread, main thread) and creates one only
while ``SaxonProcessor::jvmCreatedCPP`` is 0. So before the first processor this module creates the
isolate itself with ``graal_create_isolate`` and parameters of version 3, whose ``argc``/``argv`` carry
isolate options (GraalVM's ``IsolateArgumentParser``: ``-Xmn`` sets ``MaxNewSize``; the runtime option
``-XX:MaxHeapFree`` the free heap kept mapped), and hands it to SaxonC. The maximum heap stays
unbounded: a heap too small for a document would end the whole process (GraalVM answers an
``OutOfMemoryError`` there with a fatal error; tried with ``-Xmx64m``).

``MaxHeapFree`` is an upper bound: with a small young generation GraalVM's adaptive policy kept only
3.5-4.5 MiB of free chunks whatever was asked for (4 to 64 MiB; BENCHMARKS.md, *Memory, seventh pass*), so a
full collection's copy of the live heap (the compiled rule sets) always needs new memory. With ``-Xmn32m`` it
keeps up to the bound: 26-27 MiB at a large document's transform when asked for 32, one eden (≈ 24) when
asked for 24, the default (BENCHMARKS.md, *Memory, sixteenth pass*).

The cap also sizes the old generation's free room, which decides whether a large document pays a full
collection (a copy of the rule sets and its own tree): GraalVM's ``AdaptiveCollectionPolicy`` starts
``promoSize`` at the initial eden (3/4 of ``-Xmn``) and recomputes the old generation's size only
at its own full collections, as the live old generation plus ``promoSize`` plus the padded average of
recent promotions; a forced collection (``System.gc()``) does not. A young collection that finds less
room than it expects to promote is followed by a full one. With ``-Xmn16m`` the room after compiling was
≈ 7 MiB and a 5,000-line invoice's tree overflowed it; with 32 it fits (BENCHMARKS.md, *Memory, ninth pass*).

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
from collections.abc import Sequence
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
#: The further isolate options passed on: GraalVM's collection logs (on stderr), nothing else. GraalVM ends
#: the whole process - at the first Saxon processor, i.e. the first document validated - on an option it
#: does not know (a typo: exit status 1), on ``-XX:PrintFlags=`` (prints, exits) and ``-Xss1k`` (fatal
#: error); ``-Xmx`` makes a large document fatal, ``ExitOnOutOfMemoryError``, ``LoopOnFatalError`` and
#: ``SafepointPromptnessFailureNanos`` exit or hang on a condition, ``-Xmn`` would bypass the young
#: generation setting's bounds. ``gateway.config.documents`` checks the setting with
#: ``check_isolate_options``.
DIAGNOSTIC_OPTIONS = frozenset(
    f"-XX:{sign}{name}"
    for sign in "+-"
    for name in ("PrintGC", "PrintGCSummary", "PrintGCTimes", "VerboseGC", "TraceHeapChunks")
)
_decided = False
_applied: tuple[int, int] | None = None
# SaxonC's environment: in C memory that is never freed, because SaxonC still uses it while the
# process exits, after Python has freed its own objects.
_environment: _Environment | None = None
_arguments: object = None  # the isolate's argv, kept while the process runs


def saxon_heap_options() -> tuple[int, int] | None:
    """``(young generation MiB, free heap kept MiB)`` of this process's Saxon isolate (None: SaxonC's
    defaults)."""
    return _applied


def isolate_arguments(young_mib: int, free_mib: int, options: Sequence[str] = ()) -> list[bytes]:
    """The ``argv`` Saxon's isolate is created with: ``-Xmn``, ``-XX:MaxHeapFree`` and ``options`` after
    them.

    Raises:
        ValueError: an option that is not one of ``DIAGNOSTIC_OPTIONS``.
    """
    check_isolate_options(options)
    return [
        b"gateway",
        f"-Xmn{young_mib}m".encode(),
        f"-XX:MaxHeapFree={free_mib}m".encode(),
        *(option.encode() for option in options),
    ]


def check_isolate_options(options: Sequence[str]) -> None:
    """Refuse further isolate options other than ``DIAGNOSTIC_OPTIONS`` (the settings check them with this
    too, at start-up).

    Raises:
        ValueError: an option that is not one of ``DIAGNOSTIC_OPTIONS``.
    """
    for option in options:
        if option not in DIAGNOSTIC_OPTIONS:
            raise ValueError(
                f"not a diagnostic isolate option ({', '.join(sorted(DIAGNOSTIC_OPTIONS))}): {option!r}"
            )


def size_saxon_heap(young_generation_mib: int, max_free_mib: int, options: Sequence[str] = ()) -> bool:
    """Create Saxon's isolate with these limits, if none exists yet.

    Call before the first ``PySaxonProcessor`` of the process; later calls change nothing.

    Args:
        young_generation_mib: cap of the young generation (``-Xmn``); 0 keeps SaxonC's default and
            with it leaves the isolate to SaxonC (``max_free_mib`` is then ignored).
        max_free_mib: free heap kept mapped after a collection (``-XX:MaxHeapFree``).
        options: further isolate options, after those two: ``DIAGNOSTIC_OPTIONS`` only (another is
            refused with a warning, the isolate left to SaxonC: GraalVM would end the process).

    Returns:
        True if this process's isolate has these limits (now or from an earlier call).
    """
    global _decided, _applied
    wanted = (young_generation_mib, max_free_mib) if young_generation_mib > 0 else None
    with _lock:
        if _decided:
            return _applied == wanted
        _decided = True
        if wanted is None:
            return True
        try:
            created = _create_isolate(isolate_arguments(young_generation_mib, max_free_mib, options))
        except (OSError, AttributeError, ValueError) as exc:
            log.warning("Saxon's heap left at SaxonC's defaults: %s", exc)
            return False
        if created:
            _applied = wanted
        return created


def collect_saxon_garbage() -> bool:
    """A full collection of Saxon's heap (SaxonC's C entry point ``j_gc``, i.e. ``System.gc()``), on the
    calling thread (attached to the isolate if it was not). False if it could not be asked for."""
    if _applied is None:
        return False
    try:
        _, core = _libraries()
        attach = core.graal_attach_thread
        attach.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p)]
        attach.restype = ctypes.c_int
        gc = core.j_gc
        gc.argtypes = [ctypes.c_void_p]
        gc.restype = None
    except (OSError, AttributeError) as exc:
        log.info("no full collection of Saxon's heap: %s", exc)
        return False
    assert _environment is not None
    thread = ctypes.c_void_p()
    if attach(_environment.isolate, ctypes.byref(thread)) != 0:  # the current thread's, attaching if needed
        return False
    gc(thread)
    return True


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


def _create_isolate(arguments: list[bytes]) -> bool:
    global _environment, _arguments
    api, core = _libraries()
    created = ctypes.c_int.in_dll(api, _CREATED_SYMBOL)
    environment = ctypes.c_void_p.in_dll(api, _ENVIRONMENT_SYMBOL)
    if created.value or environment.value:
        log.info("Saxon's isolate already exists: its heap stays as it is")
        return False
    argv = (ctypes.c_char_p * (len(arguments) + 1))(*arguments, None)
    params = _IsolateParams(version=_ISOLATE_PARAMS_VERSION, argc=len(arguments), argv=argv)
    libc = ctypes.CDLL(None)
    libc.calloc.argtypes = [ctypes.c_size_t, ctypes.c_size_t]
    libc.calloc.restype = ctypes.c_void_p
    address = libc.calloc(1, ctypes.sizeof(_Environment))
    if not address:
        raise OSError("no memory for Saxon's environment")
    env = _Environment.from_address(address)
    create = core.graal_create_isolate
    create.argtypes = [ctypes.POINTER(_IsolateParams), ctypes.c_void_p, ctypes.c_void_p]
    create.restype = ctypes.c_int
    status = create(
        ctypes.byref(params),
        ctypes.addressof(env) + _Environment.isolate.offset,
        ctypes.addressof(env) + _Environment.thread.offset,
    )
    if status != 0:
        log.warning("Saxon's isolate with %s failed (%d): SaxonC's defaults are used", arguments[1:], status)
        return False
    env.mainthread = env.thread
    _environment, _arguments = env, argv
    environment.value = address
    created.value = 1
    return True

"""glibc malloc settings of the ``gateway serve`` and ``gateway worker`` processes: arenas and mmap threshold.

By default glibc gives threads arenas of their own, up to 8 per core, and each arena keeps the memory
freed in it; the API's thread pool (validations, the store) thus spreads a process's small transient
allocations over many arenas. ``mallopt(M_ARENA_MAX, n)`` before the threads start caps their number
(glibc's ``MALLOC_ARENA_MAX`` environment variable does the same when set before the process starts).

glibc serves blocks above the mmap threshold (128 KiB at start) with ``mmap`` and returns them to the
system when they are freed; but its threshold is dynamic: freeing such a block raises the threshold to
the block's size, so after the first multi-MB document every later buffer up to that size comes from the
arenas, and the arenas keep it once freed (a worker that sent a 20 MB document kept ≈ 30 MiB more). A
fixed threshold (``mallopt(M_MMAP_THRESHOLD, n)``, as ``MALLOC_MMAP_THRESHOLD_`` does) keeps large
buffers out of the arenas for the life of the process.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
from collections.abc import Callable

log = logging.getLogger(__name__)

_M_MMAP_THRESHOLD = -3  # malloc.h
_M_ARENA_MAX = -8
#: glibc's bound on M_MMAP_THRESHOLD (HEAP_MAX_SIZE / 2 on 64-bit: 32 MiB).
MAX_MMAP_THRESHOLD = 32 * 1024 * 1024


def _mallopt() -> Callable[[int, int], int] | None:
    name = ctypes.util.find_library("c")
    try:
        mallopt = ctypes.CDLL(name).mallopt if name else None
    except (OSError, AttributeError):
        mallopt = None
    if mallopt is None:
        return None
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return mallopt


def _set_option(option: int, value: int, unchanged: str) -> bool:
    """``mallopt(option, value)`` for a positive ``value``; True if glibc took it (``unchanged`` is logged
    when the C library has no ``mallopt``)."""
    if value <= 0:
        return False
    mallopt = _mallopt()
    if mallopt is None:
        log.info("no mallopt in this C library: %s", unchanged)
        return False
    return bool(mallopt(option, value))


def limit_malloc_arenas(arenas: int) -> bool:
    """Cap glibc's malloc arenas at ``arenas`` (0: leave glibc's default); call before starting threads.

    Returns:
        True if the cap is set (False on a C library without ``mallopt``, e.g. musl).
    """
    return _set_option(_M_ARENA_MAX, arenas, "malloc arenas left as they are")


def fix_mmap_threshold(threshold_bytes: int) -> bool:
    """Serve blocks of at least ``threshold_bytes`` with ``mmap`` for the life of the process, returning
    them to the system when freed (0: leave glibc's dynamic threshold). Call at start-up.

    Returns:
        True if the threshold is set (False on a C library without ``mallopt``, or a value glibc refuses).
    """
    if threshold_bytes <= 0:
        return False
    threshold = min(threshold_bytes, MAX_MMAP_THRESHOLD)
    return _set_option(_M_MMAP_THRESHOLD, threshold, "the mmap threshold is left as it is")

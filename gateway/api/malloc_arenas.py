"""The number of glibc malloc arenas of a ``gateway serve`` process.

By default glibc gives threads arenas of their own, up to 8 per core, and each arena keeps the memory
freed in it; the API's thread pool (validations, the store) thus spreads a process's small transient
allocations over many arenas. ``mallopt(M_ARENA_MAX, n)`` before the threads start caps their number
(glibc's ``MALLOC_ARENA_MAX`` environment variable does the same when set before the process starts).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger(__name__)

_M_ARENA_MAX = -8  # malloc.h


def limit_malloc_arenas(arenas: int) -> bool:
    """Cap glibc's malloc arenas at ``arenas`` (0: leave glibc's default); call before starting threads.

    Returns:
        True if the cap is set (False on a C library without ``mallopt``, e.g. musl).
    """
    if arenas <= 0:
        return False
    name = ctypes.util.find_library("c")
    try:
        mallopt = ctypes.CDLL(name).mallopt if name else None
    except (OSError, AttributeError):
        mallopt = None
    if mallopt is None:
        log.info("no mallopt in this C library: malloc arenas left as they are")
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_ARENA_MAX, arenas))

"""Return the C heap's free pages to the system (glibc ``malloc_trim``), between lxml and Saxon.

A large document's lxml tree is many small blocks in glibc's arenas (a 5,000-line invoice: ≈ 30 MiB);
once the tree is dropped, that memory stays with the process, and Saxon cannot reuse it: its heap is
GraalVM's own mapped memory. ``malloc_trim(0)`` hands the arenas' free pages back first, so Saxon's
parse and transforms do not add to them. It walks every arena (a few ms), so the engine calls it only
for documents above a size (``ValidationEngine(trim_above_bytes=…)``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable
from functools import cache


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    try:
        trim = ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        return None  # not glibc (musl has no malloc_trim)
    if trim is None:
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


def release_free_heap() -> bool:
    """Give the C heap's free pages back to the system. False where the C library has no
    ``malloc_trim`` or nothing could be released."""
    trim = _malloc_trim()
    return bool(trim(0)) if trim is not None else False

"""glibc malloc settings of serve and worker: a fixed mmap threshold keeps large buffers out of the arenas."""

from __future__ import annotations

import ctypes.util
import subprocess
import sys

import pytest

from gateway.api.malloc_arenas import MAX_MMAP_THRESHOLD, fix_mmap_threshold, limit_malloc_arenas

# In a fresh process (the threshold is per process and cannot be undone): allocate 4 MiB, free it, and
# allocate 4 MiB again; mallinfo2's hblks counts the blocks that are mmapped at that moment.
_PROBE = """
import ctypes, sys
from gateway.api.malloc_arenas import fix_mmap_threshold

class MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
                 "fordblks", "keepcost")]

libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
libc.mallinfo2.restype = MallInfo2
if sys.argv[1] != "0":
    assert fix_mmap_threshold(int(sys.argv[1]))
libc.free(libc.malloc(4 << 20))
before = libc.mallinfo2().hblks
block = libc.malloc(4 << 20)
print(libc.mallinfo2().hblks - before)
libc.free(block)
"""


def _mapped_after_free(threshold: int) -> int:
    run = subprocess.run(
        [sys.executable, "-c", _PROBE, str(threshold)], capture_output=True, text=True, check=True
    )
    return int(run.stdout.strip())


@pytest.mark.skipif(not ctypes.util.find_library("c"), reason="needs glibc")
def test_a_fixed_threshold_keeps_mapping_large_blocks_after_one_was_freed() -> None:
    # glibc's dynamic threshold rises to 4 MiB when the first block is freed: the second comes from
    # the heap (and would stay there once freed). Fixed at 128 KiB it is mapped again.
    assert _mapped_after_free(0) == 0
    assert _mapped_after_free(128 * 1024) == 1


def test_zero_leaves_glibc_alone() -> None:
    assert fix_mmap_threshold(0) is False
    assert limit_malloc_arenas(0) is False


def test_the_setting_is_bounded_by_glibcs_limit() -> None:
    from gateway.config import ServerSettings, WorkerSettings

    assert ServerSettings().malloc_mmap_threshold_bytes == 128 * 1024
    assert WorkerSettings().malloc_mmap_threshold_bytes == 128 * 1024
    with pytest.raises(ValueError, match="less than or equal"):
        ServerSettings(malloc_mmap_threshold_bytes=MAX_MMAP_THRESHOLD + 1)

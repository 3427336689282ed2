"""gzip of the payload we send (CEF 1.14 §1.4.3.1), tuned for speed.

Measured with ``gateway bench as4`` (its level table): on invoice lines, levels 1-3 (zlib's fast
deflate) take about 40% of level 6's time for a payload about 20% larger (14:1 instead of 17:1); on an
embedded PDF or image (base64 of compressed bytes, 1.3:1 at any level) string matching finds nothing and
only costs time: Huffman-only coding gets the same 1.3:1 in about a quarter of level 1's time. So a sample
of the payload decides: if it compresses well at level 1 the whole payload is deflated at
:data:`GZIP_LEVEL`, otherwise it is Huffman-coded. The output is always one RFC 1952 gzip member with
mtime 0 (reproducible), which every AS4 receiver reads.
"""

from __future__ import annotations

import zlib
from typing import Final

from gateway.as4.constants import GZIP_LEVEL

#: Windows sampled (evenly spread) and their size: 4 x 8 kB decide for a payload of any size.
SAMPLE_WINDOWS: Final = 4
SAMPLE_WINDOW_BYTES: Final = 8 * 1024
#: Below this sample ratio (uncompressed / compressed at level 1) the payload is Huffman-coded: XML
#: compresses 10:1 or better, base64 of a PDF about 1.3:1.
HUFFMAN_BELOW_RATIO: Final = 2.0
_GZIP_WBITS: Final = 16 + zlib.MAX_WBITS
_MEM_LEVEL: Final = 8


def sample(data: bytes) -> bytes:
    """Up to :data:`SAMPLE_WINDOWS` windows of :data:`SAMPLE_WINDOW_BYTES`, evenly spread over ``data``."""
    if len(data) <= SAMPLE_WINDOWS * SAMPLE_WINDOW_BYTES:
        return data
    view = memoryview(data)
    span = len(data) - SAMPLE_WINDOW_BYTES  # the first window starts at 0, the last ends at the end
    starts = (i * span // (SAMPLE_WINDOWS - 1) for i in range(SAMPLE_WINDOWS))
    return b"".join(view[start : start + SAMPLE_WINDOW_BYTES] for start in starts)


def choose_strategy(data: bytes) -> int:
    """``zlib.Z_DEFAULT_STRATEGY`` for compressible payloads, ``zlib.Z_HUFFMAN_ONLY`` for the others.

    Payloads smaller than the sample are deflated without a probe: at that size the choice costs more
    than it saves."""
    if len(data) <= SAMPLE_WINDOWS * SAMPLE_WINDOW_BYTES:
        return zlib.Z_DEFAULT_STRATEGY
    probe = sample(data)
    packed = zlib.compress(probe, 1)
    return zlib.Z_HUFFMAN_ONLY if len(probe) < HUFFMAN_BELOW_RATIO * len(packed) else zlib.Z_DEFAULT_STRATEGY


def gzip_payload(data: bytes) -> bytes:
    """One gzip member of ``data`` (mtime 0), at :data:`GZIP_LEVEL` or Huffman-only (see the module)."""
    packer = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, _GZIP_WBITS, _MEM_LEVEL, choose_strategy(data))
    return packer.compress(data) + packer.flush()

"""The GIL switch interval of the ``gateway serve`` and ``gateway worker`` processes.

A thread that waits for the GIL asks its holder to drop it once ``sys.getswitchinterval()`` has passed
(5 ms by default), and waits again. In these processes the threads that share the GIL are the event loop
and the threads it hands CPU-bound work to (validation, the store, AS4 signing and checks): every forced
hand-over is a wake-up and a context switch or two, on a host whose cores the process shares. Saxon keeps
the GIL while it transforms, so there the waiter's timeouts only wake it for nothing. 20 ms keeps the
event loop's worst wait behind a thread running Python short beside a request's own time, and in the e2e
benchmark it cut the CPU per document of the three processes (BENCHMARKS.md, *End to end, twelfth pass*).
"""

from __future__ import annotations

import sys
from typing import Final

#: Seconds a thread may keep the GIL while another waits, in ``gateway serve`` and ``gateway worker``.
GIL_SWITCH_INTERVAL_SECONDS: Final = 0.02


def lengthen_gil_switch_interval(seconds: float = GIL_SWITCH_INTERVAL_SECONDS) -> float:
    """Set the interpreter's switch interval to ``seconds`` unless it is longer already (an embedding or a
    ``sitecustomize`` chose it); returns the interval in force."""
    if sys.getswitchinterval() < seconds:
        sys.setswitchinterval(seconds)
    return sys.getswitchinterval()

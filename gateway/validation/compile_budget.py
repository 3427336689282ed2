"""How often a fused layer may compile an official stylesheet to name a document's XPath error.

A fused layer stopped by an XPath dynamic error compiles the official stylesheet for that document (about
0.35 s of CPU for CEN, with Saxon's lock held, so every other validation of the process waits): the
official stylesheet may stop on another error than the fused walk when a document has two. A sender
could send such documents in a row; the budget bounds what they cost. Beyond it the fused layer reports
its own error: the document is just as invalid, and only the wording can differ, for documents with two
errors.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class CompileBudget:
    """A token bucket: ``per_minute`` compiles, refilled continuously; 0 never compiles.

    Args:
        per_minute: the bucket's size and its refill per minute.
        clock: monotonic seconds (tests pass their own).
    """

    def __init__(self, per_minute: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        if per_minute < 0:
            raise ValueError("per_minute must not be negative")
        self.per_minute = per_minute
        self._clock = clock
        self._tokens = float(per_minute)
        self._at = clock()
        self._lock = threading.Lock()
        self.refused = 0

    def take(self) -> bool:
        """Spend one compile if the bucket holds one; False (and counted in ``refused``) otherwise."""
        with self._lock:
            now = self._clock()
            self._tokens = min(float(self.per_minute), self._tokens + (now - self._at) * self.per_minute / 60)
            self._at = now
            if self._tokens >= 1:
                self._tokens -= 1
                return True
            self.refused += 1
            return False

"""What a delivery worker run did: the counts ``gateway worker`` prints on exit."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from gateway.services.deliver import DeliveryResult

__all__ = ["WorkerStats"]


@dataclass
class WorkerStats:
    """What a worker run did (printed by ``gateway worker`` on exit).

    Attributes:
        processed: leases handled (deferred ones excluded).
        by_status: resulting document status -> count (``unchanged`` when the lease was lost/stale).
        errors: deliveries that raised: store failures (their leases are handed back) and bugs (their
            leases expire); either way they are retried.
        deferred: leases handed back uncounted because the receiving endpoint was busy or its circuit open,
            or an Invoice Response waited for the earlier response to the same received document.
    """

    processed: int = 0
    by_status: Counter[str] = field(default_factory=Counter)
    errors: int = 0
    deferred: int = 0

    def as_json(self) -> dict[str, object]:
        """JSON form."""
        return {
            "processed": self.processed,
            "by_status": dict(self.by_status),
            "errors": self.errors,
            "deferred": self.deferred,
        }

    def count(self, result: DeliveryResult | BaseException) -> None:
        """Add one delivery's result."""
        if isinstance(result, DeliveryResult) and result.deferred:
            self.deferred += 1
            return
        self.processed += 1
        if isinstance(result, BaseException):
            self.errors += 1
        else:
            self.by_status[result.status.value if result.status else "unchanged"] += 1

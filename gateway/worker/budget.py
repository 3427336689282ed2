"""The delivery worker's memory budget: the bytes of the documents it delivers at once.

A delivery holds its document and its AS4 message in memory while it runs: a 20 MB document costs the
worker about 4.3 times its size. The worker keeps up to ``max_in_flight`` deliveries going and as many sends
set aside (``services.awaited_sends``), so up to 40 documents at once: with PDF attachments of 5-20 MB to
slow receivers, gigabytes. The slots bound the deliveries by count; this bounds them by bytes.

Each lease carries its document's UBL size (``DeliveryLease.size``, read by the lease query without the
document), so the worker decides before it reads the bodies: it keeps the leases, in lease order, while the
bytes in flight - every delivery not ended, sends set aside included - and the kept ones stay within the
budget, and hands the rest back at once, unread (``DeliveryQueue.hand_back``: not counted as an attempt,
due when it was - in its place in the queue, so the next lease starts with it again). With nothing in
flight it keeps at least one: a document larger than the whole budget still goes, alone. Sans-IO: the
worker (``worker.loop``) hands the leases in and the rest back.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from gateway.services.ports import DeliveryLease

MIB = 1024 * 1024


@dataclass(slots=True)
class Admission:
    """One look's admission of fresh leases within the budget (the worker makes one per lease query).

    Attributes:
        budget: the worker's memory budget, bytes of documents in flight.
        in_flight_bytes: bytes of the documents of the deliveries in flight before this lease.
        in_flight: the deliveries in flight before this lease.
        held_back: leases handed back by ``admit`` (set by it).
        held_back_bytes: their documents' bytes (set by it).
    """

    budget: int
    in_flight_bytes: int
    in_flight: int
    held_back: int = 0
    held_back_bytes: int = 0

    def admit(self, leases: Sequence[DeliveryLease]) -> int:
        """How many of ``leases``, in their order, the worker keeps: while the bytes in flight and the kept
        ones stay within the budget; at least one when nothing is in flight. Records what is held back."""
        carried = self.in_flight_bytes
        kept = 0
        for lease in leases:
            if carried + lease.size > self.budget and (kept or self.in_flight):
                break
            carried += lease.size
            kept += 1
        rest = leases[kept:]
        self.held_back = len(rest)
        self.held_back_bytes = sum(lease.size for lease in rest)
        self.in_flight_bytes, self.in_flight = carried, self.in_flight + kept
        return kept

    def reason(self) -> str:
        """The ``last_error`` of a held-back job (counts and sizes only)."""
        return (
            f"worker memory budget: {self.in_flight} deliveries with {amount(self.in_flight_bytes)} "
            f"in flight of {amount(self.budget)}"
        )


def amount(size: int) -> str:
    """``size`` bytes for a log line: in MiB, or in bytes below a tenth of one."""
    return f"{size / MIB:.1f} MiB" if size >= MIB // 10 else f"{size} bytes"


def bytes_in_flight(leases: Iterable[DeliveryLease]) -> int:
    """The documents' bytes of the deliveries of ``leases``."""
    return sum(lease.size for lease in leases)

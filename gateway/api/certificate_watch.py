"""The daily certificate check of ``gateway serve``: a log warning for every watched certificate that
expires within ``EXPIRY_WARNING_DAYS`` (or has expired), at start-up and then once a day."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Final

from gateway.crypto.lifecycle import (
    EXPIRY_WARNING_DAYS,
    CertificateExpiry,
    ExpiryState,
    WatchedCertificate,
    expiries,
)
from gateway.services.ports import Clock

log = logging.getLogger("gateway.certificates")

#: Seconds between two checks.
CHECK_INTERVAL_SECONDS: Final = 24 * 3600.0


def warn_expiring(certificates: Sequence[WatchedCertificate], clock: Clock) -> list[CertificateExpiry]:
    """Log a warning for each certificate expiring within the warning window; return those."""
    due = [e for e in expiries(certificates, clock.now()) if e.state is not ExpiryState.OK]
    for expiry in due:
        log.warning(
            "certificate %s %r (serial %s) %s on %s: %.1f days left (warning below %d days)",
            expiry.role.value,
            expiry.name,
            expiry.serial,
            "expired" if expiry.state is ExpiryState.EXPIRED else "expires",
            expiry.not_after.date().isoformat(),
            expiry.days_left,
            EXPIRY_WARNING_DAYS,
        )
    return due


async def run_certificate_watch(
    certificates: Sequence[WatchedCertificate], clock: Clock, interval: float = CHECK_INTERVAL_SECONDS
) -> None:
    """Check now, then every ``interval`` seconds, until cancelled."""
    while True:
        warn_expiring(certificates, clock)
        await asyncio.sleep(interval)

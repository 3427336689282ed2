"""Words of the pages for the states they show as badges (the badge's class keeps the state's value):
a Peppol report's, an outbound document's and our AP certificate's, each translated on the page."""

from __future__ import annotations

from typing import Final

from gateway.crypto.lifecycle import ExpiryState
from gateway.model.message import DeliveryStatus
from gateway.model.report import ReportStatus

REPORT_STATES: Final = {
    ReportStatus.STORED.value: "stored",
    ReportStatus.INVALID.value: "invalid",
    ReportStatus.QUEUED.value: "queued",
}
DELIVERY_STATES: Final = {
    DeliveryStatus.ACCEPTED.value: "accepted",
    DeliveryStatus.SENDING.value: "sending",
    DeliveryStatus.DELIVERED.value: "delivered",
    DeliveryStatus.RETRYING.value: "retrying",
    DeliveryStatus.FAILED.value: "failed",
    DeliveryStatus.CONFIRMED.value: "confirmed",
    DeliveryStatus.REJECTED.value: "rejected",
    DeliveryStatus.DELIVERED_BY_EMAIL.value: "delivered by e-mail",
}
EXPIRY_STATES: Final = {
    ExpiryState.OK.value: "valid",
    ExpiryState.EXPIRING.value: "expires soon",
    ExpiryState.EXPIRED.value: "expired",
}

assert set(REPORT_STATES) == {s.value for s in ReportStatus}, "every report state has its words"
assert set(DELIVERY_STATES) == {s.value for s in DeliveryStatus}, "every delivery state has its words"
assert set(EXPIRY_STATES) == {s.value for s in ExpiryState}, "every certificate state has its words"

#: What the templates receive (``states.report[...]`` and so on).
STATE_LABELS: Final = {"report": REPORT_STATES, "delivery": DELIVERY_STATES, "expiry": EXPIRY_STATES}

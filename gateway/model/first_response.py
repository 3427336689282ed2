"""When the first Invoice Response of a received document is due, and how urgent it is.

bis-billing.md §9: a buyer sends its first response (AB, "received and routed to an activity") within 3
working days. The gateway counts them in Belgium (``working_days``: Monday to Friday but public holidays)
and in the Europe/Brussels zone: the day of receipt is the Brussels calendar day of the receipt instant and
is not counted, whatever the hour; the response is due by the end (24:00, Brussels time) of the third
working day after it. Received on Friday evening, on Saturday or on Sunday: due Wednesday 24:00.

AB goes when the expense reaches a production unit (``expense.response_code``): on receipt when routing
chose one, else only when support assigns it out of triage, so a triaged document is the one that can miss
the deadline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Final
from zoneinfo import ZoneInfo

from gateway.model.working_days import add_working_days, next_working_day

#: The zone whose calendar days and working days the deadline counts.
BRUSSELS: Final = ZoneInfo("Europe/Brussels")
#: bis-billing.md §9: the first response within 3 working days.
FIRST_RESPONSE_WORKING_DAYS: Final = 3


@dataclass(frozen=True, slots=True)
class ResponseDue:
    """When the first response of a document is due.

    Attributes:
        last_day: the last working day to send it on (a Brussels calendar date).
        at: the instant it is overdue from: the end of ``last_day`` in Brussels (aware UTC).
    """

    last_day: date
    at: datetime


class ResponseUrgency(StrEnum):
    """How urgent a first response still to be sent is."""

    OVERDUE = "overdue"
    """Its deadline has passed."""
    DUE_SOON = "due_soon"
    """Due by the end of today or of the next working day (Brussels)."""
    ON_TIME = "on_time"
    """Due later."""


def _brussels_day(at: datetime) -> date:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{at!r} is not an aware datetime: its Brussels day is unknown")
    return at.astimezone(BRUSSELS).date()


def _end_of(day: date) -> datetime:
    """24:00 in Brussels at the end of ``day``, in UTC (midnight always exists there: clocks change at
    02:00 and 03:00)."""
    return datetime.combine(day + timedelta(1), time(), tzinfo=BRUSSELS).astimezone(UTC)


def first_response_due(received_at: datetime) -> ResponseDue:
    """The deadline of the first response to a document received at ``received_at`` (aware, any zone).

    Raises:
        ValueError: ``received_at`` is naive.
    """
    last = add_working_days(_brussels_day(received_at), FIRST_RESPONSE_WORKING_DAYS)
    return ResponseDue(last, _end_of(last))


def response_urgency(due: ResponseDue, now: datetime) -> ResponseUrgency:
    """OVERDUE from ``due.at``; DUE_SOON when its last day is today or the next working day (in Brussels,
    so on Friday a response due Monday is due soon); ON_TIME otherwise.

    Raises:
        ValueError: ``now`` is naive.
    """
    today = _brussels_day(now)
    if now >= due.at:
        return ResponseUrgency.OVERDUE
    if due.last_day <= next_working_day(today):
        return ResponseUrgency.DUE_SOON
    return ResponseUrgency.ON_TIME


def overdue_if_received_before(now: datetime) -> datetime:
    """The receipt instant (aware UTC) before which every first response is overdue at ``now``, and from
    which none is: the deadline grows with the receipt time, so one comparison counts the overdue ones.

    It is the start (00:00 Brussels) of the day after the latest day of receipt whose deadline has passed.

    Raises:
        ValueError: ``now`` is naive.
    """
    today = _brussels_day(now)
    # Overdue once today is past the last day. The latest such day of receipt is at most a few weeks back
    # (3 working days and the holidays between); walk back from the day before today.
    received = today - timedelta(1)
    while add_working_days(received, FIRST_RESPONSE_WORKING_DAYS) >= today:
        received -= timedelta(1)
    return _end_of(received)

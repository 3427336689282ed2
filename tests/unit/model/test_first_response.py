"""When the first Invoice Response (AB) of a received document is due: the end of the third Belgian working
day after the day of receipt (bis-billing.md §9), in Europe/Brussels, whatever the zone of the timestamp."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from gateway.model.first_response import (
    BRUSSELS,
    ResponseUrgency,
    first_response_due,
    overdue_if_received_before,
    response_urgency,
)

_BXL = ZoneInfo("Europe/Brussels")


def _bxl(*args: int) -> datetime:
    return datetime(*args, tzinfo=_BXL)


def test_due_at_the_end_of_the_third_working_day_in_brussels() -> None:
    due = first_response_due(_bxl(2026, 12, 7, 10, 0))  # Monday morning
    assert due.last_day == date(2026, 12, 10)  # Thursday
    assert due.at == _bxl(2026, 12, 11, 0, 0)  # Thursday 24:00 in Brussels
    assert due.at.tzinfo is UTC
    assert due.at == datetime(2026, 12, 10, 23, 0, tzinfo=UTC)  # CET is UTC+1 in December


def test_friday_evening_counts_from_monday() -> None:
    for received in (_bxl(2026, 12, 11, 9, 0), _bxl(2026, 12, 11, 23, 59), _bxl(2026, 12, 12, 12, 0)):
        assert first_response_due(received).last_day == date(2026, 12, 16)  # Wednesday


def test_the_day_of_receipt_is_the_brussels_day_not_the_utc_day() -> None:
    # 23:30 UTC on Friday is already Saturday in Brussels: counted from Saturday, same Wednesday.
    assert first_response_due(datetime(2026, 12, 11, 23, 30, tzinfo=UTC)).last_day == date(2026, 12, 16)
    # 23:30 UTC on Sunday is Monday 00:30 in Brussels: Monday is the day of receipt, due Thursday.
    assert first_response_due(datetime(2026, 12, 13, 23, 30, tzinfo=UTC)).last_day == date(2026, 12, 17)
    # Another zone says the same instant: the result does not depend on how the time was written.
    new_york = datetime(2026, 12, 13, 18, 30, tzinfo=ZoneInfo("America/New_York"))
    assert first_response_due(new_york) == first_response_due(datetime(2026, 12, 13, 23, 30, tzinfo=UTC))


def test_summer_time_and_its_changes() -> None:
    due = first_response_due(_bxl(2026, 7, 1, 12, 0))  # Wednesday, CEST (UTC+2)
    assert due.last_day == date(2026, 7, 6)
    assert due.at == datetime(2026, 7, 6, 22, 0, tzinfo=UTC)
    # Received the Friday before the clocks go back (25 October 2026): due Wednesday 24:00 CET.
    autumn = first_response_due(_bxl(2026, 10, 23, 18, 0))
    assert autumn.at == datetime(2026, 10, 28, 23, 0, tzinfo=UTC)


def test_holidays_push_the_deadline() -> None:
    assert first_response_due(_bxl(2026, 12, 23, 8, 0)).last_day == date(2026, 12, 29)  # Christmas Friday
    assert first_response_due(_bxl(2026, 4, 2, 8, 0)).last_day == date(2026, 4, 8)  # Easter Monday


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        first_response_due(datetime(2026, 12, 7, 10, 0))


def test_urgency_overdue_due_within_the_next_working_day_or_on_time() -> None:
    due = first_response_due(_bxl(2026, 12, 7, 10, 0))  # last day Thursday 10 December
    assert response_urgency(due, _bxl(2026, 12, 8, 9, 0)) is ResponseUrgency.ON_TIME  # Tuesday
    assert response_urgency(due, _bxl(2026, 12, 9, 9, 0)) is ResponseUrgency.DUE_SOON  # Wednesday
    assert response_urgency(due, _bxl(2026, 12, 10, 23, 59)) is ResponseUrgency.DUE_SOON  # the last day
    assert response_urgency(due, _bxl(2026, 12, 11, 0, 0)) is ResponseUrgency.OVERDUE  # Friday 00:00
    assert response_urgency(due, datetime(2026, 12, 10, 23, 0, tzinfo=UTC)) is ResponseUrgency.OVERDUE
    # Over a weekend: due Monday, seen on Friday (the next working day is Monday): due soon.
    monday = first_response_due(_bxl(2026, 12, 9, 10, 0))
    assert monday.last_day == date(2026, 12, 14)
    assert response_urgency(monday, _bxl(2026, 12, 10, 9, 0)) is ResponseUrgency.ON_TIME  # Thursday
    assert response_urgency(monday, _bxl(2026, 12, 11, 9, 0)) is ResponseUrgency.DUE_SOON  # Friday
    assert response_urgency(monday, _bxl(2026, 12, 12, 9, 0)) is ResponseUrgency.DUE_SOON  # Saturday


@pytest.mark.parametrize("hours", range(0, 24 * 21, 5))
def test_overdue_cutoff_agrees_with_the_deadline_of_every_receipt(hours: int) -> None:
    # overdue_if_received_before(now) is the receipt instant before which every first response is overdue
    # at ``now`` and from which none is: the metric counts with it in one query.
    now = datetime(2026, 12, 1, 6, 0, tzinfo=UTC) + timedelta(hours=hours)
    cutoff = overdue_if_received_before(now)
    assert cutoff.tzinfo is UTC
    assert now >= first_response_due(cutoff - timedelta(microseconds=1)).at
    assert now < first_response_due(cutoff).at


def test_brussels_is_the_zone_of_the_rule() -> None:
    assert BRUSSELS.key == "Europe/Brussels"

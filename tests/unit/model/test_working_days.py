"""Belgian working days: Monday to Friday but the ten legal public holidays, Easter-based ones included."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from gateway.model.working_days import (
    add_working_days,
    belgian_public_holidays,
    easter_sunday,
    is_working_day,
    next_working_day,
)


@pytest.mark.parametrize(
    ("year", "expected"),
    [
        (1943, date(1943, 4, 25)),  # the latest possible Easter
        (2008, date(2008, 3, 23)),
        (2011, date(2011, 4, 24)),
        (2019, date(2019, 4, 21)),
        (2024, date(2024, 3, 31)),
        (2025, date(2025, 4, 20)),
        (2026, date(2026, 4, 5)),
        (2027, date(2027, 3, 28)),
        (2038, date(2038, 4, 25)),
        (2285, date(2285, 3, 22)),  # the earliest possible Easter
    ],
)
def test_easter_sunday_of_the_gregorian_calendar(year: int, expected: date) -> None:
    assert easter_sunday(year) == expected


def test_the_ten_belgian_public_holidays_of_2026() -> None:
    assert belgian_public_holidays(2026) == frozenset(
        {
            date(2026, 1, 1),  # New Year
            date(2026, 4, 6),  # Easter Monday
            date(2026, 5, 1),  # Labour Day
            date(2026, 5, 14),  # Ascension (Easter + 39)
            date(2026, 5, 25),  # Whit Monday (Easter + 50)
            date(2026, 7, 21),  # National Day
            date(2026, 8, 15),  # Assumption
            date(2026, 11, 1),  # All Saints
            date(2026, 11, 11),  # Armistice
            date(2026, 12, 25),  # Christmas
        }
    )


def test_easter_based_holidays_move_with_easter() -> None:
    holidays = belgian_public_holidays(2025)  # Easter 20 April 2025
    assert {date(2025, 4, 21), date(2025, 5, 29), date(2025, 6, 9)} <= holidays
    assert date(2025, 4, 6) not in holidays  # 2026's Easter Monday date is no holiday in 2025


def test_weekends_and_holidays_are_not_working_days() -> None:
    assert is_working_day(date(2026, 12, 7))  # a Monday
    assert is_working_day(date(2026, 12, 11))  # a Friday
    assert not is_working_day(date(2026, 12, 12))  # Saturday
    assert not is_working_day(date(2026, 12, 13))  # Sunday
    assert not is_working_day(date(2026, 12, 25))  # Christmas, a Friday
    assert not is_working_day(date(2026, 11, 11))  # Armistice, a Wednesday
    # A holiday on a weekend is not moved to a weekday (no substitute day off in the law).
    assert is_working_day(date(2027, 12, 27))  # Christmas 2027 is a Saturday: the Monday after works


def test_next_working_day_skips_weekends_and_holidays() -> None:
    assert next_working_day(date(2026, 12, 11)) == date(2026, 12, 14)  # Friday -> Monday
    assert next_working_day(date(2026, 12, 12)) == date(2026, 12, 14)  # Saturday -> Monday
    assert next_working_day(date(2026, 12, 24)) == date(2026, 12, 28)  # Christmas Friday, weekend
    assert next_working_day(date(2026, 12, 31)) == date(2027, 1, 4)  # New Year (Friday), weekend
    assert next_working_day(date(2026, 4, 3)) == date(2026, 4, 7)  # Easter weekend and Monday


def test_add_working_days_counts_from_the_day_after() -> None:
    assert add_working_days(date(2026, 12, 7), 3) == date(2026, 12, 10)  # Monday -> Thursday
    assert add_working_days(date(2026, 12, 10), 3) == date(2026, 12, 15)  # Thursday -> Tuesday
    assert add_working_days(date(2026, 12, 11), 3) == date(2026, 12, 16)  # Friday -> Wednesday
    assert add_working_days(date(2026, 12, 13), 3) == date(2026, 12, 16)  # Sunday -> Wednesday
    assert add_working_days(date(2026, 12, 23), 3) == date(2026, 12, 29)  # Thu, (Christmas), Mon, Tue
    assert add_working_days(date(2026, 5, 13), 3) == date(2026, 5, 19)  # over Ascension and its weekend
    assert add_working_days(date(2026, 12, 7), 0) == date(2026, 12, 7)


def test_add_working_days_refuses_a_negative_count() -> None:
    with pytest.raises(ValueError, match="negative"):
        add_working_days(date(2026, 12, 7), -1)


def test_every_day_of_a_year_lands_on_a_working_day_after_it() -> None:
    day = date(2026, 1, 1)
    while day.year == 2026:
        due = add_working_days(day, 3)
        assert is_working_day(due)
        assert 3 <= (due - day).days <= 3 + 2 + 3  # a weekend and at most a few holidays in between
        assert sum(is_working_day(day + timedelta(n)) for n in range(1, (due - day).days + 1)) == 3
        day += timedelta(1)

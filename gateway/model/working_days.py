"""Belgian working days: Monday to Friday except the ten legal public holidays (New Year, Easter Monday,
1 May, Ascension, Whit Monday, 21 July, 15 August, 1 November, 11 November, Christmas). Three follow
Easter, computed for the Gregorian calendar. A holiday falling on a weekend gives no substitute day: the
law leaves that to each employer, so the next Monday counts as a working day. Regional and sector days
off (27 September, 15 November, ...) are not public holidays and count as working days."""

from __future__ import annotations

from datetime import date, timedelta
from functools import cache
from typing import Final

#: Fixed-date public holidays (month, day).
_FIXED: Final = ((1, 1), (5, 1), (7, 21), (8, 15), (11, 1), (11, 11), (12, 25))
#: Public holidays by their distance in days from Easter Sunday: Easter Monday, Ascension, Whit Monday.
_AFTER_EASTER: Final = (1, 39, 50)
_SATURDAY: Final = 5


def easter_sunday(year: int) -> date:
    """Easter Sunday of ``year`` in the Gregorian calendar (the anonymous algorithm, Meeus/Jones/Butcher)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    l = (32 + 2 * e + 2 * i - h - k) % 7  # noqa: E741 - the algorithm's own name
    m = (a + 11 * h + 19 * l) // 433
    month = (h + l - 7 * m + 90) // 25
    return date(year, month, (h + l - 7 * m + 33 * month + 19) % 32)


@cache
def belgian_public_holidays(year: int) -> frozenset[date]:
    """The ten legal public holidays of ``year`` in Belgium."""
    easter = easter_sunday(year)
    return frozenset(
        {date(year, month, day) for month, day in _FIXED} | {easter + timedelta(n) for n in _AFTER_EASTER}
    )


def is_working_day(day: date) -> bool:
    """True for Monday to Friday when not a Belgian public holiday."""
    return day.weekday() < _SATURDAY and day not in belgian_public_holidays(day.year)


def next_working_day(day: date) -> date:
    """The first working day after ``day``."""
    following = day + timedelta(1)
    while not is_working_day(following):
        following += timedelta(1)
    return following


def add_working_days(day: date, count: int) -> date:
    """The ``count``-th working day after ``day`` (``day`` itself not counted, whatever it is); ``day`` for 0.

    Raises:
        ValueError: ``count`` is negative.
    """
    if count < 0:
        raise ValueError(f"cannot add a negative number of working days ({count})")
    for _ in range(count):
        day = next_working_day(day)
    return day

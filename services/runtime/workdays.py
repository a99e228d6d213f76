"""Working days in the Netherlands, for iJw deadlines and escalation timers.

A working day is Monday to Friday except the public holidays of the Algemene termijnenwet
(art. 3): Nieuwjaarsdag, tweede paasdag, Koningsdag, Bevrijdingsdag (every year in that law,
unlike the collective agreements that free it only every five years), Hemelvaartsdag, tweede
pinksterdag and both Christmas days. That law is what makes a statutory term of "5 working
days" longer across a holiday, so it is the calendar the deadlines here follow. Goede Vrijdag
is not in it and counts as a working day.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from dateutil.easter import easter

NL = ZoneInfo("Europe/Amsterdam")


@cache
def public_holidays(year: int) -> frozenset[date]:
    easter_sunday = easter(year)
    kings_day = date(year, 4, 27)
    if kings_day.weekday() == 6:  # on a Sunday it moves to the Saturday before
        kings_day -= timedelta(days=1)
    return frozenset(
        {
            date(year, 1, 1),
            easter_sunday + timedelta(days=1),
            kings_day,
            date(year, 5, 5),
            easter_sunday + timedelta(days=39),  # Hemelvaartsdag
            easter_sunday + timedelta(days=50),  # tweede pinksterdag
            date(year, 12, 25),
            date(year, 12, 26),
        }
    )


def dutch_date(moment: datetime) -> date:
    """The calendar date in the Netherlands at ``moment`` (iJw dates are Dutch dates)."""
    return moment.astimezone(NL).date()


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in public_holidays(day.year)


def add_working_days(start: datetime, days: int) -> datetime:
    """The moment ``days`` working days after ``start``, at the same Dutch wall-clock time.

    A start on a weekend or holiday counts from the start (00:00) of the next working day.
    """
    if days < 0:
        raise ValueError("days must not be negative")
    local = start.astimezone(NL)
    day = local.date()
    clock = local.timetz().replace(tzinfo=None)
    if not is_working_day(day):
        while not is_working_day(day):
            day += timedelta(days=1)
        clock = clock.replace(hour=0, minute=0, second=0, microsecond=0)
    remaining = days
    while remaining:
        day += timedelta(days=1)
        if is_working_day(day):
            remaining -= 1
    return datetime.combine(day, clock, tzinfo=NL).astimezone(start.tzinfo)


def working_days_between(start: date, end: date) -> int:
    """Working days after ``start`` up to and including ``end`` (0 when end <= start)."""
    count, day = 0, start
    while day < end:
        day += timedelta(days=1)
        count += is_working_day(day)
    return count

from datetime import UTC, date, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from services.runtime.workdays import NL, add_working_days, is_working_day, public_holidays, working_days_between


def test_dutch_public_holidays_of_2026() -> None:
    assert public_holidays(2026) == {
        date(2026, 1, 1),
        date(2026, 4, 6),
        date(2026, 4, 27),
        date(2026, 5, 5),
        date(2026, 5, 14),
        date(2026, 5, 25),
        date(2026, 12, 25),
        date(2026, 12, 26),
    }


def test_kings_day_on_a_sunday_moves_to_saturday() -> None:
    assert date(2025, 4, 26) in public_holidays(2025)
    assert date(2025, 4, 27) not in public_holidays(2025)


def test_goede_vrijdag_is_a_working_day_and_weekends_are_not() -> None:
    assert is_working_day(date(2026, 4, 3))
    assert not is_working_day(date(2026, 11, 28))


def test_five_working_days_skip_the_weekend() -> None:
    monday = datetime(2026, 11, 23, 10, 0, tzinfo=NL)
    assert add_working_days(monday, 5) == datetime(2026, 11, 30, 10, 0, tzinfo=NL)


def test_five_working_days_skip_christmas() -> None:
    wednesday = datetime(2026, 12, 23, 9, 0, tzinfo=NL)
    # 24 (Thu), [25 Fri, 26 Sat, 27 Sun holidays/weekend], 28, 29, 30, 31
    assert add_working_days(wednesday, 5) == datetime(2026, 12, 31, 9, 0, tzinfo=NL)


def test_a_start_on_saturday_counts_from_monday_morning() -> None:
    saturday = datetime(2026, 11, 28, 15, 0, tzinfo=NL)
    assert add_working_days(saturday, 1) == datetime(2026, 12, 1, 0, 0, tzinfo=NL)


def test_the_answer_keeps_the_callers_time_zone() -> None:
    start = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    assert add_working_days(start, 0).tzinfo is UTC


@given(st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31)), st.integers(0, 40))
def test_adding_n_working_days_lands_on_a_working_day_n_working_days_later(day: date, n: int) -> None:
    start = datetime.combine(day, datetime.min.time(), tzinfo=NL) + timedelta(hours=12)
    end = add_working_days(start, n)
    first = start.date()
    while not is_working_day(first):
        first += timedelta(days=1)
    assert is_working_day(end.date())
    assert working_days_between(first, end.date()) == n

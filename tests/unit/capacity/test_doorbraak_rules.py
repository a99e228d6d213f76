"""The doorbraak's pure rules: who has a case, when a decision falls due and is overdue, which place a
maatwerk contract proposes, and what becomes of an open decision when the youth starts care."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.doorbraak import DecisionKind, Executor
from services.capacity import doorbraak_rules as rules
from services.runtime.workdays import NL, is_working_day


def _terms(kind: DecisionKind = DecisionKind.MAATWERK, executor: Executor = Executor.GEMEENTE, days: int = 5):  # type: ignore[no-untyped-def]
    return rules.DecisionTerms(kind, executor, None, (), days, None)


# --- who has a case -----------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["open", "proposed"])
@pytest.mark.parametrize("level", ["schakelfunctionaris", "expertteam"])
def test_an_unplaced_youth_escalated_to_either_level_can_be_taken_up(status: str, level: str) -> None:
    assert rules.why_not_taken_up(status, level) is None


def test_a_youth_not_escalated_has_no_case_yet() -> None:
    assert "not escalated" in (rules.why_not_taken_up("open", None) or "")


@pytest.mark.parametrize("status", ["confirmed", "withdrawn", "elsewhere"])
def test_a_youth_placed_or_withdrawn_has_no_case(status: str) -> None:
    assert status in (rules.why_not_taken_up(status, "expertteam") or "")


# --- decisions ----------------------------------------------------------------------------------


def test_a_maatwerk_decision_is_carried_out_by_a_contract_of_the_region_or_the_gemeente() -> None:
    assert rules.why_not_decided(_terms(executor=Executor.CONTRACTMANAGEMENT)) is None
    assert rules.why_not_decided(_terms(executor=Executor.GEMEENTE)) is None
    assert "contractmanagement or gemeente" in (rules.why_not_decided(_terms(executor=Executor.AANBIEDER)) or "")
    assert rules.why_not_decided(_terms(DecisionKind.PGB, Executor.AANBIEDER)) is None


@pytest.mark.parametrize("days", [0, 61])
def test_a_decision_takes_one_to_sixty_working_days(days: int) -> None:
    assert "working_days" in (rules.why_not_decided(_terms(days=days)) or "")


def test_a_meeting_is_recorded_once_held() -> None:
    today = date(2026, 11, 23)
    assert rules.why_not_held(today, today) is None
    assert rules.why_not_held(today - timedelta(days=3), today) is None
    assert "after today" in (rules.why_not_held(today + timedelta(days=1), today) or "")


# --- working days and the due moment ------------------------------------------------------------

MONDAY = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def test_five_working_days_from_a_monday_is_the_next_monday() -> None:
    assert rules.due_date(MONDAY, 5) == date(2026, 11, 30)


def test_the_weekend_does_not_count() -> None:
    assert rules.due_date(datetime(2026, 11, 27, 9, 0, tzinfo=UTC), 1) == date(2026, 11, 30)  # Fri -> Mon


def test_a_decision_on_a_saturday_counts_from_monday() -> None:
    assert rules.due_date(datetime(2026, 11, 28, 12, 0, tzinfo=UTC), 1) == date(2026, 12, 1)


def test_christmas_and_new_year_do_not_count() -> None:
    # Wed 23 Dec: Thu 24 (1), Fri 25 and Sat 26 Christmas, Mon 28 (2), Tue 29 (3).
    assert rules.due_date(datetime(2026, 12, 23, 10, 0, tzinfo=UTC), 3) == date(2026, 12, 29)
    # Thu 31 Dec: Fri 1 Jan is Nieuwjaarsdag.
    assert rules.due_date(datetime(2026, 12, 31, 10, 0, tzinfo=UTC), 1) == date(2027, 1, 4)


def test_koningsdag_bevrijdingsdag_and_hemelvaart_do_not_count() -> None:
    assert rules.due_date(datetime(2027, 4, 26, 9, 0, tzinfo=UTC), 1) == date(2027, 4, 28)  # Tue 27 Apr
    # Tue 4 May 2027: Wed 5 May Bevrijdingsdag, Thu 6 May Hemelvaartsdag.
    assert rules.due_date(datetime(2027, 5, 4, 9, 0, tzinfo=UTC), 1) == date(2027, 5, 7)


def test_the_day_a_decision_is_made_is_the_dutch_day() -> None:
    # 23:30 UTC on Monday is already Tuesday in the Netherlands.
    assert rules.due_date(datetime(2026, 11, 23, 23, 30, tzinfo=UTC), 1) == date(2026, 11, 25)


def test_a_decision_needs_at_least_one_working_day() -> None:
    with pytest.raises(ValueError, match="at least one working day"):
        rules.due_date(MONDAY, 0)


def test_a_decision_is_overdue_from_the_end_of_its_due_date_in_the_netherlands() -> None:
    assert rules.overdue_from(date(2026, 11, 30)) == datetime(2026, 11, 30, 23, 0, tzinfo=UTC)  # CET
    assert rules.overdue_from(date(2027, 6, 1)) == datetime(2027, 6, 1, 22, 0, tzinfo=UTC)  # CEST


@given(
    st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)),
    st.integers(min_value=1, max_value=60),
)
def test_a_due_date_is_a_working_day_exactly_that_many_working_days_on(decided_at: datetime, days: int) -> None:
    due = rules.due_date(decided_at, days)
    decided_on = decided_at.astimezone(NL).date()
    assert is_working_day(due)
    counted = sum(is_working_day(decided_on + timedelta(days=n)) for n in range(1, (due - decided_on).days + 1))
    # Decided on a weekend or holiday, the next working day is day 0 (it starts the count).
    assert counted == days + (0 if is_working_day(decided_on) else 1)
    assert rules.overdue_from(due) > decided_at


# --- the maatwerk proposal ----------------------------------------------------------------------


def test_the_youths_most_preferred_setting_the_decision_and_the_contract_allow() -> None:
    wanted = ["gezinshuis", "residentieel"]
    assert rules.proposal_setting(wanted, [], []) == "gezinshuis"
    assert rules.proposal_setting(wanted, ["residentieel"], []) == "residentieel"
    assert rules.proposal_setting(wanted, [], ["residentieel", "tussenvoorziening"]) == "residentieel"


def test_a_contract_for_another_setting_proposes_in_that_setting() -> None:
    assert rules.proposal_setting(["gezinshuis"], [], ["driemilieu"]) == "driemilieu"
    assert rules.proposal_setting(["gezinshuis"], ["pleegzorg"], []) == "pleegzorg"


# --- settling an open decision when care starts -------------------------------------------------


def test_care_starting_carries_out_a_decision_naming_no_provider_or_that_provider() -> None:
    assert rules.settle_on_care_start(None, "30000001") is rules.Settlement.CARRIED_OUT
    assert rules.settle_on_care_start("30000001", "30000001") is rules.Settlement.CARRIED_OUT


def test_care_starting_elsewhere_withdraws_a_decision_naming_another_provider() -> None:
    assert rules.settle_on_care_start("30000001", "30000002") is rules.Settlement.WITHDRAWN

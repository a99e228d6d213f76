"""Toewijzing rules: no stacking (OP259), change and withdrawal, start and end of care, the
referral's status, and the working-day deadline of a provider's request."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest
from pydantic import ValidationError

from contracts.codes import RedenWijziging
from services.intake import domain
from services.intake.domain import AllocationFacts, ReferralStatus
from services.intake.requests import AllocationChangeIn, AllocationIn
from services.runtime.errors import Conflict, Invalid

AMBULANT = AllocationFacts("45", "45A48", date(2026, 1, 1), date(2026, 6, 30), number=7)


def test_the_same_product_for_an_overlapping_period_is_stacking() -> None:
    with pytest.raises(Conflict, match=r"OP259.*toewijzing 7"):
        domain.check_no_stacking([AMBULANT], "45", "45A48", date(2026, 6, 30), date(2026, 12, 31))


def test_another_product_code_or_an_adjacent_period_is_not_stacking() -> None:
    domain.check_no_stacking([AMBULANT], "45", "45A49", date(2026, 3, 1), date(2026, 12, 31))
    domain.check_no_stacking([AMBULANT], "54", "45A48", date(2026, 3, 1), date(2026, 12, 31))
    domain.check_no_stacking([AMBULANT], "45", "45A48", date(2026, 7, 1), date(2026, 12, 31))


def test_a_withdrawn_toewijzing_counts_only_until_its_effective_date_and_reden_13_never() -> None:
    withdrawn = replace(
        AMBULANT,
        withdrawn=True,
        withdrawal_reason=RedenWijziging.WIJZIGING_ZORGBEHOEFTE,
        effective_date=date(2026, 4, 1),
    )
    domain.check_no_stacking([withdrawn], "45", "45A48", date(2026, 4, 1), date(2026, 12, 31))
    with pytest.raises(Conflict, match=r"OP259"):
        domain.check_no_stacking([withdrawn], "45", "45A48", date(2026, 3, 31), date(2026, 12, 31))
    never = replace(withdrawn, withdrawal_reason=RedenWijziging.NOOIT_GELDIG, effective_date=AMBULANT.start_date)
    assert never.valid_period() is None
    domain.check_no_stacking([never], "45", "45A48", date(2026, 1, 1), date(2026, 6, 30))


def test_an_allocation_needs_a_whole_volume_or_a_budget() -> None:
    base = {"provider_agb": "87654321", "product_category": "45", "start_date": "2026-01-01", "end_date": "2026-06-30"}
    assert AllocationIn.model_validate({**base, "budget": 120_000}).budget == 120_000
    assert AllocationIn.model_validate({**base, "volume": 4, "unit": "04", "frequency": "2"}).volume == 4
    with pytest.raises(ValidationError, match=r"unit, frequency: a volume needs"):
        AllocationIn.model_validate({**base, "volume": 4})
    with pytest.raises(ValidationError, match=r"budget"):
        AllocationIn.model_validate(base)
    with pytest.raises(ValidationError, match=r"end_date .* lies before start_date"):
        AllocationIn.model_validate({**base, "end_date": "2025-12-31", "budget": 1})


def test_a_change_must_change_something_and_keep_the_end_after_the_start() -> None:
    with pytest.raises(ValidationError, match=r"end_date: give at least one"):
        AllocationChangeIn.model_validate({"reason": "02"})
    with pytest.raises(Invalid, match=r"before the toewijzing's start"):
        domain.check_change(AMBULANT, date(2025, 12, 31))
    with pytest.raises(Invalid, match=r"before care started"):
        domain.check_change(replace(AMBULANT, care_start=date(2026, 2, 1)), date(2026, 1, 15))
    with pytest.raises(Conflict, match=r"withdrawn"):
        domain.check_change(replace(AMBULANT, withdrawn=True), date(2026, 12, 31))


def test_withdrawal_with_reden_13_takes_effect_from_the_start_others_on_a_date_inside() -> None:
    assert domain.check_withdrawal(AMBULANT, date(2026, 5, 1), RedenWijziging.NOOIT_GELDIG) == date(2026, 1, 1)
    assert domain.check_withdrawal(AMBULANT, date(2026, 5, 1), RedenWijziging.WIJZIGING_ZORGBEHOEFTE) == date(
        2026, 5, 1
    )
    with pytest.raises(Invalid, match=r"effective_date"):
        domain.check_withdrawal(AMBULANT, date(2026, 7, 1), RedenWijziging.WIJZIGING_ZORGBEHOEFTE)
    with pytest.raises(Conflict, match=r"already withdrawn"):
        domain.check_withdrawal(replace(AMBULANT, withdrawn=True), date(2026, 5, 1), RedenWijziging.NOOIT_GELDIG)


LATER = date(2026, 12, 1)  # "today" in these rules: everything above has happened by then


def test_care_is_reported_once_it_has_happened_never_ahead() -> None:
    with pytest.raises(Invalid, match=r"start_date .* lies after today"):
        domain.check_care_start(AMBULANT, date(2026, 1, 6), today=date(2026, 1, 5))
    started = replace(AMBULANT, care_start=date(2026, 1, 5))
    domain.check_care_end(started, date(2026, 2, 1), today=date(2026, 2, 1))
    with pytest.raises(Invalid, match=r"end_date .* lies after today"):
        domain.check_care_end(started, date(2026, 2, 2), today=date(2026, 2, 1))


def test_care_starts_once_inside_the_toewijzing_and_never_on_a_withdrawn_one() -> None:
    domain.check_care_start(AMBULANT, date(2026, 1, 5), LATER)
    with pytest.raises(Invalid, match=r"start_date .* outside"):
        domain.check_care_start(AMBULANT, date(2025, 12, 31), LATER)
    with pytest.raises(Conflict, match=r"second start"):
        domain.check_care_start(replace(AMBULANT, care_start=date(2026, 1, 5)), date(2026, 1, 6), LATER)
    with pytest.raises(Conflict, match=r"withdrawn"):
        domain.check_care_start(replace(AMBULANT, withdrawn=True), date(2026, 1, 5), LATER)


def test_care_ends_only_after_its_start_and_only_once() -> None:
    started = replace(AMBULANT, care_start=date(2026, 1, 5))
    domain.check_care_end(started, date(2026, 1, 5), LATER)
    with pytest.raises(Conflict, match=r"has not started"):
        domain.check_care_end(AMBULANT, date(2026, 3, 1), LATER)
    with pytest.raises(Invalid, match=r"before care started"):
        domain.check_care_end(started, date(2026, 1, 4), LATER)
    with pytest.raises(Conflict, match=r"already ended"):
        domain.check_care_end(replace(started, care_end=date(2026, 3, 1)), date(2026, 3, 2), LATER)


@pytest.mark.parametrize(
    ("withdrawn", "placed", "allocations", "status"),
    [
        (False, False, [], ReferralStatus.RECEIVED),
        (False, False, [AMBULANT], ReferralStatus.ALLOCATED),
        (False, True, [], ReferralStatus.PLACED),
        (False, True, [AMBULANT], ReferralStatus.PLACED),
        (False, True, [replace(AMBULANT, care_start=date(2026, 1, 5))], ReferralStatus.IN_CARE),
        (
            False,
            False,
            [replace(AMBULANT, care_start=date(2026, 1, 5), care_end=date(2026, 3, 1))],
            ReferralStatus.ENDED,
        ),
        # Ended under one toewijzing, the next not started yet: still waiting for that care.
        (
            False,
            False,
            [
                replace(AMBULANT, care_start=date(2026, 1, 5), care_end=date(2026, 3, 1)),
                replace(AMBULANT, product_code="45A49"),
            ],
            ReferralStatus.ALLOCATED,
        ),
        (False, False, [replace(AMBULANT, withdrawn=True)], ReferralStatus.RECEIVED),
        (True, False, [AMBULANT], ReferralStatus.WITHDRAWN),
    ],
)
def test_the_referral_status_follows_from_its_facts(withdrawn, placed, allocations, status) -> None:  # type: ignore[no-untyped-def]
    assert domain.referral_status(withdrawn, placed, allocations) is status


def test_a_referral_in_care_or_closed_cannot_be_withdrawn() -> None:
    domain.check_referral_withdrawal(ReferralStatus.ALLOCATED)
    with pytest.raises(Conflict, match=r"ends care"):
        domain.check_referral_withdrawal(ReferralStatus.IN_CARE)
    with pytest.raises(Conflict, match=r"withdrawn"):
        domain.check_referral_withdrawal(ReferralStatus.WITHDRAWN)


def test_a_request_is_due_five_working_days_later_skipping_weekend_and_holidays() -> None:
    friday = datetime(2026, 12, 18, 10, 0, tzinfo=UTC)
    due = domain.answer_due(friday, 5)
    # Christmas (25th and 26th) falls inside: Mon 21 … Thu 24, Mon 28.
    assert due.date() == date(2026, 12, 28)
    assert not domain.is_overdue(due, answered=False, now=due)
    assert domain.is_overdue(due, answered=False, now=due.replace(minute=1))
    assert not domain.is_overdue(due, answered=True, now=due.replace(minute=1))


def test_waiting_time_stops_at_care_start_or_runs_on() -> None:
    received = datetime(2026, 1, 1, tzinfo=UTC)
    assert domain.waiting_seconds(received, None, datetime(2026, 1, 2, tzinfo=UTC)) == 86_400
    assert (
        domain.waiting_seconds(received, datetime(2026, 1, 3, tzinfo=UTC), datetime(2026, 5, 1, tzinfo=UTC)) == 172_800
    )

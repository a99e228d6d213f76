"""Specification of matching (who is proposed first) and of escalation timers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from contracts.capacity import EscalationLevel
from contracts.codes import Urgentie
from contracts.verblijf import Setting
from services.capacity.domain import (
    DEFAULT_ESCALATION,
    Candidate,
    EscalationTimer,
    Need,
    best_candidate,
    demand_setting,
    escalation_due,
    in_preference_order,
    next_level,
    rank_candidates,
    waits_urgently,
)
from services.capacity.geography import distance_km
from services.runtime.workdays import NL

HILVERSUM, HUIZEN, BLARICUM = "0402", "0406", "0376"
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def offer(
    agb: str,
    setting: Setting = Setting.CRISISPLEK,
    free: int = 1,
    municipality: str | None = HILVERSUM,
    last: datetime | None = None,
    ages: tuple[int | None, int | None] = (None, None),
) -> Candidate:
    return Candidate(
        agb=agb,
        setting=setting,
        free=free,
        age_min=ages[0],
        age_max=ages[1],
        municipality_code=municipality,
        last_proposed_at=last,
    )


def need(
    *settings: Setting,
    age: int = 14,
    municipality: str = HILVERSUM,
    tried: frozenset[tuple[str, Setting]] = frozenset(),
) -> Need:
    return Need(settings=settings or (Setting.CRISISPLEK,), age=age, municipality_code=municipality, tried=tried)


def test_only_a_free_place_in_an_allowed_setting_for_the_youths_age_is_a_candidate() -> None:
    offers = [
        offer("10000001", free=0),
        offer("10000002", setting=Setting.RESIDENTIEEL),
        offer("10000003", ages=(16, 18)),
        offer("10000004", ages=(12, 17)),
    ]
    assert [c.agb for c in rank_candidates(need(age=14), offers)] == ["10000004"]


def test_an_unborn_child_is_matched_as_a_newborn() -> None:
    assert best_candidate(need(age=-1), [offer("10000001", ages=(0, 4))]) is not None


def test_a_provider_that_declined_is_not_asked_again_for_that_setting() -> None:
    tried = frozenset({("10000001", Setting.CRISISPLEK)})
    assert best_candidate(need(tried=tried), [offer("10000001")]) is None


def test_the_most_family_like_setting_comes_first_whatever_the_referral_order() -> None:
    offers = [offer("10000001", setting=Setting.RESIDENTIEEL), offer("10000002", setting=Setting.GEZINSHUIS)]
    best = best_candidate(need(Setting.RESIDENTIEEL, Setting.GEZINSHUIS), offers)
    assert best is not None and best.setting is Setting.GEZINSHUIS


def test_the_nearest_provider_comes_first_and_unknown_locations_last() -> None:
    offers = [
        offer("10000001", municipality=None),
        offer("10000002", municipality=HUIZEN),
        offer("10000003", municipality=BLARICUM),
        offer("10000004", municipality=HILVERSUM),
    ]
    assert [c.agb for c in rank_candidates(need(municipality=HILVERSUM), offers)] == [
        "10000004",
        "10000003",
        "10000002",
        "10000001",
    ]


def test_among_equals_the_least_recently_proposed_provider_comes_first() -> None:
    offers = [offer("10000001", last=T0), offer("10000002", last=T0 - timedelta(days=2)), offer("10000003")]
    assert [c.agb for c in rank_candidates(need(), offers)] == ["10000003", "10000002", "10000001"]


@given(
    st.lists(
        st.builds(
            offer,
            agb=st.from_regex(r"^1\d{7}$", fullmatch=True),
            setting=st.sampled_from(list(Setting)),
            free=st.integers(0, 3),
            municipality=st.sampled_from([HILVERSUM, HUIZEN, BLARICUM, None]),
        ),
        max_size=12,
    ),
    st.sets(st.sampled_from(list(Setting)), min_size=1),
    st.integers(-1, 22),
)
def test_ranking_never_offers_an_impossible_place_and_keeps_preference_order(offers, settings, age) -> None:  # type: ignore[no-untyped-def]
    ranked = rank_candidates(need(*settings, age=age), offers)
    assert all(c.free > 0 and c.setting in settings and c.admits(age) for c in ranked)
    order = [in_preference_order(settings).index(c.setting) for c in ranked]
    assert order == sorted(order)


def test_distances_are_symmetric_and_zero_within_a_municipality() -> None:
    assert distance_km(HILVERSUM, HILVERSUM) == 0
    assert distance_km(HILVERSUM, HUIZEN) == distance_km(HUIZEN, HILVERSUM) > 0
    assert distance_km(HILVERSUM, "0363") == float("inf")


def test_only_spoed_and_crisis_count_as_urgent_demand_for_the_first_preference() -> None:
    assert waits_urgently(Urgentie.CRISIS) and waits_urgently(Urgentie.SPOED)
    assert not waits_urgently(Urgentie.REGULIER)
    assert demand_setting([Setting.RESIDENTIEEL, Setting.PLEEGZORG]) is Setting.PLEEGZORG


def test_escalation_goes_to_the_schakelfunctionaris_then_the_expert_team_then_stops() -> None:
    assert next_level(None) is EscalationLevel.SCHAKELFUNCTIONARIS
    assert next_level(EscalationLevel.SCHAKELFUNCTIONARIS) is EscalationLevel.EXPERTTEAM
    assert next_level(EscalationLevel.EXPERTTEAM) is None


def test_a_crisis_escalates_in_hours_including_weekends() -> None:
    saturday = datetime(2026, 11, 28, 22, 0, tzinfo=UTC)
    crisis = DEFAULT_ESCALATION[Urgentie.CRISIS]
    assert escalation_due(crisis, None, saturday) == saturday + timedelta(hours=4)
    assert escalation_due(crisis, EscalationLevel.SCHAKELFUNCTIONARIS, saturday) == saturday + timedelta(hours=24)
    assert escalation_due(crisis, EscalationLevel.EXPERTTEAM, saturday) is None


def test_a_regular_case_escalates_in_working_days_skipping_weekends_and_holidays() -> None:
    timer = EscalationTimer(unit="working_days", to_schakelfunctionaris=2, to_expertteam=5)
    christmas_eve = datetime(2026, 12, 24, 10, 0, tzinfo=NL)
    # 24 Dec (Thu) + 2 working days: 25/26 are holidays, 27 is Sunday → Mon 28, Tue 29.
    assert escalation_due(timer, None, christmas_eve) == datetime(2026, 12, 29, 10, 0, tzinfo=NL)


def test_working_day_timers_count_whole_days() -> None:
    with pytest.raises(ValidationError, match="whole days"):
        EscalationTimer(unit="working_days", to_schakelfunctionaris=1.5, to_expertteam=2)

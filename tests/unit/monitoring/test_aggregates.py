"""Monitoring's aggregates: flows, stand, waiting time, suppression and Dutch month boundaries."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from services.monitoring import domain
from services.monitoring.domain import Care, Referral

HILVERSUM, LAREN = "0402", "0417"


def referral(
    n: int, received: datetime, municipality: str = HILVERSUM, category: str = "45", referrer: str = "02"
) -> Referral:
    return Referral(f"r{n}", municipality, category, referrer, received)


def care(
    n: int,
    start: date | None,
    end: date | None = None,
    reason: str | None = None,
    municipality: str = HILVERSUM,
    category: str = "45",
) -> Care:
    return Care(f"r{n}", municipality, category, start, end, reason)


def test_counts_of_one_to_four_are_published_as_less_than_five() -> None:
    assert [domain.published(n) for n in range(7)] == [0, "<5", "<5", "<5", "<5", 5, 6]


@given(st.integers(min_value=0, max_value=10_000))
def test_no_published_count_reveals_a_number_between_one_and_four(count: int) -> None:
    shown = domain.published(count)
    assert shown == "<5" or shown == 0 or shown >= 5


def test_a_referral_late_on_the_last_evening_of_the_month_counts_in_the_dutch_month() -> None:
    # 31 January 23:30 in Amsterdam is still January there, but already 22:30 UTC of the same day;
    # 1 February 00:30 Amsterdam is 31 January 23:30 UTC.
    assert domain.month_of(datetime(2025, 1, 31, 22, 30, tzinfo=UTC)) == "2025-01"
    assert domain.month_of(datetime(2025, 1, 31, 23, 30, tzinfo=UTC)) == "2025-02"
    assert domain.month_of(date(2025, 12, 31)) == "2025-12"


def test_months_between_crosses_the_year() -> None:
    assert domain.months_between("2024-11", "2025-02") == ["2024-11", "2024-12", "2025-01", "2025-02"]
    assert domain.month_end("2024-02") == date(2024, 2, 29)
    assert domain.month_end("2025-12") == date(2025, 12, 31)


def test_flows_count_referrals_starts_and_ends_per_month_municipality_and_category() -> None:
    referrals = [referral(i, datetime(2025, 3, 10, 9, tzinfo=UTC)) for i in range(6)]
    referrals.append(referral(9, datetime(2025, 3, 11, 9, tzinfo=UTC), municipality=LAREN))
    cares = [care(i, date(2025, 3, 20)) for i in range(3)]
    cares.append(care(3, date(2025, 1, 5), date(2025, 3, 31), "31"))
    flows = domain.flows(referrals, cares, ["2025-03"])
    hilversum = flows["2025-03", HILVERSUM, "45"]
    assert (hilversum.referrals_in, hilversum.care_started, hilversum.care_ended) == (6, 3, 1)
    assert flows["2025-03", LAREN, "45"].referrals_in == 1


def test_care_ending_on_the_last_day_is_not_in_care_at_month_end_but_counts_as_ended() -> None:
    cares = [
        care(1, date(2025, 1, 1), date(2025, 1, 31), "31"),
        care(2, date(2025, 1, 31)),
        care(3, date(2025, 1, 1), date(2025, 2, 1), "31"),
        care(4, date(2025, 2, 1)),
    ]
    flows = domain.flows([], cares, ["2025-01", "2025-02"])
    assert flows["2025-01", HILVERSUM, "45"].in_care_at_month_end == 2  # care 2 and 3
    assert flows["2025-01", HILVERSUM, "45"].care_ended == 1
    assert flows["2025-02", HILVERSUM, "45"].in_care_at_month_end == 2  # care 2 and 4
    assert flows["2025-02", HILVERSUM, "45"].care_started == 1


def test_uitval_counts_only_reasons_32_to_35() -> None:
    reasons = ["02", "20", "31", "32", "33", "34", "35", "36", "37", "38", "39"]
    cares = [care(i, date(2025, 1, 1), date(2025, 4, 10), r) for i, r in enumerate(reasons)]
    flow = domain.flows([], cares, ["2025-04"])["2025-04", HILVERSUM, "45"]
    assert flow.uitval == 4
    assert flow.ended_by_reason["31"] == 1
    assert flow.published()["care_ended"] == 11 and flow.published()["uitval"] == "<5"


def test_events_outside_the_requested_months_are_left_out() -> None:
    flows = domain.flows([referral(1, datetime(2025, 5, 1, 12, tzinfo=UTC))], [], ["2025-04"])
    assert ("2025-05", HILVERSUM, "45") not in flows


def test_waiting_time_runs_from_referral_to_first_start_of_care() -> None:
    received = datetime(2025, 1, 1, 10, tzinfo=UTC)
    days = [3, 10, 20, 30, 50, 60]
    referrals = [referral(i, received) for i in range(len(days))]
    cares = [care(i, date(2025, 1, 1) + timedelta(days=d)) for i, d in enumerate(days)]
    # A second allocation of the same youth later on does not lengthen the wait.
    cares.append(care(0, date(2025, 3, 30)))
    months = domain.months_between("2025-01", "2025-03")
    waits = domain.waiting_times(referrals, cares, months, lambda _c: 42, by=lambda _m, r: (r.municipality,))
    wait = waits[(HILVERSUM,)]
    assert wait.youths == 6
    assert wait.median_days == 25.0
    assert wait.p90_days == 60.0  # nearest rank: ceil(0.9 × 6) = 6th value
    assert wait.over_max == 2
    assert wait.published()["share_over_max"] == round(2 / 6, 3)


def test_waiting_time_of_fewer_than_five_youths_is_not_published() -> None:
    received = datetime(2025, 1, 1, 10, tzinfo=UTC)
    waits = domain.waiting_times([referral(1, received)], [care(1, date(2025, 1, 8))], ["2025-01"], lambda _c: 42)
    shown = waits["2025-01", HILVERSUM, "45"].published()
    assert shown == {
        "youths": "<5",
        "median_days": None,
        "p90_days": None,
        "max_wait_days": 42,
        "over_max": 0,
        "share_over_max": None,
    }


def test_each_youth_is_held_against_its_own_category_norm() -> None:
    received = datetime(2025, 1, 1, 10, tzinfo=UTC)
    referrals = [referral(1, received, category="46"), referral(2, received, category="45")]
    cares = [care(1, date(2025, 1, 3), category="46"), care(2, date(2025, 1, 3), category="45")]
    norms = {"46": 1, "45": 42}
    waits = domain.waiting_times(referrals, cares, ["2025-01"], norms.__getitem__, by=lambda m, _r: (m,))
    assert waits[("2025-01",)].over_max == 1
    assert waits[("2025-01",)].max_wait_days is None


def test_percentile_is_a_value_that_occurred() -> None:
    assert domain.percentile([5, 1, 3], 0.9) == 5
    assert domain.percentile([7], 0.5) == 7


def test_veilig_thuis_is_counted_apart_from_the_gemeente() -> None:
    at = datetime(2025, 2, 3, 10, tzinfo=UTC)
    counts = domain.referrals_by_referrer(
        [referral(1, at, referrer="01"), referral(2, at, referrer="veilig_thuis"), referral(3, at, referrer="01")],
        ["2025-02"],
    )
    assert counts == {("2025-02", HILVERSUM, "01"): 2, ("2025-02", HILVERSUM, "veilig_thuis"): 1}


def test_report_age_is_that_of_the_stalest_provider() -> None:
    now = datetime(2025, 1, 1, 12, tzinfo=UTC)
    capacity = domain.SettingCapacity("crisisplek", 4, 3, 1, 2, now - timedelta(minutes=5), now - timedelta(hours=2))
    assert domain.report_age_seconds(capacity, now) == 7200
    assert capacity.occupancy_rate == 0.75
    assert domain.SettingCapacity("gezinshuis", 0, 0, 0, 1, now, now).occupancy_rate is None


def test_an_open_shortage_lasts_until_now() -> None:
    detected = datetime(2025, 1, 1, 12, tzinfo=UTC)
    assert domain.shortage_duration_seconds(detected, None, detected + timedelta(hours=3)) == 10800
    assert (
        domain.shortage_duration_seconds(detected, detected + timedelta(minutes=1), detected + timedelta(days=1)) == 60
    )


def test_escalation_outcome() -> None:
    at = datetime(2025, 1, 1, tzinfo=UTC)
    assert domain.escalation_outcome(at, None) == "geplaatst"
    assert domain.escalation_outcome(None, at) == "ingetrokken"
    assert domain.escalation_outcome(None, None) == "open"


def test_tile_colour_is_red_in_shortage_even_with_places_left() -> None:
    assert domain.tile_colour(3, True) == "tekort"
    assert domain.tile_colour(0, False) == "tekort"
    assert domain.tile_colour(2, False) == "krap"
    assert domain.tile_colour(3, False) == "ruim"


def test_a_referral_registered_later_counts_from_its_own_date() -> None:
    received = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    assert domain.referred_at(received, None) == received
    assert domain.referred_at(received, date(2026, 11, 24)) == received
    earlier = domain.referred_at(received, date(2026, 9, 30))
    assert domain.month_of(earlier) == "2026-09" and earlier < received

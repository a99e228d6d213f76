"""Specification of the "<5" rule on /metrics: counts of youths of 1–4 never appear as a number;
places and shortages stay exact; histograms stay valid."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, generate_latest

from services.monitoring import domain
from services.monitoring.gauges import Snapshot
from services.runtime.clock import Clock

NOW = datetime.now(UTC)


def test_a_count_of_one_to_four_youths_has_no_sample_and_zero_and_five_up_are_exact() -> None:
    assert [domain.metric_count(n) for n in range(7)] == [0, None, None, None, None, 5, 6]


@given(st.integers(min_value=0, max_value=10**6))
def test_the_metric_rule_is_the_dashboards(count: int) -> None:
    shown = domain.published(count)
    assert domain.metric_count(count) == (None if shown == domain.SUPPRESSED else shown)


def test_a_histogram_of_fewer_than_five_youths_is_left_out() -> None:
    assert domain.metric_buckets([1, 2, 4, 4]) is None


def test_a_bucket_of_one_to_four_youths_reads_zero() -> None:
    assert domain.metric_buckets([2, 4, 5, 9, 12]) == [0, 0, 5, 9, 12]


@given(st.lists(st.integers(min_value=0, max_value=30), min_size=1, max_size=10))
def test_shown_buckets_stay_cumulative_and_reveal_no_small_count(increments: list[int]) -> None:
    cumulative = [sum(increments[: i + 1]) for i in range(len(increments))]
    shown = domain.metric_buckets(cumulative)
    if shown is None:
        assert 0 < cumulative[-1] < 5
        return
    assert shown == sorted(shown) and shown[-1] == cumulative[-1]
    assert not any(0 < n < 5 for n in shown)


def scrape(rows: dict) -> str:  # type: ignore[type-arg]
    """The samples /metrics would show for ``rows`` (HELP and TYPE lines left out)."""
    registry = CollectorRegistry()
    snapshot = Snapshot(Clock())
    snapshot.rows = rows
    registry.register(snapshot)
    return "\n".join(ln for ln in generate_latest(registry).decode().splitlines() if not ln.startswith("#"))


ROWS = {
    "referrals": [
        {"product_category": "45", "referrer": "02", "n": 7},
        {"product_category": "45", "referrer": "veilig_thuis", "n": 1},
    ],
    "care_started": [{"product_category": "45", "n": 3}],
    "care_ended": [{"product_category": "45", "reason": "32", "n": 2}],
    "placements": [{"setting": "crisisplek", "n": 4}],
    "waiting": [{"urgency": "crisis", "n": 2}, {"urgency": "regulier", "n": 6}],
    "escalations": [{"level": "schakelfunctionaris", "n": 1}],
    "declarations": [{"outcome": "goedgekeurd", "n": 5}, {"outcome": "afgewezen", "n": 3}],
    "waiting_days": [{"product_category": "45", "days": d} for d in (0, 3, 10, 10, 30)]
    + [{"product_category": "43", "days": d} for d in (2, 40)],
    "occupied": [{"setting": "crisisplek", "n": 2}],
    "shortages": [{"setting": "crisisplek", "n": 1}],
    "report_age": [{"setting": "crisisplek", "oldest": NOW - timedelta(hours=1)}],
}


def test_metrics_show_no_count_of_one_to_four_youths() -> None:
    text = scrape(ROWS)
    youth_metrics = (
        "schakel_referrals",
        "schakel_care_started",
        "schakel_care_ended",
        "schakel_placements",
        "schakel_youths_waiting_for_placement",
        "schakel_escalations",
        "schakel_declaration_lines",
        "schakel_waiting_time_seconds",
    )
    for sample in text.splitlines():
        if sample.startswith(youth_metrics) and not sample.startswith("schakel_waiting_time_seconds_sum"):
            value = float(sample.rsplit(" ", 1)[1])
            assert value == 0 or value >= 5, sample
    assert 'schakel_referrals_total{product_category="45",referrer="02"} 7.0' in text
    assert "veilig_thuis" not in text
    assert 'schakel_youths_waiting_for_placement{urgency="regulier"} 6.0' in text
    assert 'urgency="crisis"' not in text and "schakel_escalations_total{" not in text
    assert 'schakel_declaration_lines_total{outcome="goedgekeurd"} 5.0' in text and "afgewezen" not in text


def test_a_left_out_series_is_counted_per_metric() -> None:
    text = scrape(ROWS)
    left_out = dict(re.findall(r'schakel_suppressed_series\{metric="(\w+)"\} (\S+)', text))
    assert left_out == {
        "schakel_care_ended": "1.0",
        "schakel_care_started": "1.0",
        "schakel_declaration_lines": "1.0",
        "schakel_escalations": "1.0",
        "schakel_placements": "1.0",
        "schakel_referrals": "1.0",
        "schakel_waiting_time_seconds": "1.0",
        "schakel_youths_waiting_for_placement": "1.0",
    }


def test_the_waiting_histogram_of_five_youths_shows_with_small_buckets_at_zero() -> None:
    text = scrape(ROWS)
    assert 'schakel_waiting_time_seconds_count{product_category="45"} 5.0' in text
    assert 'schakel_waiting_time_seconds_bucket{le="86400",product_category="45"} 0.0' in text
    assert (
        'schakel_waiting_time_seconds_bucket{le="1209600",product_category="45"} 0.0' in text
    )  # 4 youths within 14 days
    assert 'schakel_waiting_time_seconds_bucket{le="2419200",product_category="45"} 0.0' in text
    assert 'schakel_waiting_time_seconds_bucket{le="3628800",product_category="45"} 5.0' in text
    # Seconds, Prometheus' base unit: 0 + 3 + 10 + 10 + 30 days.
    assert 'schakel_waiting_time_seconds_sum{product_category="45"} 4.5792e+06' in text
    assert 'product_category="43"' not in text


def test_places_and_shortages_are_not_youths_and_stay_exact() -> None:
    text = scrape(ROWS)
    assert 'schakel_places_occupied{setting="crisisplek"} 2.0' in text
    assert 'schakel_shortages_total{setting="crisisplek"} 1.0' in text

"""Specification of when a verblijf setting is in shortage, and when that ends."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from services.capacity.domain import (
    ProviderCapacity,
    ShortageChange,
    ShortageThreshold,
    evaluate,
    regional_free,
    severity,
)

DEFAULT = ShortageThreshold()


def test_last_free_place_taken_starts_a_shortage() -> None:
    assert evaluate(active=False, free=0, waiting=0, threshold=DEFAULT) is ShortageChange.DETECTED


def test_one_free_place_and_nobody_waiting_is_no_shortage() -> None:
    assert evaluate(active=False, free=1, waiting=0, threshold=DEFAULT) is ShortageChange.NONE


def test_free_places_that_cannot_cover_urgent_demand_start_a_shortage() -> None:
    assert evaluate(active=False, free=2, waiting=3, threshold=DEFAULT) is ShortageChange.DETECTED


def test_a_place_freeing_up_resolves_the_default_shortage() -> None:
    assert evaluate(active=True, free=1, waiting=0, threshold=DEFAULT) is ShortageChange.RESOLVED


def test_shortage_resolves_only_after_the_margin_of_free_places() -> None:
    threshold = ShortageThreshold(min_free=1, resolve_margin=2)
    assert evaluate(active=False, free=1, waiting=0, threshold=threshold) is ShortageChange.DETECTED
    assert evaluate(active=True, free=2, waiting=0, threshold=threshold) is ShortageChange.NONE
    assert evaluate(active=True, free=3, waiting=0, threshold=threshold) is ShortageChange.RESOLVED


def test_shortage_stays_while_waiting_youths_still_outnumber_places() -> None:
    assert evaluate(active=True, free=3, waiting=3, threshold=DEFAULT) is ShortageChange.NONE
    assert evaluate(active=True, free=4, waiting=3, threshold=DEFAULT) is ShortageChange.RESOLVED


def test_an_active_shortage_is_not_detected_twice() -> None:
    assert evaluate(active=True, free=0, waiting=5, threshold=DEFAULT) is ShortageChange.NONE


def test_a_provider_closed_to_admission_offers_no_free_place() -> None:
    assert ProviderCapacity(total=5, occupied=2, closed_to_admission=True).free == 0
    assert ProviderCapacity(total=5, occupied=2, closed_to_admission=False).free == 3


def test_regional_free_adds_up_open_providers_only() -> None:
    providers = [ProviderCapacity(4, 4, False), ProviderCapacity(3, 1, False), ProviderCapacity(9, 0, True)]
    assert regional_free(providers) == 2


def test_severity_is_kritiek_when_youths_wait_for_more_places_than_exist() -> None:
    assert severity(free=1, waiting=2) == "kritiek"
    assert severity(free=0, waiting=0) == "tekort"


thresholds = st.builds(ShortageThreshold, min_free=st.integers(0, 5), resolve_margin=st.integers(1, 5))
counts = st.integers(0, 50)


@given(thresholds, counts, counts)
def test_a_state_never_both_detects_and_resolves(threshold: ShortageThreshold, free: int, waiting: int) -> None:
    # Hysteresis: no figures are at once "short" and "recovered", so an alert cannot flap on one report.
    detected = evaluate(False, free, waiting, threshold) is ShortageChange.DETECTED
    resolved = evaluate(True, free, waiting, threshold) is ShortageChange.RESOLVED
    assert not (detected and resolved)


@given(thresholds, counts, counts)
def test_after_detection_the_same_figures_change_nothing(threshold: ShortageThreshold, free: int, waiting: int) -> None:
    if evaluate(False, free, waiting, threshold) is ShortageChange.DETECTED:
        assert evaluate(True, free, waiting, threshold) is ShortageChange.NONE


@given(thresholds, counts)
def test_with_nobody_waiting_a_shortage_exists_exactly_at_or_below_the_minimum(
    threshold: ShortageThreshold, free: int
) -> None:
    detected = evaluate(False, free, 0, threshold) is ShortageChange.DETECTED
    assert detected == (free <= threshold.min_free)

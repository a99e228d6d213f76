"""The per-key token bucket: a burst at once, then the sustained rate; a wait that says when to retry."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.runtime.ratelimit import Rate, TokenBuckets, retry_after
from services.runtime.settings import DEFAULT_RATES, ServiceSettings


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_key_gets_its_burst_at_once_and_the_next_request_waits_for_one_token() -> None:
    clock = FakeClock()
    buckets = TokenBuckets(clock)
    rate = Rate(per_second=2, burst=20)
    assert [buckets.take("k", rate) for _ in range(20)] == [0.0] * 20
    assert buckets.take("k", rate) == pytest.approx(0.5)


def test_tokens_come_back_at_the_sustained_rate_but_never_beyond_the_burst() -> None:
    clock = FakeClock()
    buckets = TokenBuckets(clock)
    rate = Rate(per_second=1, burst=3)
    for _ in range(3):
        buckets.take("k", rate)
    clock.now += 2
    assert [buckets.take("k", rate) for _ in range(3)] == [0.0, 0.0, pytest.approx(1.0)]
    clock.now += 3600
    assert [buckets.take("k", rate) for _ in range(4)][-1] > 0


def test_each_key_has_its_own_bucket() -> None:
    buckets = TokenBuckets(FakeClock())
    rate = Rate(per_second=1, burst=1)
    assert buckets.take("a", rate) == 0.0
    assert buckets.take("a", rate) > 0
    assert buckets.take("b", rate) == 0.0


def test_a_refused_request_does_not_take_a_token() -> None:
    clock = FakeClock()
    buckets = TokenBuckets(clock)
    rate = Rate(per_second=1, burst=1)
    buckets.take("k", rate)
    for _ in range(5):
        buckets.take("k", rate)  # hammering while refused does not push the wait further out
    clock.now += 1
    assert buckets.take("k", rate) == 0.0


def test_full_buckets_are_forgotten_when_there_are_too_many_keys() -> None:
    clock = FakeClock()
    buckets = TokenBuckets(clock, max_keys=2)
    rate = Rate(per_second=1, burst=1)
    buckets.take("a", rate)
    buckets.take("b", rate)
    clock.now += 5
    buckets.take("c", rate)
    assert len(buckets) == 1


@pytest.mark.parametrize(("wait", "header"), [(0.01, "1"), (1.0, "1"), (1.2, "2"), (59.5, "60")])
def test_retry_after_is_whole_seconds_rounded_up(wait: float, header: str) -> None:
    assert retry_after(wait) == header


def _settings(**values: object) -> ServiceSettings:
    return ServiceSettings(service="test", port=1, database_url="postgresql://x", **values)  # type: ignore[arg-type]


def test_every_role_has_a_default_and_naming_one_role_keeps_the_others() -> None:
    settings = _settings(rate_limits={"referrer": {"per_second": 0.5, "burst": 20}})
    assert settings.rate_limits["referrer"] == Rate(per_second=0.5, burst=20)
    assert settings.rate_limits["provider"] == DEFAULT_RATES["provider"]
    assert set(_settings().rate_limits) == {
        "referrer",
        "gemeente",
        "provider",
        "schakelfunctionaris",
        "expertteam",
        "expertisenetwerk",
        "operator",
        "admin",
    }


def test_an_unknown_role_in_the_rate_limits_is_refused_at_start_up() -> None:
    with pytest.raises(ValidationError, match="unknown roles"):
        _settings(rate_limits={"burgemeester": {"per_second": 1, "burst": 1}})


def test_the_rate_limits_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCHAKEL_RATE_LIMITS", '{"gemeente": {"per_second": 5, "burst": 50}}')
    monkeypatch.setenv("SCHAKEL_RATE_LIMITING", "false")
    settings = _settings()
    assert settings.rate_limits["gemeente"] == Rate(per_second=5, burst=50)
    assert settings.rate_limiting is False

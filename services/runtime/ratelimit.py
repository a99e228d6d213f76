"""Per-key rate limits: a token bucket per API key, kept in this process's memory.

Each replica keeps its own buckets, so with N replicas behind a balancer a key may make up to
N times its rate in total. That is acceptable for what the limit is for — one runaway or hostile
key must not starve a service — and needs no shared store on the request path.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from pydantic import BaseModel, ConfigDict, Field


class Rate(BaseModel):
    """A sustained rate with a burst on top: ``burst`` requests at once, then ``per_second``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    per_second: float = Field(gt=0, description="Requests per second a key may make, sustained.")
    burst: int = Field(ge=1, description="Requests a key may make at once after being idle.")


class TokenBuckets:
    """One bucket per key: it holds up to ``burst`` tokens, refills at ``per_second``, and each
    request takes one. Time comes from ``clock`` (monotonic seconds) so tests can move it."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000) -> None:
        self._clock = clock
        self._max_keys = max_keys
        # key → (tokens left, when counted, when full again)
        self._buckets: dict[str, tuple[float, float, float]] = {}

    def take(self, key: str, rate: Rate) -> float:
        """Take a token for ``key``: 0.0 when the request may go ahead, else the seconds until it may."""
        now = self._clock()
        tokens, at, _ = self._buckets.get(key, (float(rate.burst), now, now))
        tokens = min(float(rate.burst), tokens + (now - at) * rate.per_second)
        wait = 0.0
        if tokens >= 1:
            tokens -= 1
        else:
            wait = (1 - tokens) / rate.per_second
        if key not in self._buckets and len(self._buckets) >= self._max_keys:
            self._forget_full(now)
        self._buckets[key] = (tokens, now, now + (rate.burst - tokens) / rate.per_second)
        return wait

    def __len__(self) -> int:
        return len(self._buckets)

    def _forget_full(self, now: float) -> None:
        # A bucket that has refilled is the same as no bucket, so forgetting it changes no answer.
        for key in [k for k, (_, _, full_at) in self._buckets.items() if full_at <= now]:
            del self._buckets[key]


def retry_after(wait: float) -> str:
    """A ``Retry-After`` value: whole seconds, rounded up, at least 1."""
    return str(max(1, math.ceil(wait)))

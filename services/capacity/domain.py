"""Pure capacity rules: free places per setting and when a shortage starts and ends."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field, model_validator

from contracts.capacity import Severity


class ShortageThreshold(BaseModel):
    """When a setting counts as short, per region (DOMAIN §3.4: thresholds are configuration).

    A shortage starts when free places fall to ``min_free`` or below, or cannot cover the
    youths waiting urgently. It ends only once there are ``resolve_margin`` places more than
    both, so one bed coming and going does not make the alert flap.
    """

    min_free: int = Field(default=0, ge=0)
    resolve_margin: int = Field(default=1, ge=1)


@dataclass(frozen=True)
class ProviderCapacity:
    """The latest figures of one provider for one setting."""

    total: int
    occupied: int
    closed_to_admission: bool

    @property
    def free(self) -> int:
        # A provider closed to admission offers no place, whatever its beds say.
        return 0 if self.closed_to_admission else max(self.total - self.occupied, 0)


def regional_free(providers: Iterable[ProviderCapacity]) -> int:
    return sum(p.free for p in providers)


class ShortageChange(StrEnum):
    NONE = "none"
    DETECTED = "detected"
    RESOLVED = "resolved"


def is_short(free: int, waiting: int, threshold: ShortageThreshold) -> bool:
    return free <= threshold.min_free or free < waiting


def has_recovered(free: int, waiting: int, threshold: ShortageThreshold) -> bool:
    return free >= max(threshold.min_free, waiting) + threshold.resolve_margin


def evaluate(active: bool, free: int, waiting: int, threshold: ShortageThreshold) -> ShortageChange:
    """What happens to a setting's shortage state given the region's new figures."""
    if not active and is_short(free, waiting, threshold):
        return ShortageChange.DETECTED
    if active and has_recovered(free, waiting, threshold):
        return ShortageChange.RESOLVED
    return ShortageChange.NONE


def severity(free: int, waiting: int) -> Severity:
    return Severity.KRITIEK if waiting > free else Severity.TEKORT


class CapacityFigures(BaseModel):
    """A provider's report for one setting, as the HTTP body carries it."""

    total: int = Field(ge=0, le=10_000, description="Places the provider has for this setting.")
    occupied: int = Field(ge=0, le=10_000, description="Places taken now.")
    closed_to_admission: bool = Field(default=False, description="No new youths for now, whatever is free.")
    age_min: int | None = Field(default=None, ge=0, le=27, description="Youngest age admitted.")
    age_max: int | None = Field(default=None, ge=0, le=27, description="Oldest age admitted.")

    @model_validator(mode="after")
    def _consistent(self) -> CapacityFigures:
        if self.occupied > self.total:
            raise ValueError(f"occupied ({self.occupied}) cannot exceed total ({self.total})")
        if self.age_min is not None and self.age_max is not None and self.age_min > self.age_max:
            raise ValueError(f"age_min ({self.age_min}) cannot exceed age_max ({self.age_max})")
        return self


@dataclass(frozen=True)
class SettingSummary:
    """The region's picture of one setting, as ``GET /v1/capacity`` shows it."""

    setting: str
    free: int
    total: int
    occupied: int
    providers: int
    providers_closed: int
    last_updated: datetime
    oldest_report: datetime
    shortage_since: datetime | None


def summarise(setting: str, reports: Sequence[tuple[ProviderCapacity, datetime]],
              shortage_since: datetime | None) -> SettingSummary:
    providers = [p for p, _ in reports]
    times = [t for _, t in reports]
    return SettingSummary(
        setting=setting,
        free=regional_free(providers),
        total=sum(p.total for p in providers),
        occupied=sum(p.occupied for p in providers),
        providers=len(providers),
        providers_closed=sum(p.closed_to_admission for p in providers),
        last_updated=max(times),
        oldest_report=min(times),
        shortage_since=shortage_since,
    )

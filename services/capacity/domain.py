"""Pure capacity rules: free places per setting, when a shortage starts, changes and ends,
matching a youth to a place, and when an unplaced youth escalates."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from uuid import UUID

from pydantic import BaseModel, Field, model_validator

from contracts.capacity import EscalationLevel, Severity
from contracts.codes import Urgentie
from contracts.verblijf import PREFERENCE_ORDER, Setting
from services.capacity.geography import distance_km
from services.runtime.workdays import add_working_days


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
    # Places held by open proposals: offered to a youth, so not free for anyone else.
    reserved: int = 0

    @property
    def free(self) -> int:
        # A provider closed to admission offers no place, whatever its beds say.
        return 0 if self.closed_to_admission else max(self.total - self.occupied - self.reserved, 0)


def regional_free(providers: Iterable[ProviderCapacity]) -> int:
    return sum(p.free for p in providers)


class ShortageChange(StrEnum):
    NONE = "none"
    DETECTED = "detected"
    # An open shortage turned critical, or stopped being critical.
    CHANGED = "changed"
    RESOLVED = "resolved"


@dataclass(frozen=True)
class OpenShortage:
    """A setting's shortage while it lasts."""

    id: UUID
    since: datetime
    severity: Severity


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


def judge(current: OpenShortage | None, free: int, waiting: int, threshold: ShortageThreshold) -> ShortageChange:
    """What happens to a setting's shortage, open (``current``) or not, given the region's new figures.

    An open shortage is reported again only when its severity changes, not on every count.
    """
    change = evaluate(current is not None, free, waiting, threshold)
    if change is ShortageChange.NONE and current is not None and severity(free, waiting) != current.severity:
        return ShortageChange.CHANGED
    return change


class CapacityFigures(BaseModel):
    """A provider's report for one setting, as the HTTP body carries it."""

    total: int = Field(ge=0, le=10_000, description="Places the provider has for this setting.")
    occupied: int = Field(ge=0, le=10_000, description="Places taken now.")
    closed_to_admission: bool = Field(default=False, description="No new youths for now, whatever is free.")
    # The same bound as CapacityReported's: a report the event could not carry was a 500 (schemathesis).
    age_min: int | None = Field(default=None, ge=0, le=23, description="Youngest age admitted.")
    age_max: int | None = Field(default=None, ge=0, le=23, description="Oldest age admitted.")

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

    setting: Setting
    free: int
    total: int
    occupied: int
    reserved: int
    providers: int
    providers_closed: int
    last_updated: datetime
    oldest_report: datetime
    shortage_active: bool
    shortage_since: datetime | None


def summarise(
    setting: Setting, reports: Sequence[tuple[ProviderCapacity, datetime]], shortage_since: datetime | None
) -> SettingSummary:
    providers = [p for p, _ in reports]
    times = [t for _, t in reports]
    return SettingSummary(
        setting=setting,
        free=regional_free(providers),
        total=sum(p.total for p in providers),
        occupied=sum(p.occupied for p in providers),
        reserved=sum(p.reserved for p in providers),
        providers=len(providers),
        providers_closed=sum(p.closed_to_admission for p in providers),
        last_updated=max(times),
        oldest_report=min(times),
        shortage_active=shortage_since is not None,
        shortage_since=shortage_since,
    )


# --- Matching --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """A provider's offer in one setting as matching sees it (reservations already subtracted)."""

    agb: str
    setting: Setting
    free: int
    age_min: int | None
    age_max: int | None
    municipality_code: str | None
    last_proposed_at: datetime | None

    def admits(self, age: int) -> bool:
        # An unborn child (-1) is placed as a newborn.
        age = max(age, 0)
        return (self.age_min is None or age >= self.age_min) and (self.age_max is None or age <= self.age_max)


@dataclass(frozen=True)
class Need:
    """What a youth waiting for a place needs."""

    settings: tuple[Setting, ...]
    age: int
    municipality_code: str
    # (agb, setting) pairs that declined or let the reservation lapse: never proposed again.
    tried: frozenset[tuple[str, Setting]] = frozenset()


def in_preference_order(settings: Iterable[Setting]) -> tuple[Setting, ...]:
    """Settings sorted as DOMAIN §3.3 prefers them: most family-like first."""
    wanted = set(settings)
    return tuple(s for s in PREFERENCE_ORDER if s in wanted)


def rank_candidates(need: Need, candidates: Iterable[Candidate]) -> list[Candidate]:
    """Every provider that could take the youth, best first.

    Best = the most preferred setting the referral allows; then the nearest provider; then the
    one proposed least recently (never proposed first), so no provider becomes a favourite;
    the AGB code breaks ties so the order is the same every time.
    """
    preference = {s: i for i, s in enumerate(in_preference_order(need.settings))}
    eligible = [
        c
        for c in candidates
        if c.setting in preference and c.free > 0 and c.admits(need.age) and (c.agb, c.setting) not in need.tried
    ]
    never = datetime.min.replace(tzinfo=UTC)
    return sorted(
        eligible,
        key=lambda c: (
            preference[c.setting],
            distance_km(need.municipality_code, c.municipality_code),
            c.last_proposed_at or never,
            c.agb,
        ),
    )


def best_candidate(need: Need, candidates: Iterable[Candidate]) -> Candidate | None:
    ranked = rank_candidates(need, candidates)
    return ranked[0] if ranked else None


# A youth in one of these is still waiting for a place: it counts as demand, and may escalate.
UNPLACED = ("open", "proposed")


def waits_urgently(urgency: Urgentie) -> bool:
    """Urgent demand is what a shortage is measured against (DOMAIN §3.4)."""
    return urgency in (Urgentie.SPOED, Urgentie.CRISIS)


def demand_setting(settings: Iterable[Setting]) -> Setting:
    """The setting an unplaced youth counts as demand for: the most preferred it allows."""
    return in_preference_order(settings)[0]


# --- Escalation ------------------------------------------------------------------------------


class TimerUnit(StrEnum):
    HOURS = "hours"
    WORKING_DAYS = "working_days"


class EscalationTimer(BaseModel):
    """How long a youth may stay unplaced before each escalation (DOMAIN §3.3, issue 4)."""

    unit: TimerUnit
    to_schakelfunctionaris: float = Field(gt=0, description="From the request to the schakelfunctionaris.")
    to_expertteam: float = Field(gt=0, description="From that escalation on to the expert team.")

    @model_validator(mode="after")
    def _whole_working_days(self) -> EscalationTimer:
        if self.unit is TimerUnit.WORKING_DAYS and not (
            self.to_schakelfunctionaris.is_integer() and self.to_expertteam.is_integer()
        ):
            raise ValueError("working-day timers count whole days")
        return self

    def after(self, start: datetime, amount: float) -> datetime:
        if self.unit is TimerUnit.HOURS:
            return start + timedelta(hours=amount)
        return add_working_days(start, int(amount))


DEFAULT_ESCALATION: dict[Urgentie, EscalationTimer] = {
    Urgentie.CRISIS: EscalationTimer(unit=TimerUnit.HOURS, to_schakelfunctionaris=4, to_expertteam=24),
    Urgentie.SPOED: EscalationTimer(unit=TimerUnit.WORKING_DAYS, to_schakelfunctionaris=2, to_expertteam=3),
    Urgentie.REGULIER: EscalationTimer(unit=TimerUnit.WORKING_DAYS, to_schakelfunctionaris=10, to_expertteam=10),
}


def next_level(level: EscalationLevel | None) -> EscalationLevel | None:
    """The level an escalation goes to from ``level``; None once the expert team has the case."""
    if level is None:
        return EscalationLevel.SCHAKELFUNCTIONARIS
    if level is EscalationLevel.SCHAKELFUNCTIONARIS:
        return EscalationLevel.EXPERTTEAM
    return None


def escalation_due(timer: EscalationTimer, level: EscalationLevel | None, since: datetime) -> datetime | None:
    """When a youth at ``level`` (reached at ``since``, or requested then) escalates next."""
    if level is None:
        return timer.after(since, timer.to_schakelfunctionaris)
    if level is EscalationLevel.SCHAKELFUNCTIONARIS:
        return timer.after(since, timer.to_expertteam)
    return None

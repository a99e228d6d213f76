"""The simulated region's state and what happens on each simulated day — pure, no I/O.

A run plays the PAST: its last simulated day is today (Dutch date), so a backfill of a year fills
the dashboard with a year of flows, and every date sent is one that has already happened — intake
refuses a care start or end in the future (a JW305/JW307 reports what happened), and declarations
are only for months that have passed. Only a toewijzing's end date may lie ahead.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from contracts.codes import Productcategorie, RedenBeeindiging, Urgentie
from contracts.verblijf import Setting
from services.sim import region
from services.sim.region import ReferrerKind

# --- the simulated calendar ------------------------------------------------------------------


@dataclass(frozen=True)
class Calendar:
    """Simulated day ``d`` (1..days) is the date ``first + d - 1``; day ``days`` is today."""

    first: date
    days: int

    @classmethod
    def ending(cls, today: date, days: int) -> Calendar:
        return cls(today - timedelta(days=days - 1), days)

    @property
    def today(self) -> date:
        return self.date_of(self.days)

    def date_of(self, day: int) -> date:
        if day > self.days:
            raise ValueError(f"simulated day {day} lies after today (day {self.days})")
        return self.first + timedelta(days=day - 1)

    def extended(self) -> Calendar:
        """The calendar once the real date has moved on by a day (a live demo past midnight)."""
        return Calendar(self.first, self.days + 1)


# --- providers and their places --------------------------------------------------------------


@dataclass
class Beds:
    """One provider's places in one setting. ``background`` are youths placed before or outside the
    simulation; ``cases`` are the simulator's own youths."""

    total: int
    background: int
    cases: set[int] = field(default_factory=set)
    closed: bool = False
    # What was last reported to capacity, and on which simulated day.
    reported: tuple[int, int, bool] | None = None
    reported_on: int = 0

    @property
    def occupied(self) -> int:
        return min(self.background + len(self.cases), self.total)

    @property
    def free(self) -> int:
        return self.total - self.occupied

    @property
    def report(self) -> tuple[int, int, bool]:
        return self.total, self.occupied, self.closed

    def needs_report(self, day: int) -> bool:
        """A provider reports when its places change, and confirms them weekly: a year is played in
        seconds, so reporting unchanged places daily would only load the services."""
        return self.report != self.reported or day - self.reported_on >= REPORT_EVERY_DAYS


REPORT_EVERY_DAYS = 7


@dataclass
class Provider:
    agb: str
    kind: str
    lots: tuple[str, ...]
    beds: dict[Setting, Beds]
    # A provider that forgets one document is rejected for its lots (and the region can see why).
    missing_evidence: str | None = None
    # Contracted since the region's earlier tender: its contract is registered as already running,
    # so the simulated past can be declared against it. The others apply through Open House.
    incumbent: bool = False
    admitted_lots: set[str] = field(default_factory=set)
    # Its Open House contract runs from its admission, a real date: care before it is not declarable.
    contracted_from: date | None = None


def make_providers(rng: random.Random) -> list[Provider]:
    taken: set[str] = set()
    providers = []
    for profile in region.PROVIDER_MIX:
        for _ in range(profile.count):
            beds = {
                s: Beds(total, background=min(round(total * rng.uniform(0.8, 0.95)), total - 1))
                for s, total in profile.places
            }
            providers.append(Provider(region.invented_agb(rng, taken), profile.kind, profile.lots, beds))
    # One ambulant applicant forgets its meldcode: Open House rejects it with that reason.
    next(p for p in providers if p.kind == "ambulant").missing_evidence = "meldcode"
    for number, provider in enumerate(providers):
        # Three in four ran before Schakel; every fourth is a newcomer applying through Open House.
        provider.incumbent = provider.missing_evidence is None and number % 4 != 3
    return providers


# --- youths ----------------------------------------------------------------------------------


@dataclass
class Case:
    """One youth referred by the simulator, with the fate drawn for it at referral."""

    number: int
    day: int  # simulated day of the referral
    municipality: str
    referrer: ReferrerKind
    referrer_agb: str | None
    category: Productcategorie
    settings: list[Setting]
    urgency: Urgentie
    ambulant_tried: bool
    bsn: str
    name: str
    birth_date: date
    decision_after: int  # days until the gemeente issues the toewijzing (ambulant)
    wait: int  # days from referral to the start of care (ambulant)
    care_days: int
    end_reason: RedenBeeindiging
    withdraw_on: int | None = None
    declines_first: bool = False
    # What the services answered, and what happened so far.
    referral_id: str | None = None
    client_ref: str | None = None
    doorbraak: bool = False  # nobody takes the youth until the expert team's maatwerk provider does
    maatwerk_agb: str | None = None
    provider: str | None = None
    setting: Setting | None = None
    allocation_id: str | None = None
    allocation_number: int | None = None
    allocation_start: date | None = None
    allocation_end: date | None = None
    placed_on: int | None = None
    started_on: int | None = None
    ended_on: int | None = None
    withdrawn: bool = False
    declared_until: date | None = None

    @property
    def verblijf(self) -> bool:
        return self.category.needs_setting


def new_case(
    rng: random.Random,
    number: int,
    day: int,
    volumes: region.Volumes,
    referral_date: date,
    referrers: Mapping[ReferrerKind, list[str]],
    used_bsns: set[str],
    municipalities: Sequence[region.Municipality] = region.MUNICIPALITIES,
) -> Case:
    """Draw one new referral: who refers, where the youth lives, what care, and how its story goes."""
    municipality = region.pick_municipality(rng, municipalities).code
    referrer = region.pick(rng, region.REFERRER_MIX)
    draw = rng.random()
    if draw < volumes.crisis_share:
        setting, category = Setting.CRISISPLEK, Productcategorie.CRISIS
        settings = [setting]
    elif draw < volumes.crisis_share + volumes.verblijf_share:
        setting = region.pick(rng, region.VERBLIJF_MIX)
        category = region.category_of(setting)
        settings = [setting, *(s for s in region.ALTERNATIVES[setting] if region.category_of(s) is category)]
    else:
        setting, category, settings = None, region.pick(rng, region.AMBULANT_MIX), []
    bsn = region.synthetic_bsn(rng)
    while bsn in used_bsns:
        bsn = region.synthetic_bsn(rng)
    used_bsns.add(bsn)
    decided_by_referrer = not referrer.type.needs_gemeente_decision
    decision_after = 0 if decided_by_referrer else rng.randint(2, 8)
    wait = decision_after + 1 + round(rng.lognormvariate(0, 0.6) * region.AMBULANT_WAIT_MEDIAN_DAYS)
    mean_days = region.STAY_DAYS[setting] if setting else region.AMBULANT_CARE_DAYS
    return Case(
        number=number,
        day=day,
        municipality=municipality,
        referrer=referrer,
        referrer_agb=rng.choice(referrers[referrer]) if referrers.get(referrer) else None,
        category=category,
        settings=settings,
        urgency=region.urgency_for(rng, category, referrer),
        ambulant_tried=setting is not Setting.CRISISPLEK and rng.random() < 0.7,
        bsn=bsn,
        name=region.fake_name(rng),
        birth_date=region.birth_date(rng, referral_date, 12 if setting is Setting.JEUGDZORGPLUS else 0, 17),
        decision_after=decision_after,
        wait=wait,
        care_days=max(round(rng.expovariate(1 / mean_days)), 7),
        end_reason=region.pick(rng, region.END_REASONS),
        withdraw_on=day + rng.randint(1, decision_after - 1) if decision_after > 2 and rng.random() < 0.04 else None,
        declines_first=rng.random() < 0.15,
    )


# --- shortages the simulator provokes --------------------------------------------------------


@dataclass(frozen=True)
class Crunch:
    """Providers of ``setting`` close to admission (staff shortage, an outbreak) from ``start`` to ``end``."""

    setting: Setting
    start: int
    end: int


CRUNCH_SETTINGS = (Setting.CRISISPLEK, Setting.GEZINSHUIS, Setting.RESIDENTIEEL, Setting.CRISISPLEK)


def crunches(rng: random.Random, days: int) -> list[Crunch]:
    """Now and then a verblijf setting runs short; the first early, so even a short run sees one come
    and go. The last starts in the run's final weeks and lasts past its last day: the run ends (today)
    with a shortage still open, as a region usually has one."""
    result: list[Crunch] = []
    day, i = 2, 0
    last_start = days - rng.randint(7, 14)
    # The first always (a short run sees a shortage come and go); later ones only if they surely end
    # before the last one starts.
    while day < last_start and (not result or day + 16 + 2 < last_start):
        length = rng.randint(8, 16)  # a staff shortage lasts weeks
        result.append(Crunch(CRUNCH_SETTINGS[i % len(CRUNCH_SETTINGS)], day, day + length))
        day += length + rng.randint(15, 35)
        i += 1
    start = max(last_start, result[-1].end + 2 if result else 2)
    if start <= days:
        result.append(Crunch(CRUNCH_SETTINGS[i % len(CRUNCH_SETTINGS)], start, days + rng.randint(10, 30)))
    return result


# --- bed turnover outside the simulator's own youths -----------------------------------------


def turnover(rng: random.Random, setting: Setting, beds: Beds) -> None:
    """Background youths leave after a typical stay; places fill from outside the region's referrals
    (other regions, court orders) while more than a tenth is free."""
    leave = 1 / region.STAY_DAYS[setting]
    beds.background -= sum(rng.random() < leave for _ in range(beds.background))
    spare = beds.free - max(beds.total // 10, 1)
    beds.background += sum(rng.random() < 0.04 for _ in range(max(spare, 0)))


def release(beds: Beds) -> None:
    """After a crunch: enough background youths have moved on that places are free again."""
    beds.closed = False
    beds.background = max(min(beds.background, beds.total - len(beds.cases) - max(2, beds.total // 3)), 0)


# --- declarations ----------------------------------------------------------------------------

# Delivered volume per day of care, per product code (unit from lots.json).
DAILY_VOLUME: dict[str, float] = {"45A53": 1.5 / 7, "54001": 60 / 7, "41A06": 3 / 7}
ALLOCATED_VOLUME: dict[str, int] = {"45A53": 120, "54001": 4_000, "41A06": 220}
UNITS: dict[str, str] = {"45A53": "04", "54001": "01", "41A06": "16"}
ETMAAL = "14"
MISTAKE_RATE = 0.04


def product_of(case: Case) -> tuple[str, str]:
    """(product code, unit) a case is allocated and declared in."""
    if case.verblijf:
        return region.PRODUCT_OF_SETTING[case.setting or case.settings[0]], ETMAAL
    code = region.PRODUCT_OF[case.category][1]
    return code, UNITS[code]


def allocation_amount(case: Case, start: date, end: date) -> dict[str, object]:
    """Volume, unit and frequency (6: total within the toewijzing's period) of a case's toewijzing."""
    code, unit = product_of(case)
    volume = (end - start).days + 1 if unit == ETMAAL else ALLOCATED_VOLUME[code]
    return {"volume": volume, "unit": unit, "frequency": "6"}


def month_pieces(first: date, last: date) -> Iterator[tuple[date, date]]:
    """[first, last] cut at calendar months: a declaration line lies within one month."""
    start = first
    while start <= last:
        next_month = (start.replace(day=1) + timedelta(days=32)).replace(day=1)
        end = min(last, next_month - timedelta(days=1))
        yield start, end
        start = end + timedelta(days=1)


Tariffs = Mapping[tuple[str, str], list[tuple[date, date, int]]]


def tariff_on(tariffs: Tariffs, code: str, unit: str, day: date) -> int | None:
    return next((cents for first, last, cents in tariffs.get((code, unit), []) if first <= day <= last), None)


def declarable(case: Case, day: int, calendar: Calendar) -> tuple[date, date] | None:
    """The period of care not yet declared within the months that have fully passed by ``day``: a
    provider declares a month once it is over, also for care that ended earlier in it."""
    if case.started_on is None or case.started_on > day:
        return None
    start = case.declared_until + timedelta(days=1) if case.declared_until else calendar.date_of(case.started_on)
    last = calendar.date_of(day).replace(day=1) - timedelta(days=1)  # the end of the last closed month
    if case.ended_on is not None and case.ended_on <= day:
        last = min(last, calendar.date_of(case.ended_on) - timedelta(days=1))  # the day care ends is not delivered
    return (start, last) if last >= start else None


def declaration_lines(
    rng: random.Random,
    cases: list[Case],
    day: int,
    tariffs: Tariffs,
    calendar: Calendar,
    contracted_from: date | None = None,
) -> list[dict[str, object]]:
    """Lines for every case's closed months since the contract began; a few with the mistakes
    providers really make."""
    lines: list[dict[str, object]] = []
    for case in cases:
        period = declarable(case, day, calendar)
        if period is None or case.allocation_number is None:
            continue
        code, unit = product_of(case)
        for first, last in month_pieces(*period):
            if contracted_from is not None:
                if last < contracted_from:
                    continue
                first = max(first, contracted_from)
            days = (last - first).days + 1
            volume = days if unit == ETMAAL else max(round(days * DAILY_VOLUME[code]), 1)
            tariff = tariff_on(tariffs, code, unit, first)
            if tariff is None:
                continue
            line = {
                "line_number": len(lines) + 1,
                "allocation_number": case.allocation_number,
                "municipality_code": case.municipality,
                "product_category": case.category.value,
                "product_code": code,
                "period_start": first.isoformat(),
                "period_end": last.isoformat(),
                "volume": volume,
                "unit": unit,
                "tariff": tariff,
                "amount": volume * tariff,
            }
            lines.append(mistake(rng, line) if rng.random() < MISTAKE_RATE else line)
        case.declared_until = period[1]
    return lines


def mistake(rng: random.Random, line: dict[str, object]) -> dict[str, object]:
    """Last year's tariff (0611), a miscalculated amount (9346) or a mistyped toewijzingnummer (9019)."""
    kind = rng.choice(("tariff", "amount", "number"))
    if kind == "tariff":
        tariff = round(int(line["tariff"]) / 1.034)  # type: ignore[call-overload]
        return {**line, "tariff": tariff, "amount": int(line["volume"]) * tariff}  # type: ignore[call-overload]
    if kind == "amount":
        return {**line, "amount": int(line["amount"]) + 100 * rng.randint(1, 9)}  # type: ignore[call-overload]
    return {**line, "allocation_number": int(line["allocation_number"]) + 90_000}  # type: ignore[call-overload]


def declares_on(agb: str, day: int) -> bool:
    """Each provider runs its monthly declaration on a day of its own, spreading the load."""
    return day > 0 and (day + int(agb)) % 30 == 0

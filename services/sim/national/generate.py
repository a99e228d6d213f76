"""A national year of Schakel events, generated lazily: every answering unit of the 2013 registry
(42: the 41 regions, with West-Brabant as its two halves), day by day.

Volumes follow DOMAIN §6 (≈474k youths in care a year, ≈41k of them with verblijf), shared out
over the regions by an approximate youth population of their municipalities. Every event is a
``contracts`` model in an ``Envelope``; nothing personal is made: a youth is a random
``client_ref``, an age and a municipality code. The registry names municipalities without CBS
codes, so each gets a stable synthetic four-digit code (2001–2408, outside the CBS range of 2013).

Each aggregate's events come out in causal order, one aggregate after the other as it starts
(a referral's whole path is emitted on its referral day, dated as it happens), so memory stays
constant however many events are asked for.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Final

from contracts import topics
from contracts.capacity import (
    CapacityReported,
    DeclineReason,
    PlacementConfirmed,
    PlacementDeclined,
    PlacementProposed,
    PlacementRequested,
    Severity,
    ShortageChanged,
    ShortageDetected,
    ShortageResolved,
)
from contracts.codes import Eenheid, Frequentie, Productcategorie, RedenWijziging, Retourcode, Verwijzer
from contracts.contracting import AssessedLine, DeclarationAssessed, DeclarationSubmitted
from contracts.envelope import Envelope, EventData
from contracts.intake import (
    AllocationChanged,
    AllocationIssued,
    CareEnded,
    CareStarted,
    ReferralReceived,
    ReferralWithdrawn,
    WithdrawalReason,
)
from contracts.verblijf import Setting
from services.sim import region as sim

DATA: Final = Path(__file__).parent / "data" / "regions-2013.json"

# --- national volumes a year (DOMAIN §6; the rest are assumptions of this generator) ------------
YOUTHS_IN_CARE: Final = 474_000
WITH_VERBLIJF: Final = 41_000
# Providers report their places when an admission or discharge changes them, about three times a
# day for each of the ~2,000 verblijf provider-settings in the country.
CAPACITY_REPORTS: Final = 2_200_000
# One declaration (submitted, then assessed) per provider and municipality and month.
DECLARATIONS_PER_MONTH: Final = 25_000
SHORTAGES: Final = 12_000

WITHDRAWN: Final = 0.08
CHANGED: Final = 0.3
DECLINED: Final = 0.25
# Mean events of one case: a referral, then (unless withdrawn) an allocation, start, maybe a change,
# and an end when care ends within the year (about 0.8); a verblijf case adds its placement.
_AMBULANT_EVENTS: Final = 1 + WITHDRAWN + (1 - WITHDRAWN) * (2 + CHANGED + 0.8)
_PLACEMENT_EVENTS: Final = (1 - WITHDRAWN) * (3 + DECLINED * 2)


def expected_events(scale: float = 1.0) -> float:
    """Events a year at ``scale`` (1.0: the country), before the year is cut off at a count."""
    cases = YOUTHS_IN_CARE * _AMBULANT_EVENTS + WITH_VERBLIJF * _PLACEMENT_EVENTS
    return scale * (cases + CAPACITY_REPORTS + 2 * 12 * DECLARATIONS_PER_MONTH + 2.5 * SHORTAGES)


# Rough youth (0–17) populations in thousands of the largest municipalities of 2013; any other
# counts as 7 (a median municipality). Approximate, not CBS figures.
YOUTHS_THOUSANDS: Final[dict[str, float]] = {
    "Amsterdam": 150,
    "Rotterdam": 125,
    "'s-Gravenhage": 107,
    "Utrecht": 70,
    "Eindhoven": 40,
    "Tilburg": 40,
    "Almere": 55,
    "Groningen": 35,
    "Breda": 36,
    "Nijmegen": 30,
    "Apeldoorn": 33,
    "Enschede": 31,
    "Haarlemmermeer": 36,
    "Arnhem": 32,
    "Amersfoort": 38,
    "Zaanstad": 33,
    "'s-Hertogenbosch": 30,
    "Haarlem": 31,
    "Zwolle": 28,
    "Zoetermeer": 26,
    "Leiden": 22,
    "Maastricht": 20,
    "Dordrecht": 25,
    "Ede": 27,
    "Emmen": 21,
    "Westland": 24,
    "Delft": 18,
    "Venlo": 19,
    "Deventer": 20,
    "Leeuwarden": 20,
}
DEFAULT_YOUTHS_THOUSANDS: Final = 7.0
_NO_AGB: Final = (Verwijzer.GEMEENTE, Verwijzer.ZELFVERWIJZER)


@dataclass(frozen=True)
class Municipality:
    code: str
    name: str
    youths: float  # thousands


@dataclass(frozen=True)
class Region:
    number: str
    name: str
    municipalities: tuple[Municipality, ...]
    providers: tuple[str, ...]  # AGB codes, synthetic
    verblijf_providers: tuple[tuple[str, Setting], ...]

    @property
    def youths(self) -> float:
        return sum(m.youths for m in self.municipalities)


def load_regions(path: Path = DATA) -> tuple[Region, ...]:
    """The 42 answering units of 2013 (a parent that answers through sub-regions is left out)."""
    units = json.loads(path.read_text(encoding="utf-8"))
    parents = {u["parent"] for u in units if u["parent"]}
    regions: list[Region] = []
    code = 2000
    for index, unit in enumerate(u for u in units if u["number"] not in parents):
        municipalities = []
        for name in unit["municipalities_normalised"]:
            code += 1
            municipalities.append(
                Municipality(f"{code:04d}", name, YOUTHS_THOUSANDS.get(name, DEFAULT_YOUTHS_THOUSANDS))
            )
        youths = sum(m.youths for m in municipalities)
        # AGB codes 7RRPPPPP: provider P of region R; invented, like the simulator's.
        count = max(8, round(youths / 4))
        providers = tuple(f"7{index:02d}{p:05d}" for p in range(count))
        verblijf = tuple((providers[i], setting) for i, setting in enumerate(_verblijf_mix(count)))
        regions.append(Region(unit["number"], unit["name"], tuple(municipalities), providers, verblijf))
    return tuple(regions)


def _verblijf_mix(count: int) -> list[Setting]:
    """A verblijf setting for the first providers of a region: a third of them offer places."""
    settings = list(Setting)
    return [settings[i % len(settings)] for i in range(max(len(settings), count // 3))]


@dataclass(frozen=True)
class Event:
    topic: str  # un-namespaced, from contracts.topics
    envelope: Envelope
    day: date  # the simulated day it was made on (its aggregate's first day)


class Year:
    """The events of one national year at ``scale``, lazily and in day order."""

    def __init__(
        self, *, seed: int = 2026, scale: float = 1.0, year: int = 2025, part: int = 0, parts: int = 1
    ) -> None:
        self.rng = random.Random(seed)
        self.scale = scale
        self.first = date(year, 1, 1)
        self.days = (date(year + 1, 1, 1) - self.first).days
        regions = load_regions()
        self.national_youths = sum(r.youths for r in regions)
        # A part of the country (every ``parts``-th region), for one of several writers.
        self.regions = regions[part::parts]
        self.share = sum(r.youths for r in self.regions) / self.national_youths
        self._allocation_numbers: dict[str, int] = {}
        self._free: dict[tuple[str, str], int] = {}
        self._day = self.first
        self._midnight = datetime.combine(self.first, time(), UTC)
        self._last_report: dict[str, datetime] = {}  # one per verblijf provider-setting

    # --- helpers ---------------------------------------------------------------------------

    def _uuid(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    def _client_ref(self) -> str:
        return f"{self.rng.getrandbits(256):064x}"

    def _at(self, day: date) -> datetime:
        seconds = self.rng.randrange(7 * 3600, 20 * 3600)
        return datetime.combine(day, time(), UTC) + timedelta(seconds=seconds)

    def _wrap(self, topic: str, data: EventData, subject: str, at: datetime, cause: Event | None) -> Event:
        event_id = self._uuid()
        parent = cause.envelope if cause else None
        return Event(
            topic=topic,
            day=self._day,
            envelope=Envelope(
                id=event_id,
                type=data.event_type,
                source=topic.split(".")[0],
                time=at,
                subject=subject,
                dataschema=data.dataschema(),
                correlationid=parent.correlationid if parent else event_id,
                causationid=parent.id if parent else None,
                data=data.model_dump(mode="json"),
            ),
        )

    def _share(self, region: Region) -> float:
        return region.youths / self.national_youths * self.scale

    # --- the year --------------------------------------------------------------------------

    def __iter__(self) -> Iterator[Event]:
        poisson = sim.poisson
        for offset in range(self.days):
            day = self._day = self.first + timedelta(days=offset)
            for region in self.regions:
                share = self._share(region) / self.days
                for _ in range(poisson(self.rng, YOUTHS_IN_CARE * share)):
                    yield from self._case(region, day)
                for _ in range(poisson(self.rng, CAPACITY_REPORTS * share)):
                    yield self._capacity(region, day)
                for _ in range(poisson(self.rng, SHORTAGES * share)):
                    yield from self._shortage(region, day)
                if day.day == 5:
                    for _ in range(poisson(self.rng, DECLARATIONS_PER_MONTH * self._share(region))):
                        yield from self._declaration(region, day)

    def _case(self, region: Region, day: date) -> Iterator[Event]:
        rng = self.rng
        municipality = rng.choice(region.municipalities)
        referral_id = self._uuid()
        subject = str(referral_id)
        client_ref = self._client_ref()
        verblijf = rng.random() < WITH_VERBLIJF / YOUTHS_IN_CARE
        referrer = sim.pick(rng, sim.REFERRER_MIX)
        setting: Setting | None = None
        if verblijf:
            setting = rng.choice(tuple(Setting))
            category = sim.category_of(setting)
            product_code = sim.PRODUCT_OF_SETTING[setting]
            provider = next(agb for agb, s in region.verblijf_providers if s is setting)
        else:
            category = rng.choice(tuple(sim.PRODUCT_OF))
            product_code = sim.PRODUCT_OF[category][1]
            provider = rng.choice(region.providers)
        urgency = sim.urgency_for(rng, category, referrer)
        age = rng.randint(0, 17)
        at = self._at(day)
        received = self._wrap(
            topics.INTAKE_EVENTS,
            ReferralReceived(
                referral_id=referral_id,
                client_ref=client_ref,
                age=age,
                municipality_code=municipality.code,
                referrer_type=referrer.type,
                referrer_agb=None if referrer.type in _NO_AGB else f"{rng.randrange(10**7, 10**8)}",
                veilig_thuis=referrer.veilig_thuis,
                product_category=category,
                settings=[setting] if setting else [],
                urgency=urgency,
                ambulant_tried=verblijf,
                needs_gemeente_decision=verblijf,
                received_at=at,
            ),
            subject,
            at,
            None,
        )
        yield received
        if rng.random() < WITHDRAWN:
            at += timedelta(days=rng.randint(1, 30))
            reason = rng.choice(tuple(WithdrawalReason))
            data = ReferralWithdrawn(
                referral_id=referral_id,
                client_ref=client_ref,
                municipality_code=municipality.code,
                reason=reason,
                withdrawn_at=at,
            )
            yield self._wrap(topics.INTAKE_EVENTS, data, subject, at, received)
            return
        cause = received
        if setting is not None:
            at += timedelta(hours=rng.randint(1, 48))
            placement_id = self._uuid()
            cause = self._wrap(
                topics.CAPACITY_EVENTS,
                PlacementRequested(
                    placement_id=placement_id,
                    referral_id=referral_id,
                    client_ref=client_ref,
                    age=age,
                    municipality_code=municipality.code,
                    product_category=category,
                    settings=[setting],
                    urgency=urgency,
                    requested_at=at,
                ),
                subject,
                at,
                cause,
            )
            yield cause

            def propose(agb: str, at: datetime) -> PlacementProposed:
                return PlacementProposed(
                    placement_id=placement_id,
                    referral_id=referral_id,
                    provider_agb=agb,
                    setting=setting,
                    reserved_until=at + timedelta(days=2),
                    proposed_at=at,
                )

            if rng.random() < DECLINED:
                other = rng.choice(region.providers)
                at += timedelta(hours=rng.randint(1, 24))
                cause = self._wrap(topics.CAPACITY_EVENTS, propose(other, at), subject, at, cause)
                yield cause
                at += timedelta(hours=rng.randint(1, 47))
                declined = PlacementDeclined(
                    placement_id=placement_id,
                    referral_id=referral_id,
                    provider_agb=other,
                    setting=setting,
                    reason=rng.choice(tuple(DeclineReason)),
                    declined_at=at,
                )
                cause = self._wrap(topics.CAPACITY_EVENTS, declined, subject, at, cause)
                yield cause
            at += timedelta(hours=rng.randint(1, 24))
            cause = self._wrap(topics.CAPACITY_EVENTS, propose(provider, at), subject, at, cause)
            yield cause
            at += timedelta(hours=rng.randint(1, 47))
            confirmed = PlacementConfirmed(
                placement_id=placement_id,
                referral_id=referral_id,
                client_ref=client_ref,
                provider_agb=provider,
                setting=setting,
                confirmed_at=at,
            )
            cause = self._wrap(topics.CAPACITY_EVENTS, confirmed, subject, at, cause)
            yield cause
        # The allocation: intake's own events stay on the referral's subject.
        at += timedelta(days=rng.randint(0, 10), hours=rng.randint(0, 8))
        start = at.date() + timedelta(days=rng.randint(0, 3 if verblijf else 28))
        mean_days = sim.STAY_DAYS[setting] if setting else sim.AMBULANT_CARE_DAYS
        days = max(7, round(rng.expovariate(1 / mean_days)))
        end = start + timedelta(days=days)
        number = self._allocation_numbers.get(municipality.code, 0) + 1
        self._allocation_numbers[municipality.code] = number
        allocation_id = self._uuid()
        hours = rng.randint(1, 8)
        volume = {"volume": hours, "unit": Eenheid.UUR, "frequency": Frequentie.PER_WEEK}
        if verblijf:
            volume = {"volume": 1, "unit": Eenheid.ETMAAL, "frequency": Frequentie.PER_DAG}
        issued = AllocationIssued(
            allocation_id=allocation_id,
            allocation_number=number,
            referral_id=referral_id,
            client_ref=client_ref,
            municipality_code=municipality.code,
            provider_agb=provider,
            product_category=category,
            product_code=product_code,
            start_date=start,
            end_date=end,
            issued_at=at,
            **volume,
        )
        cause = self._wrap(topics.INTAKE_EVENTS, issued, subject, at, cause)
        yield cause
        started_at = max(at, datetime.combine(start, time(9), UTC))
        started = CareStarted(
            allocation_id=allocation_id,
            referral_id=referral_id,
            client_ref=client_ref,
            municipality_code=municipality.code,
            provider_agb=provider,
            product_category=category,
            start_date=start,
            reported_at=started_at,
        )
        cause = self._wrap(topics.INTAKE_EVENTS, started, subject, started_at, cause)
        yield cause
        at = started_at
        if rng.random() < CHANGED:
            at += timedelta(days=max(1, days // 2))
            end += timedelta(days=rng.randint(14, 90))
            changed = AllocationChanged(
                allocation_id=allocation_id,
                allocation_number=number,
                referral_id=referral_id,
                client_ref=client_ref,
                municipality_code=municipality.code,
                provider_agb=provider,
                reason=RedenWijziging.WIJZIGING_ZORGBEHOEFTE,
                start_date=start,
                end_date=end,
                changed_at=at,
                **volume,
            )
            cause = self._wrap(topics.INTAKE_EVENTS, changed, subject, at, cause)
            yield cause
        if rng.random() < 0.8:
            ended_at = max(at, datetime.combine(end, time(17), UTC))
            ended = CareEnded(
                allocation_id=allocation_id,
                referral_id=referral_id,
                client_ref=client_ref,
                municipality_code=municipality.code,
                provider_agb=provider,
                product_category=category,
                end_date=end,
                reason=sim.pick(rng, sim.END_REASONS),
                reported_at=ended_at,
            )
            yield self._wrap(topics.INTAKE_EVENTS, ended, subject, ended_at, cause)

    def _capacity(self, region: Region, day: date) -> Event:
        rng = self.rng
        agb, setting = rng.choice(region.verblijf_providers)
        total = rng.randint(4, 40)
        occupied = rng.randint(0, total)
        closed = rng.random() < 0.05
        free = 0 if closed else total - occupied
        key = (region.number, setting.value)
        self._free[key] = max(0, self._free.get(key, 0) + rng.randint(-2, 2)) if key in self._free else free
        subject = f"{agb}/{setting}"
        # A provider-setting's reports are one aggregate: never dated before its previous one.
        at = max(self._at(day), self._last_report.get(subject, self._midnight) + timedelta(seconds=1))
        self._last_report[subject] = at
        data = CapacityReported(
            agb=agb,
            setting=setting,
            total=total,
            occupied=occupied,
            free=free,
            closed_to_admission=closed,
            reported_at=at,
            regional_free=self._free[key],
        )
        return self._wrap(topics.CAPACITY_EVENTS, data, subject, at, None)

    def _shortage(self, region: Region, day: date) -> Iterator[Event]:
        rng = self.rng
        shortage_id = self._uuid()
        subject = str(shortage_id)
        setting = rng.choice(tuple(Setting))
        detected_at = self._at(day)
        waiting = rng.randint(0, 6)
        severity = Severity.KRITIEK if waiting > 2 else Severity.TEKORT
        detected = ShortageDetected(
            shortage_id=shortage_id,
            setting=setting,
            free_places=rng.randint(0, 2),
            waiting=waiting,
            severity=severity,
            detected_at=detected_at,
        )
        cause = self._wrap(topics.CAPACITY_ALERTS, detected, subject, detected_at, None)
        yield cause
        at = detected_at
        if rng.random() < 0.5:
            at += timedelta(hours=rng.randint(1, 72))
            other = Severity.TEKORT if severity is Severity.KRITIEK else Severity.KRITIEK
            changed = ShortageChanged(
                shortage_id=shortage_id,
                setting=setting,
                free_places=rng.randint(0, 2),
                waiting=rng.randint(3, 8) if other is Severity.KRITIEK else rng.randint(0, 2),
                severity=other,
                previous_severity=severity,
                detected_at=detected_at,
                changed_at=at,
            )
            cause = self._wrap(topics.CAPACITY_ALERTS, changed, subject, at, cause)
            yield cause
        at += timedelta(hours=rng.randint(1, 240))
        resolved = ShortageResolved(
            shortage_id=shortage_id,
            setting=setting,
            free_places=rng.randint(3, 8),
            waiting=0,
            detected_at=detected_at,
            resolved_at=at,
            duration_seconds=(at - detected_at).total_seconds(),
        )
        yield self._wrap(topics.CAPACITY_ALERTS, resolved, subject, at, cause)

    def _declaration(self, region: Region, day: date) -> Iterator[Event]:
        rng = self.rng
        declaration_id = self._uuid()
        subject = str(declaration_id)
        provider = rng.choice(region.providers)
        municipality = rng.choice(region.municipalities)
        period_end = day.replace(day=1) - timedelta(days=1)
        period_start = period_end.replace(day=1)
        count = rng.randint(1, 12)
        lines = []
        for n in range(1, count + 1):
            approved = rng.random() < 0.93
            lines.append(
                AssessedLine(
                    line_number=n,
                    allocation_id=self._uuid(),
                    product_code=sim.PRODUCT_OF[Productcategorie.AMBULANT][1],
                    amount=rng.randint(5_000, 400_000),
                    approved=approved,
                    return_codes=[Retourcode.GOEDGEKEURD if approved else Retourcode.VOLUME_OVERSCHREDEN],
                    allocation_number=rng.randint(1, 9_999),
                )
            )
        amount = sum(line.amount for line in lines)
        approved_amount = sum(line.amount for line in lines if line.approved)
        at = self._at(day)
        submitted = self._wrap(
            topics.CONTRACTING_EVENTS,
            DeclarationSubmitted(
                declaration_id=declaration_id,
                provider_agb=provider,
                municipality_code=municipality.code,
                period_start=period_start,
                period_end=period_end,
                lines=count,
                amount=amount,
                submitted_at=at,
            ),
            subject,
            at,
            None,
        )
        yield submitted
        at += timedelta(minutes=rng.randint(1, 30))
        assessed = DeclarationAssessed(
            declaration_id=declaration_id,
            provider_agb=provider,
            municipality_code=municipality.code,
            lines=lines,
            approved_amount=approved_amount,
            rejected_amount=amount - approved_amount,
            assessed_at=at,
            submitted_amount=amount,
        )
        yield self._wrap(topics.CONTRACTING_EVENTS, assessed, subject, at, submitted)


def events(count: int, *, seed: int = 2026, year: int = 2025, part: int = 0, parts: int = 1) -> Iterator[Event]:
    """Exactly ``count`` events of a national year (or of its ``part`` of ``parts``: every
    ``parts``-th region) scaled to about that many; the year runs on into the next if the draw
    falls short, and stops at ``count`` (mid-December, mostly)."""
    share = Year(part=part, parts=parts).share
    scale = count / (expected_events() * share) * 1.05
    produced = 0
    while True:
        for event in Year(seed=seed + produced, scale=scale, year=year, part=part, parts=parts):
            if produced >= count:
                return
            yield event
            produced += 1
        year += 1


def split(count: int, parts: int) -> list[int]:
    """How many of ``count`` events each of ``parts`` writers makes: by its regions' youths."""
    shares = [Year(part=p, parts=parts).share for p in range(parts)]
    counts = [int(count * s) for s in shares]
    counts[0] += count - sum(counts)
    return counts

"""Drives the four services' public HTTP APIs with the simulated region, one simulated day at a time.

Every choice is drawn from one ``random.Random(seed)`` in a fixed order, before the calls of a
phase go out together; so a run is repeatable as far as the services answer the same.

The simulated days lie in the past and end today (``schedule.Calendar``): no date sent is after
today, except a toewijzing's end and an evidence document's expiry, which are about the future by
nature. With ``live`` the run then goes on in "today" rounds that keep a demo moving.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from contracts.verblijf import Setting
from services.sim import region, schedule
from services.sim.keys import Keys, make_keys
from services.sim.schedule import Calendar, Case, Crunch, Provider

log = logging.getLogger("services.sim")
NL = ZoneInfo("Europe/Amsterdam")
PARALLEL = 8
EVIDENCE_VALID_DAYS = 730
# How long before the simulated year the incumbents' contracts began (the region's 2020-ish tender).
INCUMBENT_YEARS = 2
LIVE_CRUNCH_CHANCE = 1 / 24  # about every two minutes of a live demo, a setting runs short
LIVE_REFERRALS_PER_ROUND = 0.4


def dutch_today() -> date:
    return datetime.now(NL).date()


@dataclass(frozen=True)
class Urls:
    intake: str = "http://127.0.0.1:8001"
    contracting: str = "http://127.0.0.1:8002"
    capacity: str = "http://127.0.0.1:8003"
    monitoring: str = "http://127.0.0.1:8004"

    def all(self) -> dict[str, str]:
        return {
            "intake": self.intake,
            "contracting": self.contracting,
            "capacity": self.capacity,
            "monitoring": self.monitoring,
        }


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


class Simulator:
    def __init__(self, urls: Urls, *, seed: int, calendar: Calendar, scale: float = 1.0) -> None:
        self.urls = urls
        self.calendar = calendar
        self.run = f"{seed % 100_000:05d}"
        self.rng = random.Random(seed)
        self.volumes = region.Volumes.for_region(scale=scale)
        # The region's providers and referrers are the same in every run, so a rerun against the same
        # system reuses them instead of piling up providers; the seed decides the youths and events.
        fixed = random.Random(region.REGION_SEED)
        self.providers = schedule.make_providers(fixed)
        taken = {p.agb for p in self.providers}
        self.referrers = {
            kind: [region.invented_agb(fixed, taken) for _ in range(region.REFERRER_COUNTS[kind.type])]
            for kind, _ in region.REFERRER_MIX
            if not kind.by_gemeente_key
        }
        self.cases: list[Case] = []
        self.by_referral: dict[str, Case] = {}
        self.used_bsns: set[str] = set()
        self.tariffs: schedule.Tariffs = {}
        self.crunches: list[schedule.Crunch] = []
        self.counts: Counter[str] = Counter()
        self.keys = Keys()
        self.http: httpx.AsyncClient
        self._gate = asyncio.Semaphore(PARALLEL)

    # --- setting up ---------------------------------------------------------------------------

    async def make_keys(self) -> Keys:
        referrers = [f"{kind.type.value}:{agb}" for kind, agbs in self.referrers.items() for agb in agbs]
        self.keys = await make_keys([p.agb for p in self.providers], [m.code for m in region.MUNICIPALITIES], referrers)
        return self.keys

    async def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        for name, url in self.urls.all().items():
            while True:
                try:
                    if (await self.http.get(f"{url}/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{name} at {url} is not ready after {timeout:.0f} s")
                await asyncio.sleep(0.5)

    async def admit_providers(self) -> None:
        """The earlier tender's providers are registered as running; newcomers apply through Open House."""
        # An expiry lies ahead by nature; counted from the calendar's first day, it covers the whole run.
        valid_until = (self.calendar.first + timedelta(days=EVIDENCE_VALID_DAYS)).isoformat()

        async def register(provider: Provider) -> None:
            # The earlier tender's contracts run from well before the simulated year.
            since = (self.calendar.first - timedelta(days=INCUMBENT_YEARS * 365)).isoformat()
            for lot in provider.lots:
                await self._call(
                    "POST",
                    self.urls.contracting,
                    "/v1/contracts",
                    self.keys.admin,
                    {"kind": "open_house", "provider_agb": provider.agb, "lot": lot, "valid_from": since},
                    what="running contract registered",
                    quiet=True,
                )  # a rerun finds it already there
                provider.admitted_lots.add(lot)

        await self._each([p for p in self.providers if p.incumbent], register)

        async def apply(provider: Provider) -> None:
            evidence = [
                {"requirement": code, "document_ref": f"sim/{provider.agb}/{code}.pdf", "valid_until": valid_until}
                for code in region.EVIDENCE
                if code != provider.missing_evidence
            ]
            answer = await self._call(
                "POST",
                self.urls.contracting,
                "/v1/open-house/applications",
                self.keys.providers[provider.agb],
                {"provider_agb": provider.agb, "kvk": provider.agb, "lots": list(provider.lots), "evidence": evidence},
                what="application",
            )
            for lot in (answer or {}).get("lots", []):
                already = any("already holds" in r for r in lot.get("reasons", []))  # a rerun against the same system
                if lot["outcome"] == "admitted" or already:
                    provider.admitted_lots.add(lot["lot"])
                self.counts[f"open house {lot['outcome']}"] += 1

        await self._each([p for p in self.providers if not p.incumbent], apply)
        lots = await self._call("GET", self.urls.contracting, "/v1/lots", self.keys.operator, what="lots") or []
        tariffs: dict[tuple[str, str], list[tuple[date, date, int]]] = {}
        for lot in lots:
            for t in lot["tariffs"]:
                tariffs.setdefault((t["product_code"], t["unit"]), []).append(
                    (date.fromisoformat(t["valid_from"]), date.fromisoformat(t["valid_to"]), t["eurocent"])
                )
        self.tariffs = tariffs
        contracts = (
            await self._call("GET", self.urls.contracting, "/v1/contracts", self.keys.operator, what="contracts") or []
        )
        for provider in self.providers:
            starts = [
                date.fromisoformat(c["valid_from"])
                for c in contracts
                if c["provider_agb"] == provider.agb and c["kind"] == "open_house" and c["ended_on"] is None
            ]
            # Admission happens today, not in the simulated past: its months before are not declared.
            provider.contracted_from = max(starts, default=None)

    async def report_until_admitted(self, timeout: float = 60) -> None:
        """Capacity learns admissions from contracting's events; report once it has."""
        deadline = time.monotonic() + timeout
        pending = [(p, s) for p in self.providers for s in p.beds]
        while pending and time.monotonic() < deadline:
            answers = await asyncio.gather(*(self._report(p, s, quiet=True) for p, s in pending))
            pending = [ps for ps, ok in zip(pending, answers, strict=True) if not ok]
            if pending:
                await asyncio.sleep(0.5)
        if pending:
            log.warning("capacity did not admit %d provider settings in time", len(pending))

    # --- one simulated day --------------------------------------------------------------------

    async def day(self, day: int) -> None:
        self._crunch(day)
        for provider in self.providers:
            for setting, beds in provider.beds.items():
                schedule.turnover(self.rng, setting, beds)
        await self._refer(day)
        await self._withdraw(day)
        await self._decide_ambulant(day)
        await self._answer_proposals(day)
        await self._allocate_placed(day)
        await self._start(day)
        await self._end(day)
        await self._each(
            [(p, s) for p in self.providers for s, beds in p.beds.items() if beds.needs_report(day)],
            lambda ps: self._report(ps[0], ps[1], day=day),
        )
        await self._declare(day)

    def _crunch(self, day: int) -> None:
        for crunch in self.crunches:
            if day == crunch.start:
                self._close(crunch.setting)
                log.info("day %d: %s providers close to admission (a shortage starts)", day, crunch.setting)
            elif day == crunch.end:
                self._release(crunch.setting)

    def _close(self, setting: Setting) -> None:
        for provider in self.providers:
            if setting in provider.beds:
                provider.beds[setting].closed = True

    def _release(self, setting: Setting) -> None:
        for provider in self.providers:
            if setting in provider.beds:
                schedule.release(provider.beds[setting])

    # --- live: "today" rounds after the backfill ----------------------------------------------

    async def today_round(self, round_: int, live_crunches: list[Crunch]) -> None:
        """What happens in a few seconds of today: now and then a referral, providers answering
        proposals and starting care, capacity reports, and a setting closing or reopening. Nothing
        ends and nothing is declared: that needs a later date, which comes with the next real day."""
        day = self.calendar.days
        for crunch in live_crunches:
            if round_ == crunch.start:
                self._close(crunch.setting)
                log.info("live: %s providers close to admission (a shortage starts)", crunch.setting)
            elif round_ == crunch.end:
                self._release(crunch.setting)
                log.info("live: %s providers admit again", crunch.setting)
        if not any(c.start <= round_ < c.end for c in live_crunches) and self.rng.random() < LIVE_CRUNCH_CHANCE:
            live_crunches.append(
                Crunch(self.rng.choice(schedule.CRUNCH_SETTINGS), round_ + 1, round_ + 1 + self.rng.randint(12, 36))
            )
        await self._refer(day, mean=LIVE_REFERRALS_PER_ROUND)
        await self._decide_ambulant(day)
        await self._answer_proposals(day, always=True)
        await self._allocate_placed(day)
        await self._start(day)
        await self._each(
            [(p, s) for p in self.providers for s in p.beds], lambda ps: self._report(ps[0], ps[1], day=day)
        )

    async def _refer(self, day: int, mean: float | None = None) -> None:
        referral_date = self.calendar.date_of(day)
        count = region.poisson(self.rng, self.volumes.referrals_per_day if mean is None else mean)
        new = [
            schedule.new_case(
                self.rng, len(self.cases) + i, day, self.volumes, referral_date, self.referrers, self.used_bsns
            )
            for i in range(count)
        ]
        self.cases += new

        async def refer(case: Case) -> None:
            body = {
                "client": {
                    "bsn": case.bsn,
                    "birth_date": case.birth_date.isoformat(),
                    "municipality_code": case.municipality,
                    "name": case.name,
                },
                "referrer": {"type": case.referrer.type.value, "agb": case.referrer_agb},
                "product_category": case.category.value,
                "settings": [s.value for s in case.settings],
                "urgency": case.urgency.value,
                "ambulant_tried": case.ambulant_tried,
                "veilig_thuis": case.referrer.veilig_thuis,
                "referral_date": referral_date.isoformat(),
            }
            answer = await self._call(
                "POST", self.urls.intake, "/v1/referrals", self._referrer_key(case), body, what="referral"
            )
            if answer:
                case.referral_id = answer["referral_id"]
                self.by_referral[case.referral_id] = case

        await self._each(new, refer)

    def _referrer_key(self, case: Case) -> str:
        if case.referrer.by_gemeente_key:
            return self.keys.gemeenten[case.municipality]
        return self.keys.referrers[f"{case.referrer.type.value}:{case.referrer_agb}"]

    async def _withdraw(self, day: int) -> None:
        due = [c for c in self._open() if c.withdraw_on == day and c.allocation_id is None and c.placed_on is None]

        async def withdraw(case: Case) -> None:
            if await self._call(
                "POST",
                self.urls.intake,
                f"/v1/referrals/{case.referral_id}/withdrawal",
                self._referrer_key(case),
                {"reason": "niet_meer_nodig"},
                what="withdrawal",
            ):
                case.withdrawn = True

        await self._each(due, withdraw)

    async def _decide_ambulant(self, day: int) -> None:
        due = [
            c
            for c in self._open()
            if not c.verblijf and c.allocation_id is None and day >= c.day + c.decision_after and c.withdraw_on is None
        ]
        for case in due:
            lot = region.PRODUCT_OF[case.category][0]
            admitted = [p.agb for p in self.providers if lot in p.admitted_lots]
            case.provider = self.rng.choice(admitted) if admitted else None
        await self._each([c for c in due if c.provider], lambda c: self._allocate(c, day, c.wait + c.care_days))

    async def _allocate(self, case: Case, day: int, lasting: int) -> None:
        start = self.calendar.date_of(day)
        end = start + timedelta(days=lasting + 60)
        code, _ = schedule.product_of(case)
        body = {
            "provider_agb": case.provider,
            "product_category": case.category.value,
            "product_code": code,
            "start_date": start.isoformat(),
            "end_date": end.isoformat(),
            **schedule.allocation_amount(case, start, end),
        }
        answer = await self._call(
            "POST",
            self.urls.intake,
            f"/v1/referrals/{case.referral_id}/allocations",
            self.keys.gemeenten[case.municipality],
            body,
            what="allocation",
        )
        if answer:
            case.allocation_id, case.allocation_number = answer["allocation_id"], answer["allocation_number"]
            case.allocation_start, case.allocation_end = start, end
        else:
            # Refused (e.g. OP259: a youth of an earlier run with the same synthetic BSN already holds this
            # product): the simulator stops following this youth rather than ask again every day.
            case.withdrawn = True

    async def _answer_proposals(self, day: int, always: bool = False) -> None:
        """Each verblijf provider looks at the youths proposed to it: most it takes, some it declines.
        Providers look on days a youth of the run awaits a place, and weekly for youths referred before."""
        waiting = any(c.verblijf and c.placed_on is None and c.allocation_id is None for c in self._open())
        if not (always or waiting or day % 7 == 0):
            return
        # One look at the schakelfunctie's overview tells which provider has a youth waiting for its
        # answer, instead of some fifteen providers polling their own lists every simulated day (a
        # year is played in seconds); each answer still goes with that provider's own key.
        placements = (
            await self._call(
                "GET",
                self.urls.capacity,
                "/v1/placements?status=proposed&limit=1000",
                self.keys.schakelfunctionaris,
                what="placements",
            )
            or []
        )
        by_agb = {p.agb: p for p in self.providers if p.beds}
        answers: list[tuple[Provider, dict[str, Any], bool]] = []
        for placement in sorted(placements, key=lambda p: p["requested_at"]):
            for provider in (
                by_agb[p["agb"]] for p in placement["proposals"] if p["outcome"] is None and p["agb"] in by_agb
            ):
                case = self.by_referral.get(placement["referral_id"])
                decline = case is not None and case.declines_first
                if case is not None:
                    case.declines_first = False  # the next provider asked says yes (unless it has no room)
                answers.append((provider, placement, decline))

        async def answer(item: tuple[Provider, dict[str, Any], bool]) -> None:
            provider, placement, decline = item
            if decline:
                await self._call(
                    "POST",
                    self.urls.capacity,
                    f"/v1/placements/{placement['id']}/decline",
                    self.keys.providers[provider.agb],
                    {"reason": "past_niet_in_groep"},
                    what="decline",
                )
                return
            accepted = await self._call(
                "POST",
                self.urls.capacity,
                f"/v1/placements/{placement['id']}/accept",
                self.keys.providers[provider.agb],
                what="accept",
            )
            if not accepted:
                return
            setting = Setting(accepted["confirmed_setting"])
            case = self.by_referral.get(placement["referral_id"])
            beds = provider.beds[setting]
            if case is None:
                beds.background += 1  # a youth referred before this run
                return
            case.provider, case.setting, case.placed_on = provider.agb, setting, day
            beds.cases.add(case.number)

        await self._each(answers, answer)

    async def _allocate_placed(self, day: int) -> None:
        due = [c for c in self._open() if c.placed_on is not None and c.allocation_id is None]
        await self._each(due, lambda c: self._allocate(c, day, c.care_days))

    async def _start(self, day: int) -> None:
        due = [
            c
            for c in self._open()
            if c.allocation_id and c.started_on is None and (c.verblijf or day >= c.day + c.wait)
        ]

        async def start(case: Case) -> None:
            if await self._call(
                "POST",
                self.urls.intake,
                f"/v1/allocations/{case.allocation_id}/start",
                self.keys.providers[case.provider or ""],
                {"start_date": self.calendar.date_of(day).isoformat()},
                what="care start",
            ):
                case.started_on = day

        await self._each(due, start)

    async def _end(self, day: int) -> None:
        due = [c for c in self._open() if c.started_on is not None and day >= c.started_on + c.care_days]

        async def end(case: Case) -> None:
            if await self._call(
                "POST",
                self.urls.intake,
                f"/v1/allocations/{case.allocation_id}/end",
                self.keys.providers[case.provider or ""],
                {"end_date": self.calendar.date_of(day).isoformat(), "reason": case.end_reason.value},
                what="care end",
            ):
                case.ended_on = day
                for provider in self.providers:
                    if case.setting and provider.agb == case.provider:
                        provider.beds[case.setting].cases.discard(case.number)

        await self._each(due, end)

    async def _report(self, provider: Provider, setting: Setting, quiet: bool = False, day: int = 0) -> bool:
        beds = provider.beds[setting]
        report = beds.report
        body = {"total": beds.total, "occupied": beds.occupied, "closed_to_admission": beds.closed}
        done = (
            await self._call(
                "PUT",
                self.urls.capacity,
                f"/v1/capacity/{provider.agb}/{setting.value}",
                self.keys.providers[provider.agb],
                body,
                what="capacity report",
                quiet=quiet,
            )
            is not None
        )
        if done:
            beds.reported, beds.reported_on = report, day
        return done

    async def _declare(self, day: int) -> None:
        declarations = []
        for provider in self.providers:
            if provider.contracted_from is None or not schedule.declares_on(provider.agb, day):
                continue
            mine = [c for c in self.cases if c.provider == provider.agb and c.allocation_number]
            for code in sorted({c.municipality for c in mine}):
                lines = schedule.declaration_lines(
                    self.rng,
                    [c for c in mine if c.municipality == code],
                    day,
                    self.tariffs,
                    self.calendar,
                    provider.contracted_from,
                )
                if lines:
                    declarations.append((provider.agb, code, day, lines))
        await self._each(declarations, self._submit)

    async def _submit(self, declaration: tuple[str, str, int, list[dict[str, Any]]]) -> None:
        agb, code, day, lines = declaration
        # Unique per provider across runs too (a number is immutable once submitted): the run, the
        # municipality and the simulated date, within the 20 characters allowed.
        body = {
            "declaration_number": f"S{self.run}-{code}-{self.calendar.date_of(day):%y%m%d}",
            "provider_agb": agb,
            "municipality_code": code,
            "period_start": min(ln["period_start"] for ln in lines),
            "period_end": max(ln["period_end"] for ln in lines),
            "lines": lines,
        }
        answer = await self._call(
            "POST", self.urls.contracting, "/v1/declarations", self.keys.providers[agb], body, what="declaration"
        )
        for line in (answer or {}).get("lines", []):
            self.counts["declaration line approved" if line["approved"] else "declaration line refused"] += 1

    # --- plumbing -----------------------------------------------------------------------------

    def _open(self) -> Iterable[Case]:
        return (c for c in self.cases if c.referral_id and not c.withdrawn and c.ended_on is None)

    async def _each(self, items: Iterable[Any], action: Callable[[Any], Awaitable[Any]]) -> None:
        async def gated(item: Any) -> None:
            async with self._gate:
                await action(item)

        await asyncio.gather(*(gated(i) for i in items))

    async def _call(
        self, method: str, base: str, path: str, key: str, body: Any = None, *, what: str, quiet: bool = False
    ) -> Any:
        """One API call; a refusal is counted and logged (the simulator carries on), never raised."""
        try:
            answer = await self.http.request(method, f"{base}{path}", headers=_bearer(key), json=body)
        except httpx.TransportError as exc:
            self.counts[f"{what} failed"] += 1
            log.warning("%s: %s %s did not answer (%s)", what, method, path, type(exc).__name__)
            return None
        if answer.is_success:
            self.counts[what] += 1
            return answer.json()
        if not quiet:
            self.counts[f"{what} refused"] += 1
            log.warning("%s refused (%d): %s", what, answer.status_code, answer.text[:300])
        return None

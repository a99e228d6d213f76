"""The providers: they apply through Open House, answer the youths proposed to them, start and end
care, report their free places to capacity and declare their care to the gemeenten."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta
from typing import Any

from contracts.verblijf import Setting
from services.sim import expertteam, region, schedule
from services.sim.schedule import Case, Provider
from services.sim.world import Actor

log = logging.getLogger("services.sim")
EVIDENCE_VALID_DAYS = 730

Proposal = tuple[Provider, dict[str, Any], bool]  # who answers, the placement, whether it declines
Declaration = tuple[str, str, int, list[dict[str, Any]]]  # provider AGB, CBS code, simulated day, lines


class Providers(Actor):
    # --- admission ----------------------------------------------------------------------------

    async def apply_for_open_house(self) -> None:
        """The newcomers apply with their evidence; the outcome per lot is counted."""
        # An expiry lies ahead by nature; counted from the calendar's first day, it covers the whole run.
        valid_until = (self.world.calendar.first + timedelta(days=EVIDENCE_VALID_DAYS)).isoformat()

        async def apply(provider: Provider) -> None:
            evidence = [
                {"requirement": code, "document_ref": f"sim/{provider.agb}/{code}.pdf", "valid_until": valid_until}
                for code in region.EVIDENCE
                if code != provider.missing_evidence
            ]
            answer = await self.calls.call(
                "POST",
                self.calls.urls.contracting,
                "/v1/open-house/applications",
                self.calls.keys.providers[provider.agb],
                {"provider_agb": provider.agb, "kvk": provider.agb, "lots": list(provider.lots), "evidence": evidence},
                what="application",
            )
            for lot in (answer or {}).get("lots", []):
                already = any("already holds" in r for r in lot.get("reasons", []))  # a rerun against the same system
                if lot["outcome"] == "admitted" or already:
                    provider.admitted_lots.add(lot["lot"])
                self.calls.counts[f"open house {lot['outcome']}"] += 1

        await self.calls.each([p for p in self.world.providers if not p.incumbent], apply)

    async def report_until_admitted(self, timeout: float = 60) -> None:
        """Capacity learns admissions from contracting's events; report once it has."""
        deadline = time.monotonic() + timeout
        pending = [(p, s) for p in self.world.providers for s in p.beds]
        while pending and time.monotonic() < deadline:
            answers = await asyncio.gather(*(self.report(p, s, quiet=True) for p, s in pending))
            pending = [ps for ps, ok in zip(pending, answers, strict=True) if not ok]
            if pending:
                await asyncio.sleep(0.5)
        if pending:
            log.warning("capacity did not admit %d provider settings in time", len(pending))

    # --- places -------------------------------------------------------------------------------

    async def report(self, provider: Provider, setting: Setting, quiet: bool = False, day: int = 0) -> bool:
        beds = provider.beds[setting]
        report = beds.report
        body = {"total": beds.total, "occupied": beds.occupied, "closed_to_admission": beds.closed}
        done = (
            await self.calls.call(
                "PUT",
                self.calls.urls.capacity,
                f"/v1/capacity/{provider.agb}/{setting.value}",
                self.calls.keys.providers[provider.agb],
                body,
                what="capacity report",
                quiet=quiet,
                ref=f"{provider.agb}/{setting.value}",
            )
            is not None
        )
        if done:
            beds.reported, beds.reported_on = report, day
        return done

    async def report_places(self, day: int, *, all_settings: bool = False) -> None:
        """Each provider reports the settings whose figures changed or grew stale (or all of them)."""
        due = [
            (p, s) for p in self.world.providers for s, beds in p.beds.items() if all_settings or beds.needs_report(day)
        ]
        await self.calls.each(due, lambda ps: self.report(ps[0], ps[1], day=day))

    # --- youths of other pool members ----------------------------------------------------------

    async def take_pool_requests(self) -> None:
        """Providers take the youths other regions of their pool asked them to hold a place for
        (docs/pools.md, "A place across the border"): the schakelfunctie's list tells which provider
        is asked; each answer goes with that provider's own key, and the place counts as taken."""
        asked = await self.calls.call(
            "GET",
            self.calls.urls.capacity,
            "/v1/pool-requests?open=true",
            self.calls.keys.schakelfunctionaris,
            what="pool requests",
            quiet=True,
        )
        by_agb = {p.agb: p for p in self.world.providers}
        ours = [r for r in asked or [] if r["agb"] in by_agb and Setting(r["setting"]) in by_agb[r["agb"]].beds]

        async def take(request: dict[str, Any]) -> None:
            taken = await self.calls.call(
                "POST",
                self.calls.urls.capacity,
                f"/v1/pool-requests/{request['id']}/accept",
                self.calls.keys.providers[request["agb"]],
                what="pool request accepted",
                ref=request["id"],
            )
            if taken:
                by_agb[request["agb"]].beds[Setting(request["setting"])].background += 1

        await self.calls.each(ours, take)

    # --- placements ---------------------------------------------------------------------------

    async def answer_proposals(self, day: int, always: bool = False) -> None:
        """Each verblijf provider looks at the youths proposed to it: most it takes, some it declines.
        Providers look on days a youth of the run awaits a place, and weekly for youths referred before."""
        waiting = any(c.verblijf and c.placed_on is None and c.allocation_id is None for c in self.world.open_cases())
        if not (always or waiting or day % 7 == 0):
            return
        # One look at the schakelfunctie's overview tells which provider has a youth waiting for its
        # answer, instead of some fifteen providers polling their own lists every simulated day (a
        # year is played in seconds); each answer still goes with that provider's own key.
        placements = (
            await self.calls.call(
                "GET",
                self.calls.urls.capacity,
                "/v1/placements?status=proposed&limit=1000",
                self.calls.keys.schakelfunctionaris,
                what="placements",
            )
            or []
        )
        by_agb = {p.agb: p for p in self.world.providers if p.beds}
        answers: list[Proposal] = []
        for placement in sorted(placements, key=lambda p: p["requested_at"]):
            for provider in (
                by_agb[p["agb"]] for p in placement["proposals"] if p["outcome"] is None and p["agb"] in by_agb
            ):
                case = self.world.by_referral.get(placement["referral_id"])
                if case is not None and case.doorbraak:
                    # Nobody but its maatwerk provider takes a doorbraak youth (services/sim/expertteam.py).
                    decline = expertteam.declines(case, provider.agb)
                else:
                    decline = case is not None and case.declines_first
                    if case is not None:
                        case.declines_first = False  # the next provider asked says yes (unless it has no room)
                answers.append((provider, placement, decline))
        await self.calls.each(answers, lambda proposal: self._answer(proposal, day))

    async def _answer(self, proposal: Proposal, day: int) -> None:
        provider, placement, decline = proposal
        path, key = f"/v1/placements/{placement['id']}", self.calls.keys.providers[provider.agb]
        if decline:
            body = {"reason": "past_niet_in_groep"}
            await self.calls.call(
                "POST", self.calls.urls.capacity, f"{path}/decline", key, body, what="decline", ref=placement["id"]
            )
            return
        accepted = await self.calls.call(
            "POST", self.calls.urls.capacity, f"{path}/accept", key, what="accept", ref=placement["id"]
        )
        if not accepted:
            return
        setting = Setting(accepted["confirmed_setting"])
        case = self.world.by_referral.get(placement["referral_id"])
        beds = provider.beds[setting]
        if case is None:
            beds.background += 1  # a youth referred before this run
            return
        case.provider, case.setting, case.placed_on = provider.agb, setting, day
        beds.cases.add(case.number)

    # --- care ---------------------------------------------------------------------------------

    async def start_care(self, day: int) -> None:
        due = [
            c
            for c in self.world.open_cases()
            if c.allocation_id and c.started_on is None and (c.verblijf or day >= c.day + c.wait)
        ]

        async def start(case: Case) -> None:
            if await self._tell_intake(case, "start", {"start_date": self._date(day)}, what="care start"):
                case.started_on = day

        await self.calls.each(due, start)

    async def end_care(self, day: int) -> None:
        due = [c for c in self.world.open_cases() if c.started_on is not None and day >= c.started_on + c.care_days]

        async def end(case: Case) -> None:
            body = {"end_date": self._date(day), "reason": case.end_reason.value}
            if await self._tell_intake(case, "end", body, what="care end"):
                case.ended_on = day
                for provider in self.world.providers:
                    if case.setting and provider.agb == case.provider:
                        provider.beds[case.setting].cases.discard(case.number)

        await self.calls.each(due, end)

    async def _tell_intake(self, case: Case, step: str, body: dict[str, str], *, what: str) -> bool:
        """A start or end of care, reported to intake (a JW305/JW307) with the provider's own key."""
        answer = await self.calls.call(
            "POST",
            self.calls.urls.intake,
            f"/v1/allocations/{case.allocation_id}/{step}",
            self.calls.keys.providers[case.provider or ""],
            body,
            what=what,
            ref=case.allocation_id,
        )
        return bool(answer)

    # --- declarations -------------------------------------------------------------------------

    async def declare(self, day: int) -> None:
        """On its declaring day, each contracted provider declares its youths' care, per gemeente."""
        world = self.world
        declarations: list[Declaration] = []
        for provider in world.providers:
            if provider.contracted_from is None or not schedule.declares_on(provider.agb, day):
                continue
            mine = [c for c in world.cases if c.provider == provider.agb and c.allocation_number]
            for code in sorted({c.municipality for c in mine}):
                lines = schedule.declaration_lines(
                    world.rng,
                    [c for c in mine if c.municipality == code],
                    day,
                    world.tariffs,
                    world.calendar,
                    provider.contracted_from,
                )
                if lines:
                    declarations.append((provider.agb, code, day, lines))
        await self.calls.each(declarations, self._submit)

    async def _submit(self, declaration: Declaration) -> None:
        agb, code, day, lines = declaration
        # Unique per provider across runs too (a number is immutable once submitted): the run, the
        # municipality and the simulated date, within the 20 characters allowed.
        body = {
            "declaration_number": f"S{self.world.run}-{code}-{self.world.calendar.date_of(day):%y%m%d}",
            "provider_agb": agb,
            "municipality_code": code,
            "period_start": min(ln["period_start"] for ln in lines),
            "period_end": max(ln["period_end"] for ln in lines),
            "lines": lines,
        }
        answer = await self.calls.call(
            "POST",
            self.calls.urls.contracting,
            "/v1/declarations",
            self.calls.keys.providers[agb],
            body,
            what="declaration",
            ref=lambda answer: answer["declaration_id"],
        )
        for line in (answer or {}).get("lines", []):
            self.calls.counts["declaration line approved" if line["approved"] else "declaration line refused"] += 1

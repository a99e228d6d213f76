"""The published flows: instroom, start and end of care and waiting times per month, municipality and
product category, the CSV export of them, and the dashboard's overview.

Every count of youths here is published: fewer than 5 reads "<5" (``domain.published``).
"""

from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict

from pydantic import BaseModel, Field

from services.monitoring import domain
from services.monitoring.doorbraak_views import DoorbraakMonth, figures_per_month
from services.monitoring.live_views import CapacityTile, Shortage, live_state
from services.monitoring.queries import Reading, Scope, months_of

Published = domain.Published


# --- shapes: flows and waiting times (counts of youths, published) -------------------------------


class FlowFigures(BaseModel):
    referrals_in: Published
    care_started: Published
    care_ended: Published
    uitval: Published
    ended_by_reason: dict[str, Published] = Field(description="Ends of care per reden beëindiging (JZ588)")
    in_care_at_month_end: Published


class WaitingFigures(BaseModel):
    youths: Published
    median_days: float | None = Field(description="None under five youths")
    p90_days: float | None
    max_wait_days: int | None = Field(description="None when the youths counted fall under different norms")
    over_max: Published
    share_over_max: float | None


class Month(BaseModel):
    month: str = Field(description="YYYY-MM")


class Cell(Month):
    municipality: str = Field(description="CBS code")
    product_category: str


# Field order follows the bases from the last to the first: the month (and cell) leads, as before.
class MonthTrend(FlowFigures, Month):
    waiting: WaitingFigures | None


class FlowRow(FlowFigures, Cell):
    waiting: WaitingFigures | None


class WaitingRow(WaitingFigures, Cell):
    pass


# --- shapes: the overview ------------------------------------------------------------------------


class ScopeShown(BaseModel):
    municipality: str | None
    first: str | None = Field(serialization_alias="from")
    last: str | None = Field(serialization_alias="to")


class MunicipalityReferrals(BaseModel):
    municipality: str
    referrals_in: Published


class ReferrerReferrals(BaseModel):
    referrer: str = Field(description="COD327 code, or veilig_thuis")
    referrals: Published


class EscalationCount(BaseModel):
    level: str
    outcome: str = Field(description="geplaatst, ingetrokken or open")
    escalations: Published


class DeclarationSummary(BaseModel):
    by_outcome: dict[str, Published]
    by_return_code: dict[str, Published] = Field(description="Per JW325 return code")


class Overview(BaseModel):
    scope: ScopeShown
    totals: FlowFigures
    trend: list[MonthTrend]
    per_municipality: list[MunicipalityReferrals]
    referrers: list[ReferrerReferrals]
    settings: list[CapacityTile]
    shortages: list[Shortage]
    escalations: list[EscalationCount]
    declarations: DeclarationSummary
    doorbraak: list[DoorbraakMonth] = Field(description="The expert team's cases and decisions per month")


# --- views: flows and waiting times ------------------------------------------------------------


def _waiting(wait: domain.WaitingTime | None) -> WaitingFigures | None:
    return WaitingFigures.model_validate(wait.published()) if wait else None


async def flow_rows(uow: Reading, scope: Scope) -> list[FlowRow]:
    """One row per month × municipality × product category: flows and waiting time, published."""
    months = await months_of(uow, scope)
    referrals = await uow.store.referrals(scope.municipality)
    cares = await uow.store.cares(scope.municipality)
    flows = domain.flows(referrals, cares, months)
    waits = domain.waiting_times(referrals, cares, months, uow.settings.max_wait_days)
    return [
        FlowRow.model_validate(
            {
                "month": month,
                "municipality": municipality,
                "product_category": category,
                **flows.get((month, municipality, category), domain.Flow()).published(),
                "waiting": _waiting(waits.get((month, municipality, category))),
            }
        )
        for month, municipality, category in sorted(set(flows) | set(waits))
    ]


async def waiting_rows(uow: Reading, scope: Scope) -> list[WaitingRow]:
    return [
        WaitingRow.model_validate({**row.model_dump(include=set(Cell.model_fields)), **row.waiting.model_dump()})
        for row in await flow_rows(uow, scope)
        if row.waiting
    ]


CSV_COLUMNS = (
    "maand",
    "gemeente",
    "productcategorie",
    "instroom",
    "gestart",
    "beeindigd",
    "uitval",
    "in_zorg_einde_maand",
    "wachttijd_jeugdigen",
    "wachttijd_mediaan_dagen",
    "wachttijd_p90_dagen",
    "max_wachttijd_dagen",
    "aandeel_boven_max",
)


def flows_csv(rows: list[FlowRow]) -> str:
    """The flow rows as the region's Power BI reads them: ';'-separated, as Dutch Excel expects."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for r in rows:
        w = r.waiting
        waiting = (w.youths, w.median_days, w.p90_days, w.max_wait_days, w.share_over_max) if w else (None,) * 5
        flow = (r.referrals_in, r.care_started, r.care_ended, r.uitval, r.in_care_at_month_end)
        writer.writerow(
            [r.month, r.municipality, r.product_category, *flow, *("" if v is None else v for v in waiting)]
        )
    return out.getvalue()


async def overview(uow: Reading, scope: Scope) -> Overview:
    """Everything the dashboard shows for a scope: totals, trends, per municipality, capacity."""
    months = await months_of(uow, scope)
    referrals = await uow.store.referrals(scope.municipality)
    cares = await uow.store.cares(scope.municipality)
    by_month, by_municipality, total = _summed(domain.flows(referrals, cares, months), months)
    waits = domain.waiting_times(referrals, cares, months, uow.settings.max_wait_days, by=lambda month, _r: (month,))
    live = await live_state(uow)
    return Overview(
        scope=ScopeShown(
            municipality=scope.municipality,
            first=months[0] if months else None,
            last=months[-1] if months else None,
        ),
        totals=FlowFigures.model_validate(total.published()),
        trend=[
            MonthTrend.model_validate({"month": m, **by_month[m].published(), "waiting": _waiting(waits.get((m,)))})
            for m in months
        ],
        per_municipality=[
            MunicipalityReferrals(municipality=m, referrals_in=domain.published(n))
            for m, n in sorted(by_municipality.items())
        ],
        referrers=_referrers(referrals, months),
        settings=live.settings,
        shortages=live.shortages,
        escalations=await _escalation_summary(uow, scope.municipality, months),
        declarations=await _declaration_summary(uow, scope.municipality, months),
        doorbraak=await figures_per_month(uow, scope, months),
    )


def _summed(
    flows: dict[domain.Cell, domain.Flow], months: list[str]
) -> tuple[dict[str, domain.Flow], Counter[str], domain.Flow]:
    """The cells' flows per month, referrals per municipality, and the total over the months (whose
    stand is the last month's)."""
    by_month: dict[str, domain.Flow] = defaultdict(domain.Flow)
    by_municipality: Counter[str] = Counter()
    total = domain.Flow()
    for (month, municipality, _category), flow in flows.items():
        for target in (by_month[month], total):
            target.referrals_in += flow.referrals_in
            target.care_started += flow.care_started
            target.care_ended += flow.care_ended
            target.ended_by_reason.update(flow.ended_by_reason)
        by_month[month].in_care_at_month_end += flow.in_care_at_month_end
        by_municipality[municipality] += flow.referrals_in
    if months:
        total.in_care_at_month_end = by_month[months[-1]].in_care_at_month_end
    return by_month, by_municipality, total


def _referrers(referrals: list[domain.Referral], months: list[str]) -> list[ReferrerReferrals]:
    counts: Counter[str] = Counter()
    for (_month, _municipality, referrer), n in domain.referrals_by_referrer(referrals, months).items():
        counts[referrer] += n
    return [ReferrerReferrals(referrer=r, referrals=domain.published(n)) for r, n in sorted(counts.items())]


async def _escalation_summary(uow: Reading, municipality: str | None, months: list[str]) -> list[EscalationCount]:
    """Escalations per level and how they ended (geplaatst, ingetrokken, open), published."""
    wanted = set(months)
    counts: Counter[tuple[str, str]] = Counter()
    for r in await uow.store.escalations(municipality):
        if domain.month_of(r["escalated_at"]) in wanted:
            counts[r["level"], domain.escalation_outcome(r["confirmed_at"], r["withdrawn_at"])] += 1
    return [
        EscalationCount(level=level, outcome=outcome, escalations=domain.published(n))
        for (level, outcome), n in sorted(counts.items())
    ]


async def _declaration_summary(uow: Reading, municipality: str | None, months: list[str]) -> DeclarationSummary:
    """Declaration lines by outcome and by return code (JW325)."""
    wanted = set(months)
    outcomes: Counter[str] = Counter()
    codes: Counter[str] = Counter()
    for r in await uow.store.declaration_lines(municipality):
        if domain.month_of(r["assessed_at"]) in wanted:
            outcomes["goedgekeurd" if r["approved"] else "afgewezen"] += 1
            codes.update(r["return_codes"])
    return DeclarationSummary(
        by_outcome={k: domain.published(n) for k, n in sorted(outcomes.items())},
        by_return_code={k: domain.published(n) for k, n in sorted(codes.items())},
    )

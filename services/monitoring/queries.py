"""Published views of the read models: what the API, the CSV export and the pages show."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

from services.monitoring import domain, store
from services.monitoring.settings import MonitoringSettings


@dataclass(frozen=True)
class Scope:
    """Which municipality (None: the region) and which months a view covers."""

    municipality: str | None
    first: str | None
    last: str | None


async def _months(pool: asyncpg.Pool, scope: Scope) -> list[str]:
    first_day, last_day = await store.data_months(pool)
    first = scope.first or (domain.month_of(first_day) if first_day else None)
    last = scope.last or (domain.month_of(last_day) if last_day else None)
    if not first or not last or first > last:
        return []
    return domain.months_between(first, last)


async def flow_rows(pool: asyncpg.Pool, settings: MonitoringSettings, scope: Scope) -> list[dict[str, Any]]:
    """One row per month × municipality × product category: flows and waiting time, published."""
    months = await _months(pool, scope)
    referrals = await store.referrals(pool, scope.municipality)
    cares = await store.cares(pool, scope.municipality)
    norms = await store.waiting_norms(pool)
    flows = domain.flows(referrals, cares, months)
    waits = domain.waiting_times(referrals, cares, months, lambda c: settings.max_wait_days(c, norms))
    rows = []
    for cell in sorted(set(flows) | set(waits)):
        month, municipality, category = cell
        flow = flows.get((month, municipality, category), domain.Flow())
        wait = waits.get(cell)
        rows.append(
            {
                "month": month,
                "municipality": municipality,
                "product_category": category,
                **flow.published(),
                "waiting": wait.published() if wait else None,
            }
        )
    return rows


async def waiting_rows(pool: asyncpg.Pool, settings: MonitoringSettings, scope: Scope) -> list[dict[str, object]]:
    return [
        {
            "month": r["month"],
            "municipality": r["municipality"],
            "product_category": r["product_category"],
            **r["waiting"],
        }
        for r in await flow_rows(pool, settings, scope)
        if r["waiting"]
    ]


async def overview(
    pool: asyncpg.Pool, settings: MonitoringSettings, scope: Scope, now: datetime | None = None
) -> dict[str, object]:
    """Everything the dashboard shows for a scope: totals, trends, per municipality, capacity."""
    now = now or datetime.now(UTC)
    months = await _months(pool, scope)
    referrals = await store.referrals(pool, scope.municipality)
    cares = await store.cares(pool, scope.municipality)
    norms = await store.waiting_norms(pool)
    flows = domain.flows(referrals, cares, months)
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
    waits = domain.waiting_times(
        referrals, cares, months, lambda c: settings.max_wait_days(c, norms), by=lambda month, _r: (month,)
    )
    return {
        "scope": {
            "municipality": scope.municipality,
            "from": months[0] if months else None,
            "to": months[-1] if months else None,
        },
        "totals": total.published(),
        "trend": [
            {"month": m, **by_month[m].published(), "waiting": waits[(m,)].published() if (m,) in waits else None}
            for m in months
        ],
        "per_municipality": [
            {"municipality": m, "referrals_in": domain.published(n)} for m, n in sorted(by_municipality.items())
        ],
        "referrers": _referrers(referrals, months),
        **await live_state(pool, now),
        "escalations": await escalation_summary(pool, scope.municipality, months),
        "declarations": await declaration_summary(pool, scope.municipality, months),
    }


def _referrers(referrals: list[domain.Referral], months: list[str]) -> list[dict[str, object]]:
    counts: Counter[str] = Counter()
    for (_month, _municipality, referrer), n in domain.referrals_by_referrer(referrals, months).items():
        counts[referrer] += n
    return [{"referrer": r, "referrals": domain.published(n)} for r, n in sorted(counts.items())]


async def live_state(pool: asyncpg.Pool, now: datetime) -> dict[str, object]:
    """The capacity tiles and the active shortages: what the public feed and ``/v1/capacity`` show."""
    active = await store.shortages(pool, active_only=True)
    return {"settings": await capacity_tiles(pool, now, active), "shortages": _shortages(active, now)}


async def capacity_tiles(
    pool: asyncpg.Pool, now: datetime, active_shortages: list[asyncpg.Record] | None = None
) -> list[dict[str, object]]:
    """Per verblijf setting: places and how fresh the figures are (places are not people: no suppression)."""
    if active_shortages is None:
        active_shortages = await store.shortages(pool, active_only=True)
    active = {row["setting"]: row for row in active_shortages}
    tiles = []
    for cap in sorted(await store.setting_capacity(pool), key=lambda c: c.setting):
        shortage = active.get(cap.setting)
        tiles.append(
            {
                "setting": cap.setting,
                "free": cap.free,
                "occupied": cap.occupied,
                "total": cap.total,
                "providers": cap.providers,
                "occupancy_rate": cap.occupancy_rate,
                "last_report_at": cap.last_report_at.isoformat() if cap.last_report_at else None,
                "report_age_seconds": domain.report_age_seconds(cap, now),
                "shortage_active": shortage is not None,
                "state": domain.tile_colour(cap.free, shortage is not None),
            }
        )
    for setting in sorted(set(active) - {t["setting"] for t in tiles}):
        tiles.append(
            {
                "setting": setting,
                "free": 0,
                "occupied": 0,
                "total": 0,
                "providers": 0,
                "occupancy_rate": None,
                "last_report_at": None,
                "report_age_seconds": None,
                "shortage_active": True,
                "state": "tekort",
            }
        )
    return tiles


async def shortage_list(
    pool: asyncpg.Pool, now: datetime, *, active_only: bool, with_handles: bool = False
) -> list[dict[str, object]]:
    """Shortages; ``with_handles`` adds who acknowledged — only for the keyed schakelfunctie view,
    since the public feeds (wall screens) name the role alone."""
    return _shortages(await store.shortages(pool, active_only=active_only), now, with_handles)


def _shortages(rows: list[asyncpg.Record], now: datetime, with_handles: bool = False) -> list[dict[str, object]]:
    return [
        {
            "shortage_id": str(r["shortage_id"]),
            "alert_id": str(r["alert_id"]) if r["alert_id"] else None,
            "setting": r["setting"],
            "severity": r["severity"],
            "free_places": r["free_places"],
            "waiting": r["waiting"],
            "detected_at": r["detected_at"].isoformat(),
            "resolved_at": r["resolved_at"].isoformat() if r["resolved_at"] else None,
            "duration_seconds": domain.shortage_duration_seconds(r["detected_at"], r["resolved_at"], now),
            "acknowledged_role": r["acknowledged_role"],
            "acknowledged_at": r["acknowledged_at"].isoformat() if r["acknowledged_at"] else None,
            **({"acknowledged_by": r["acknowledged_by"]} if with_handles else {}),
        }
        for r in rows
    ]


async def escalation_summary(
    pool: asyncpg.Pool, municipality: str | None, months: list[str]
) -> list[dict[str, object]]:
    """Escalations per level and how they ended (geplaatst, ingetrokken, open), published."""
    wanted = set(months)
    counts: Counter[tuple[str, str]] = Counter()
    for r in await store.escalations(pool, municipality):
        if domain.month_of(r["escalated_at"]) in wanted:
            counts[r["level"], domain.escalation_outcome(r["confirmed_at"], r["withdrawn_at"])] += 1
    return [
        {"level": level, "outcome": outcome, "escalations": domain.published(n)}
        for (level, outcome), n in sorted(counts.items())
    ]


async def declaration_summary(pool: asyncpg.Pool, municipality: str | None, months: list[str]) -> dict[str, object]:
    """Declaration lines by outcome and by return code (JW325)."""
    wanted = set(months)
    outcomes: Counter[str] = Counter()
    codes: Counter[str] = Counter()
    for r in await store.declaration_lines(pool, municipality):
        if domain.month_of(r["assessed_at"]) in wanted:
            outcomes["goedgekeurd" if r["approved"] else "afgewezen"] += 1
            codes.update(r["return_codes"])
    return {
        "by_outcome": {k: domain.published(n) for k, n in sorted(outcomes.items())},
        "by_return_code": {k: domain.published(n) for k, n in sorted(codes.items())},
    }


async def schakelfunctie(pool: asyncpg.Pool, now: datetime | None = None) -> dict[str, object]:
    """The schakelfunctionaris' inbox: open shortages, youths waiting, escalations (pseudonymous)."""
    now = now or datetime.now(UTC)
    waiting = [
        {
            "placement_id": str(r["placement_id"]),
            "age": r["age"],
            "municipality": r["municipality"],
            "settings": list(r["settings"]),
            "urgency": r["urgency"],
            "days_waiting": max((now - r["requested_at"]).days, 0),
            "candidates_tried": r["proposals"],
            "declines": r["declines"],
            "escalated_to": r["level"],
        }
        for r in await store.waiting_youths(pool)
    ]
    escalations = [
        {
            "alert_id": str(r["alert_id"]),
            "placement_id": str(r["placement_id"]),
            "municipality": r["municipality"],
            "level": r["level"],
            "urgency": r["urgency"],
            "settings": list(r["settings"]),
            "reason": r["reason"],
            "escalated_at": r["escalated_at"].isoformat(),
            "outcome": domain.escalation_outcome(r["confirmed_at"], r["withdrawn_at"]),
            "acknowledged_by": r["acknowledged_by"],
            "acknowledged_role": r["acknowledged_role"],
            "acknowledged_at": r["acknowledged_at"].isoformat() if r["acknowledged_at"] else None,
        }
        for r in await store.escalations(pool)
    ]
    return {
        "shortages": await shortage_list(pool, now, active_only=True, with_handles=True),
        "waiting": waiting,
        "escalations": escalations,
    }

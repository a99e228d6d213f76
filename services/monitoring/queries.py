"""The reads behind monitoring's views: SQL over the read models, rows out (no published figures here)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

import asyncpg

from services.monitoring import domain
from services.monitoring.settings import MonitoringSettings
from services.runtime.db import Connection, fetch_one
from services.runtime.unit_of_work import UnitOfWork

# Free places per provider as capacity counts them: none while closed, and none that an open
# proposal holds for a youth.
_OFFERED = """
    WITH reserved AS (SELECT reserved_agb AS agb, proposed_setting AS setting, count(*) AS n
                      FROM placement_view WHERE reserved_agb IS NOT NULL GROUP BY 1, 2)
    SELECT c.*, CASE WHEN c.closed_to_admission THEN 0
                     ELSE greatest(c.free - coalesce(r.n, 0), 0) END AS offered
    FROM provider_capacity c LEFT JOIN reserved r ON r.agb = c.agb AND r.setting = c.setting"""


@dataclass(frozen=True)
class Scope:
    """Which municipality (None: the region) and which months a view covers."""

    municipality: str | None
    first: str | None
    last: str | None


class ReadModels:
    """Reads of the read models over one connection (a route's unit of work, or the gauges')."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # --- flows: referrals and care ------------------------------------------------------------

    async def referrals(self, municipality: str | None) -> list[domain.Referral]:
        rows = await self.conn.fetch(
            """SELECT referral_id, municipality, product_category, referrer, received_at FROM referral_view
               WHERE $1::text IS NULL OR municipality = $1""",
            municipality,
        )
        return [
            domain.Referral(
                str(r["referral_id"]), r["municipality"], r["product_category"], r["referrer"], r["received_at"]
            )
            for r in rows
        ]

    async def cares(self, municipality: str | None) -> list[domain.Care]:
        rows = await self.conn.fetch(
            """SELECT referral_id, municipality, product_category, start_date, end_date, end_reason FROM care_view
               WHERE $1::text IS NULL OR municipality = $1""",
            municipality,
        )
        return [
            domain.Care(
                str(r["referral_id"]),
                r["municipality"],
                r["product_category"],
                r["start_date"],
                r["end_date"],
                r["end_reason"],
            )
            for r in rows
        ]

    async def data_days(self) -> tuple[date | None, date | None]:
        """The first and last day anything happened (a referral, a start or an end of care, a doorbraak)."""
        row = await fetch_one(
            self.conn,
            """SELECT min(d) AS first, max(d) AS last FROM (
                   SELECT (received_at AT TIME ZONE 'Europe/Amsterdam')::date AS d FROM referral_view
                   UNION ALL SELECT start_date FROM care_view UNION ALL SELECT end_date FROM care_view
                   UNION ALL SELECT (taken_up_at AT TIME ZONE 'Europe/Amsterdam')::date FROM doorbraak_case_view
                   UNION ALL SELECT (closed_at AT TIME ZONE 'Europe/Amsterdam')::date FROM doorbraak_case_view
                   UNION ALL SELECT (decided_at AT TIME ZONE 'Europe/Amsterdam')::date
                             FROM doorbraak_decision_view) days""",
        )
        return row["first"], row["last"]

    # --- capacity and shortages -----------------------------------------------------------------

    async def setting_capacity(self) -> list[domain.SettingCapacity]:
        rows = await self.conn.fetch(
            f"""SELECT setting, sum(total)::int AS total, sum(occupied)::int AS occupied,
                       sum(offered)::int AS free, count(*)::int AS providers,
                       max(reported_at) AS last_report_at, min(reported_at) AS oldest_report_at
                FROM ({_OFFERED}) o GROUP BY setting"""
        )
        return [domain.SettingCapacity(**dict(r)) for r in rows]

    async def shortages(self, *, active_only: bool) -> list[asyncpg.Record]:
        return await self.conn.fetch(
            """SELECT s.shortage_id, s.alert_id, s.setting, s.severity, s.free_places, s.waiting, s.detected_at,
                      s.resolved_at, a.by_handle AS acknowledged_by, a.by_role AS acknowledged_role,
                      a.acknowledged_at
               FROM shortage_view s LEFT JOIN acknowledgement_view a ON a.alert_id = s.alert_id
               WHERE NOT $1 OR s.resolved_at IS NULL ORDER BY s.detected_at DESC LIMIT 200""",
            active_only,
        )

    # --- placements, escalations, declarations -------------------------------------------------

    async def waiting_youths(self) -> list[asyncpg.Record]:
        """Open placement requests: pseudonymous (no client_ref is even stored here)."""
        return await self.conn.fetch(
            """SELECT p.placement_id, p.age, p.municipality, p.settings, p.urgency, p.requested_at,
                      p.proposals, p.declines, p.proposed_setting,
                      (SELECT CASE WHEN bool_or(e.level = 'expertteam') THEN 'expertteam' ELSE max(e.level) END
                       FROM escalation_view e WHERE e.placement_id = p.placement_id) AS level
               FROM placement_view p LEFT JOIN referral_view r ON r.referral_id = p.referral_id
               WHERE p.confirmed_at IS NULL AND r.withdrawn_at IS NULL AND p.requested_at IS NOT NULL
               ORDER BY CASE p.urgency WHEN 'crisis' THEN 0 WHEN 'spoed' THEN 1 ELSE 2 END, p.requested_at"""
        )

    async def escalations(self, municipality: str | None = None) -> list[asyncpg.Record]:
        return await self.conn.fetch(
            """SELECT e.alert_id, e.placement_id, e.municipality, e.level, e.urgency, e.settings, e.reason,
                      e.waiting_since, e.escalated_at, p.confirmed_at, r.withdrawn_at,
                      a.by_handle AS acknowledged_by, a.by_role AS acknowledged_role, a.acknowledged_at
               FROM escalation_view e
               LEFT JOIN placement_view p ON p.placement_id = e.placement_id
               LEFT JOIN referral_view r ON r.referral_id = p.referral_id
               LEFT JOIN acknowledgement_view a ON a.alert_id = e.alert_id
               WHERE $1::text IS NULL OR e.municipality = $1
               ORDER BY e.escalated_at DESC""",
            municipality,
        )

    async def declaration_lines(self, municipality: str | None) -> list[asyncpg.Record]:
        return await self.conn.fetch(
            """SELECT municipality, approved, return_codes, assessed_at FROM declaration_line_view
               WHERE $1::text IS NULL OR municipality = $1""",
            municipality,
        )

    # --- the doorbraak ---------------------------------------------------------------------------

    async def open_doorbraak_cases(self) -> list[asyncpg.Record]:
        """Cases the expert team holds, with when and how often it met: pseudonymous (no client_ref)."""
        return await self.conn.fetch(
            """SELECT c.case_id, c.placement_id, c.age, c.municipality, c.settings, c.urgency, c.team,
                      c.first_escalated_at, c.taken_up_at,
                      count(m.meeting_id)::int AS meetings, max(m.held_on) AS last_meeting_on
               FROM doorbraak_case_view c LEFT JOIN doorbraak_meeting_view m ON m.case_id = c.case_id
               WHERE c.closed_at IS NULL
               GROUP BY c.case_id"""
        )

    async def doorbraak_decisions(self, case_ids: list[uuid.UUID]) -> list[asyncpg.Record]:
        return await self.conn.fetch(
            """SELECT decision_id, case_id, kind, executor, settings, working_days, due_date, decided_at, overdue_at,
                      carried_out_at, withdrawn_at
               FROM doorbraak_decision_view WHERE case_id = ANY($1::uuid[])""",
            case_ids,
        )

    async def doorbraak_cases(self, municipality: str | None) -> list[domain.DoorbraakCase]:
        rows = await self.conn.fetch(
            """SELECT municipality, first_escalated_at, taken_up_at, closed_at, closed_reason FROM doorbraak_case_view
               WHERE $1::text IS NULL OR municipality = $1""",
            municipality,
        )
        return [domain.DoorbraakCase(**dict(r)) for r in rows]

    async def doorbraak_decision_facts(self, municipality: str | None) -> list[domain.DoorbraakDecision]:
        rows = await self.conn.fetch(
            """SELECT case_id::text, municipality, kind, first_escalated_at, decided_at FROM doorbraak_decision_view
               WHERE $1::text IS NULL OR municipality = $1""",
            municipality,
        )
        return [domain.DoorbraakDecision(**dict(r)) for r in rows]

    # --- the pools ---------------------------------------------------------------------------------

    async def pool_places(self, pool: str) -> list[asyncpg.Record]:
        """Every member's providers in the pool's settings, as last told."""
        return await self.conn.fetch(
            """SELECT region, agb, setting, free, total, reserved, reported_at FROM pool_capacity_view
               WHERE pool = $1 ORDER BY region, setting, agb""",
            pool,
        )

    async def open_pool_shortages(self, pool: str) -> list[asyncpg.Record]:
        """The members' open shortages in the pool, the latest per region and setting."""
        return await self.conn.fetch(
            """SELECT DISTINCT ON (region, setting) region, setting, detected_at FROM pool_shortage_view
               WHERE pool = $1 AND resolved_at IS NULL ORDER BY region, setting, detected_at DESC""",
            pool,
        )


# What a view reads through: a route's unit of work on the read models (one connection, one "now").
Reading = UnitOfWork[ReadModels, MonitoringSettings]


async def months_of(uow: Reading, scope: Scope) -> list[str]:
    """The months a view covers: the scope's, or from the first to the last month with any data."""
    first_day, last_day = await uow.store.data_days()
    first = scope.first or (domain.month_of(first_day) if first_day else None)
    last = scope.last or (domain.month_of(last_day) if last_day else None)
    if not first or not last or first > last:
        return []
    return domain.months_between(first, last)

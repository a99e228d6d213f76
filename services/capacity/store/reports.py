"""SQL of capacity reports (kept as history) and of the providers admitted to report them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import asyncpg

from contracts.verblijf import Setting
from services.capacity.domain import Candidate, CapacityFigures, ProviderCapacity
from services.capacity.store.records import StaleReport
from services.runtime.db import Connection

# Places an open proposal holds are not free: two youths must never be offered the same bed. That
# includes a place held for another pool member's youth (``pool_request``); a proposal this region
# made to another member's provider holds a place there, not here.
OFFERS = """
    SELECT c.agb, c.setting, r.total, r.occupied, r.closed_to_admission, r.age_min, r.age_max,
           p.municipality_code,
           ((SELECT count(*) FROM proposal o
              WHERE o.agb = c.agb AND o.setting = c.setting AND o.outcome IS NULL AND o.region IS NULL)
            + (SELECT count(*) FROM pool_request q
                WHERE q.agb = c.agb AND q.setting = c.setting AND q.outcome IS NULL))::int AS reserved,
           (SELECT max(o.proposed_at) FROM proposal o WHERE o.agb = c.agb) AS last_proposed_at
    FROM capacity_current c
    JOIN capacity_report r ON r.id = c.report_id
    JOIN provider p ON p.agb = c.agb
    WHERE c.setting = ANY($1::text[])
      AND EXISTS (SELECT 1 FROM provider_admission a
                   WHERE a.agb = c.agb AND a.setting = c.setting AND a.ended_at IS NULL)
"""


def provider_capacity(row: asyncpg.Record) -> ProviderCapacity:
    """The figures of one row of ``OFFERS``."""
    return ProviderCapacity(row["total"], row["occupied"], row["closed_to_admission"], row["reserved"])


class Reports:
    """Reports and admissions, on the connection of a ``CapacityStore``."""

    _conn: Connection

    async def insert_report(
        self, agb: str, setting: str, figures: CapacityFigures, reported_at: datetime, reported_by: str
    ) -> None:
        report_id = await self._conn.fetchval(
            """INSERT INTO capacity_report (agb, setting, total, occupied, closed_to_admission, age_min,
                                            age_max, reported_at, reported_by)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id""",
            agb,
            setting,
            figures.total,
            figures.occupied,
            figures.closed_to_admission,
            figures.age_min,
            figures.age_max,
            reported_at,
            reported_by,
        )
        await self._conn.execute(
            """INSERT INTO capacity_current (agb, setting, report_id) VALUES ($1, $2, $3)
               ON CONFLICT (agb, setting) DO UPDATE SET report_id = EXCLUDED.report_id""",
            agb,
            setting,
            report_id,
        )

    async def current_figures(self, agb: str, setting: str) -> CapacityFigures | None:
        row = await self._conn.fetchrow(
            """SELECT r.total, r.occupied, r.closed_to_admission, r.age_min, r.age_max
               FROM capacity_current c JOIN capacity_report r ON r.id = c.report_id
               WHERE c.agb = $1 AND c.setting = $2""",
            agb,
            setting,
        )
        return None if row is None else CapacityFigures(**dict(row))

    async def providers_of(self, setting: str) -> list[ProviderCapacity]:
        """The current figures of every admitted provider in ``setting``, reservations included."""
        return [provider_capacity(r) for r in await self._conn.fetch(OFFERS, [setting])]

    async def candidates(self, settings: Iterable[str]) -> list[Candidate]:
        return [
            Candidate(
                agb=r["agb"],
                setting=Setting(r["setting"]),
                free=provider_capacity(r).free,
                age_min=r["age_min"],
                age_max=r["age_max"],
                municipality_code=r["municipality_code"],
                last_proposed_at=r["last_proposed_at"],
            )
            for r in await self._conn.fetch(OFFERS, list(settings))
        ]

    async def admit_provider(
        self, agb: str, settings: Iterable[str], origin: str, at: datetime, municipality_code: str | None = None
    ) -> None:
        await self._conn.execute(
            """INSERT INTO provider (agb, municipality_code, registered_at) VALUES ($1, $2, $3)
               ON CONFLICT (agb) DO UPDATE SET municipality_code = coalesce(EXCLUDED.municipality_code,
                                                                            provider.municipality_code)""",
            agb,
            municipality_code,
            at,
        )
        await self._conn.executemany(
            """INSERT INTO provider_admission (agb, setting, origin, admitted_at) VALUES ($1, $2, $3, $4)
               ON CONFLICT (agb, setting, origin) DO UPDATE SET ended_at = NULL, admitted_at = EXCLUDED.admitted_at""",
            [(agb, s, origin, at) for s in settings],
        )

    async def end_admissions(self, origin: str, at: datetime) -> list[str]:
        """End what ``origin`` admitted; returns the settings ended."""
        rows = await self._conn.fetch(
            """UPDATE provider_admission SET ended_at = $2
               WHERE origin = $1 AND ended_at IS NULL
               RETURNING setting""",
            origin,
            at,
        )
        return [r["setting"] for r in rows]

    async def admitted_settings(self, agb: str) -> set[str]:
        rows = await self._conn.fetch(
            "SELECT DISTINCT setting FROM provider_admission WHERE agb = $1 AND ended_at IS NULL", agb
        )
        return {r["setting"] for r in rows}

    async def stale_reports(self, older_than: datetime) -> list[StaleReport]:
        """Current reports of admitted providers not refreshed since ``older_than`` and not yet alerted."""
        rows = await self._conn.fetch(
            """SELECT c.agb, c.setting, c.report_id, r.reported_at
               FROM capacity_current c JOIN capacity_report r ON r.id = c.report_id
               WHERE r.reported_at <= $1 AND c.stale_alerted_report_id IS DISTINCT FROM c.report_id
                 AND EXISTS (SELECT 1 FROM provider_admission a
                              WHERE a.agb = c.agb AND a.setting = c.setting AND a.ended_at IS NULL)""",
            older_than,
        )
        return [StaleReport(**dict(r)) for r in rows]

    async def mark_stale_alerted(self, report: StaleReport) -> bool:
        """Claim the stale alert for this report; False when another worker already raised it."""
        status = await self._conn.execute(
            """UPDATE capacity_current SET stale_alerted_report_id = $3
               WHERE agb = $1 AND setting = $2 AND report_id = $3
                 AND stale_alerted_report_id IS DISTINCT FROM $3""",
            report.agb,
            report.setting,
            report.report_id,
        )
        return status.endswith(" 1")

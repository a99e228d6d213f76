"""SQL of the doorbraak: the expert team's cases, their meetings and decisions, and the providers a
carried-out decision admitted for one youth's placement.

A case belongs to its placement, and the placement's row is the lock of both: every command locks
the placement (``Placements.placement``) before it reads a case or a decision to change it, so
these reads take no row lock of their own and two commands never lock in opposite orders."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from datetime import datetime

import asyncpg

from contracts.doorbraak import CaseClosedReason, DecisionKind, DoorbraakTeam, Executor, WithdrawalReason
from services.capacity.store.records import Decision, DoorbraakCase, Meeting, PlacementAdmission
from services.runtime.db import Connection, insert_row, update_row


def _case(row: asyncpg.Record) -> DoorbraakCase:
    reason = row["closed_reason"]
    return DoorbraakCase(
        **{
            **dict(row),
            "team": DoorbraakTeam(row["team"]),
            "closed_reason": CaseClosedReason(reason) if reason else None,
        }
    )


def _decision(row: asyncpg.Record) -> Decision:
    reason = row["withdrawal_reason"]
    return Decision(
        **{
            **dict(row),
            "kind": DecisionKind(row["kind"]),
            "executor": Executor(row["executor"]),
            "withdrawal_reason": WithdrawalReason(reason) if reason else None,
        }
    )


class Doorbraak:
    """Cases, meetings, decisions and per-placement admissions, on the connection of a ``CapacityStore``."""

    _conn: Connection

    async def insert_case(self, case: DoorbraakCase) -> None:
        await insert_row(self._conn, "doorbraak_case", asdict(case))

    async def case(self, case_id: uuid.UUID) -> DoorbraakCase | None:
        row = await self._conn.fetchrow("SELECT * FROM doorbraak_case WHERE id = $1", case_id)
        return None if row is None else _case(row)

    async def open_case_of(self, placement_id: uuid.UUID) -> DoorbraakCase | None:
        row = await self._conn.fetchrow(
            "SELECT * FROM doorbraak_case WHERE placement_id = $1 AND status = 'open'", placement_id
        )
        return None if row is None else _case(row)

    async def set_case(self, case_id: uuid.UUID, **fields: object) -> None:
        await update_row(self._conn, "doorbraak_case", case_id, fields)

    async def insert_meeting(self, meeting: Meeting) -> None:
        await insert_row(self._conn, "doorbraak_meeting", asdict(meeting))

    async def meetings(self, case_id: uuid.UUID) -> list[Meeting]:
        rows = await self._conn.fetch(
            "SELECT * FROM doorbraak_meeting WHERE case_id = $1 ORDER BY held_on, recorded_at", case_id
        )
        return [Meeting(**dict(r)) for r in rows]

    async def insert_decision(self, decision: Decision) -> None:
        await insert_row(self._conn, "doorbraak_decision", asdict(decision))

    async def decision(self, decision_id: uuid.UUID) -> Decision | None:
        row = await self._conn.fetchrow("SELECT * FROM doorbraak_decision WHERE id = $1", decision_id)
        return None if row is None else _decision(row)

    async def open_decision(self, case_id: uuid.UUID) -> Decision | None:
        row = await self._conn.fetchrow(
            "SELECT * FROM doorbraak_decision WHERE case_id = $1 AND status = 'open'", case_id
        )
        return None if row is None else _decision(row)

    async def set_decision(self, decision_id: uuid.UUID, **fields: object) -> None:
        await update_row(self._conn, "doorbraak_decision", decision_id, fields)

    async def decisions_overdue(self, now: datetime) -> list[uuid.UUID]:
        """Open decisions past their due moment and not yet alerted, the longest overdue first."""
        rows = await self._conn.fetch(
            """SELECT id FROM doorbraak_decision
               WHERE status = 'open' AND overdue_alerted_at IS NULL AND overdue_from <= $1 ORDER BY overdue_from""",
            now,
        )
        return [r["id"] for r in rows]

    async def admit_for_placement(self, admission: PlacementAdmission) -> None:
        await insert_row(
            self._conn,
            "placement_admission",
            asdict(admission),
            "ON CONFLICT (placement_id, agb, setting) DO UPDATE SET origin = EXCLUDED.origin, "
            "decision_id = EXCLUDED.decision_id, admitted_at = EXCLUDED.admitted_at, ended_at = NULL",
        )

    async def placement_admissions(self, placement_id: uuid.UUID) -> list[PlacementAdmission]:
        """The providers admitted for this placement only, still running, first admitted first."""
        rows = await self._conn.fetch(
            """SELECT * FROM placement_admission WHERE placement_id = $1 AND ended_at IS NULL
               ORDER BY admitted_at, agb, setting""",
            placement_id,
        )
        return [PlacementAdmission(**dict(r)) for r in rows]

    async def end_placement_admissions(self, origin: str, at: datetime) -> None:
        await self._conn.execute(
            "UPDATE placement_admission SET ended_at = $2 WHERE origin = $1 AND ended_at IS NULL", origin, at
        )

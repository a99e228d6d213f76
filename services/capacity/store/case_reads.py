"""What the doorbraak's routes read: the list of cases and one case file with its history. Plain
queries on the pool, outside any unit of work, since they change nothing."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg

from contracts.capacity import CaseEscalated
from services.runtime.db import snapshot

_CASES = """SELECT c.id AS case_id, c.placement_id, c.referral_id, c.team, c.status, c.first_escalated_at,
                   c.taken_up_at, c.closed_at, c.closed_reason,
                   p.client_ref, p.age, p.municipality_code, p.urgency, p.settings, p.requested_at AS referred_at,
                   p.status AS placement_status, p.escalation_level, p.escalation_note,
                   p.confirmed_agb, p.confirmed_setting, p.confirmed_at,
                   d.id AS decision_id, d.kind AS decision_kind, d.executor AS decision_executor,
                   d.due_date AS decision_due_date,
                   (d.id IS NOT NULL AND d.overdue_from <= $1) AS overdue
            FROM doorbraak_case c
            JOIN placement p ON p.id = c.placement_id
            LEFT JOIN doorbraak_decision d ON d.case_id = c.id AND d.status = 'open'"""


async def list_cases(pool: asyncpg.Pool, *, status: str | None, now: datetime, limit: int) -> list[asyncpg.Record]:
    """Cases with their open decision: those with an overdue decision first, then the longest escalated."""
    return await pool.fetch(
        _CASES
        + """ WHERE ($2::text IS NULL OR c.status = $2)
             ORDER BY overdue DESC, c.first_escalated_at, c.taken_up_at LIMIT $3""",
        now,
        status,
        limit,
    )


async def case_file(pool: asyncpg.Pool, case_id: uuid.UUID, now: datetime) -> dict[str, Any] | None:
    """One case with its history: proposals (with reservations and decline codes), escalations,
    meetings and decisions, oldest first. None when there is no such case."""
    async with pool.acquire() as conn, snapshot(conn):
        case = await conn.fetchrow(_CASES + " WHERE c.id = $2", now, case_id)
        if case is None:
            return None
        proposals = await conn.fetch(
            """SELECT agb, setting, proposed_at, reserved_until, outcome, reason, note, decided_at
               FROM proposal WHERE placement_id = $1 ORDER BY id""",
            case["placement_id"],
        )
        escalations = await conn.fetch(
            """SELECT envelope->'data'->>'level' AS level, envelope->'data'->>'reason' AS reason,
                      created_at AS escalated_at
               FROM alert WHERE type = $1 AND envelope->'data'->>'placement_id' = $2 ORDER BY seq""",
            CaseEscalated.event_type,
            str(case["placement_id"]),
        )
        meetings = await conn.fetch(
            """SELECT id AS meeting_id, held_on, parties, notes, recorded_at, recorded_by
               FROM doorbraak_meeting WHERE case_id = $1 ORDER BY held_on, recorded_at""",
            case_id,
        )
        decisions = await conn.fetch(
            """SELECT id AS decision_id, kind, executor, provider_agb, settings, working_days, due_date, notes,
                      decided_at, decided_by, status, carried_out_at, contract_id, withdrawn_at,
                      withdrawal_reason, withdrawal_notes, overdue_alerted_at,
                      (status = 'open' AND overdue_from <= $2) AS overdue
               FROM doorbraak_decision WHERE case_id = $1 ORDER BY decided_at""",
            case_id,
            now,
        )
    return {
        **dict(case),
        "proposals": [dict(r) for r in proposals],
        "escalations": [dict(r) for r in escalations],
        "meetings": [dict(r) for r in meetings],
        "decisions": [dict(r) for r in decisions],
    }

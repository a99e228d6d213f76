"""Intake's SQL for its commands and reads: clients, referrals with their history, toewijzingen,
providers' requests and the contracts learned from contracting; behind the ``IntakeStore`` protocol
that the in-memory fake of the unit tests satisfies too."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal, Protocol

import asyncpg

from services.intake.domain import AllocationFacts
from services.runtime.db import Connection, fetch_one, insert_row, update_row

# One row of a table, by column name.
Row = Mapping[str, Any]
PlaceClaim = Literal["held", "occupied", "over_limit"]


@dataclass(frozen=True)
class VerblijfPlace:
    """A place of a submitter's day that a verblijf or crisis referral asks to hold, below the day's ``limit``."""

    submitted_by: str
    day: date
    place: int
    limit: int | None


class IntakeStore(Protocol):
    """What intake's commands and reads need of their store; one instance per unit of work."""

    async def known_client_ref(self, candidates: list[str]) -> str | None:
        """The first of ``candidates`` (pseudonyms under each key, newest first) intake already knows."""

    async def register_referral(
        self, sealed: bytes, values: Row, detail: str = "", place: VerblijfPlace | None = None
    ) -> PlaceClaim | None:
        """Store the youth of ``values["client_ref"]`` (its personal data ``sealed``, at ``received_at``),
        the referral ``values`` and its first history step, "received" with ``detail``; with a
        ``place``, try to let the referral hold it as ``take_verblijf_place`` does and say how that went."""

    async def lock_referral(self, referral_id: uuid.UUID) -> Row | None: ...

    async def get_referral(self, referral_id: uuid.UUID) -> Row | None: ...

    async def set_referral_status(
        self, referral_id: uuid.UUID, status: str, at: datetime, step: str, detail: str = ""
    ) -> None:
        """Set the referral's status and add the step to its history."""

    async def mark_placed(self, referral_id: uuid.UUID, at: datetime, provider_agb: str) -> None: ...

    async def mark_care_started(self, referral_id: uuid.UUID, at: datetime) -> None:
        """Waiting ends at the first start of care; a later toewijzing does not restart it."""

    async def mark_withdrawn(self, referral_id: uuid.UUID, at: datetime, reason: str) -> None: ...

    async def history(self, referral_id: uuid.UUID) -> list[Row]:
        """The referral's steps, oldest first: at, status, step, detail."""

    async def take_verblijf_place(
        self, submitted_by: str, day: date, place: int, referral_id: uuid.UUID, limit: int | None
    ) -> PlaceClaim:
        """Let ``referral_id`` hold ``place`` of ``submitted_by``'s ``day`` (released when it is placed or
        withdrawn): "held"; "occupied" when another referral holds it; with a ``limit``,
        "over_limit" and nothing held while a place above it is held (the cap was lowered that day)."""

    async def lowest_free_verblijf_place(self, submitted_by: str, day: date) -> int: ...

    async def verblijf_places_held(self, submitted_by: str, day: date) -> int:
        """How many of ``submitted_by``'s verblijf and crisis referrals of ``day`` are open."""

    async def lock_submitter(self, actor: str) -> None:
        """Serialise one submitter's verblijf referrals while the cap was lowered that day."""

    async def contracted(self, provider_agb: str, day: date) -> bool | None:
        """Whether ``provider_agb`` holds a contract on ``day``; None while intake knows no contracts at all."""

    async def lock_client(self, client_ref: str) -> None:
        """Serialise toewijzingen of one client, so two concurrent ones cannot both miss the other (OP259)."""

    async def next_allocation_number(self, municipality_code: str) -> int:
        """Toewijzingnummers run per municipality."""

    async def insert_allocation(self, values: Row) -> None: ...

    async def lock_allocation(self, allocation_id: uuid.UUID) -> Row | None: ...

    async def allocations_of_client(
        self, client_ref: str, exclude: uuid.UUID | None = None
    ) -> list[AllocationFacts]: ...

    async def allocations_of_referral(self, referral_id: uuid.UUID) -> list[Row]:
        """The referral's toewijzingen in the order they were issued."""

    async def update_allocation(self, allocation_id: uuid.UUID, **values: Any) -> None: ...

    async def insert_request(self, values: Row) -> None: ...

    async def lock_request(self, request_id: uuid.UUID) -> Row | None: ...

    async def answer_request(
        self,
        request_id: uuid.UUID,
        at: datetime,
        answer: str,
        rejection_reason: str | None = None,
        allocation_id: uuid.UUID | None = None,
    ) -> None: ...

    async def list_requests(
        self, *, municipality_code: str | None, provider_agb: str | None, open_only: bool
    ) -> list[Row]:
        """Requests of a municipality or a provider (None: any), oldest first."""

    async def claim_newly_overdue(self, now: datetime) -> list[Row]:
        """Open requests past their deadline that were not yet reported, marked reported now."""

    async def count_overdue_open(self, now: datetime) -> int: ...

    async def upsert_contract(
        self, contract_id: uuid.UUID, provider_agb: str, valid_from: date, valid_to: date
    ) -> None: ...

    async def end_contract(self, contract_id: uuid.UUID, provider_agb: str, end_date: date) -> None:
        """An end may arrive for a contract admitted before intake listened: remember it anyway."""


# The end of a statement that lets a referral hold a place (none when the place is NULL) unless a
# place above the limit is held (the cap was lowered that day); formatted with parameter numbers.
_TAKING_PLACE = """over AS (
        SELECT {limit}::int IS NOT NULL AND EXISTS (
            SELECT 1 FROM verblijf_place
            WHERE submitted_by = {submitted_by} AND day = {day} AND place > {limit}) AS over_limit),
    held AS (
        INSERT INTO verblijf_place (submitted_by, day, place, referral_id)
        SELECT {submitted_by}, {day}, {place}, {referral_id} FROM over
        WHERE {place}::int IS NOT NULL AND NOT over_limit
        ON CONFLICT (submitted_by, day, place) DO NOTHING
        RETURNING place)
    SELECT (SELECT over_limit FROM over) AS over_limit, EXISTS (SELECT 1 FROM held) AS held"""


def _claim(row: asyncpg.Record) -> PlaceClaim:
    return "held" if row["held"] else "over_limit" if row["over_limit"] else "occupied"


# A placed or withdrawn referral no longer holds a place of its submitter's day (verblijf_place).
_RELEASING_PLACE = "WITH released AS (DELETE FROM verblijf_place WHERE referral_id = $1)"


def postgres(conn: Connection) -> IntakeStore:
    """The store of a unit of work on PostgreSQL, typed as the protocol the commands take."""
    return PostgresIntakeStore(conn)


def _row(record: asyncpg.Record | None) -> Row | None:
    return None if record is None else dict(record.items())


def _rows(records: list[asyncpg.Record]) -> list[Row]:
    return [dict(r.items()) for r in records]


class PostgresIntakeStore:
    """``IntakeStore`` on one connection, inside the unit of work's transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    async def known_client_ref(self, candidates: list[str]) -> str | None:
        rows = await self.conn.fetch("SELECT client_ref FROM client WHERE client_ref = ANY($1::text[])", candidates)
        known = {r["client_ref"] for r in rows}
        return next((ref for ref in candidates if ref in known), None)

    async def register_referral(
        self, sealed: bytes, values: Row, detail: str = "", place: VerblijfPlace | None = None
    ) -> PlaceClaim | None:
        # One statement for every row: under load a request pays per round trip, not per row.
        # A youth referred again after an erasure is known again: the new referral brings the data back.
        columns = ", ".join(values)
        params = ", ".join(f"${i}" for i in range(9, len(values) + 9))
        row = await fetch_one(
            self.conn,
            f"""WITH youth AS (
                    INSERT INTO client (client_ref, personal, updated_at) VALUES ($1, $2, $3)
                    ON CONFLICT (client_ref) DO UPDATE
                    SET personal = EXCLUDED.personal, updated_at = EXCLUDED.updated_at, erased_at = NULL),
                received AS (INSERT INTO referral ({columns}) VALUES ({params}) RETURNING id, status),
                step AS (
                    INSERT INTO referral_history (referral_id, at, status, step, detail)
                    SELECT id, $3, status, 'received', $4 FROM received),
                {
                _TAKING_PLACE.format(
                    submitted_by="$5::text",
                    day="$6::date",
                    place="$7",
                    limit="$8",
                    referral_id="(SELECT id FROM received)",
                )
            }""",
            values["client_ref"],
            sealed,
            values["received_at"],
            detail,
            *((place.submitted_by, place.day, place.place, place.limit) if place else (None, None, None, None)),
            *values.values(),
        )
        return None if place is None else _claim(row)

    async def lock_referral(self, referral_id: uuid.UUID) -> Row | None:
        return _row(await self.conn.fetchrow("SELECT * FROM referral WHERE id = $1 FOR UPDATE", referral_id))

    async def get_referral(self, referral_id: uuid.UUID) -> Row | None:
        return _row(await self.conn.fetchrow("SELECT * FROM referral WHERE id = $1", referral_id))

    async def set_referral_status(
        self, referral_id: uuid.UUID, status: str, at: datetime, step: str, detail: str = ""
    ) -> None:
        await self.conn.execute("UPDATE referral SET status = $2 WHERE id = $1", referral_id, status)
        await self.conn.execute(
            "INSERT INTO referral_history (referral_id, at, status, step, detail) VALUES ($1, $2, $3, $4, $5)",
            referral_id,
            at,
            status,
            step,
            detail,
        )

    async def mark_placed(self, referral_id: uuid.UUID, at: datetime, provider_agb: str) -> None:
        await self.conn.execute(
            f"{_RELEASING_PLACE} UPDATE referral SET placed_at = $2, placed_with = $3 WHERE id = $1",
            referral_id,
            at,
            provider_agb,
        )

    async def mark_care_started(self, referral_id: uuid.UUID, at: datetime) -> None:
        await self.conn.execute(
            "UPDATE referral SET care_started_at = coalesce(care_started_at, $2) WHERE id = $1", referral_id, at
        )

    async def mark_withdrawn(self, referral_id: uuid.UUID, at: datetime, reason: str) -> None:
        await self.conn.execute(
            f"{_RELEASING_PLACE} UPDATE referral SET withdrawn_at = $2, withdrawal_reason = $3 WHERE id = $1",
            referral_id,
            at,
            reason,
        )

    async def history(self, referral_id: uuid.UUID) -> list[Row]:
        return _rows(
            await self.conn.fetch(
                "SELECT at, status, step, detail FROM referral_history WHERE referral_id = $1 ORDER BY seq",
                referral_id,
            )
        )

    async def take_verblijf_place(
        self, submitted_by: str, day: date, place: int, referral_id: uuid.UUID, limit: int | None
    ) -> PlaceClaim:
        row = await fetch_one(
            self.conn,
            "WITH " + _TAKING_PLACE.format(submitted_by="$1", day="$2", place="$3", limit="$4", referral_id="$5"),
            submitted_by,
            day,
            place,
            limit,
            referral_id,
        )
        return _claim(row)

    async def lowest_free_verblijf_place(self, submitted_by: str, day: date) -> int:
        lowest: int = await self.conn.fetchval(
            """SELECT min(candidate.place) FROM (
                   SELECT 1 AS place
                   UNION ALL SELECT place + 1 FROM verblijf_place WHERE submitted_by = $1 AND day = $2) AS candidate
               WHERE NOT EXISTS (SELECT 1 FROM verblijf_place
                                 WHERE submitted_by = $1 AND day = $2 AND place = candidate.place)""",
            submitted_by,
            day,
        )
        return lowest

    async def verblijf_places_held(self, submitted_by: str, day: date) -> int:
        count: int = await self.conn.fetchval(
            "SELECT count(*) FROM verblijf_place WHERE submitted_by = $1 AND day = $2", submitted_by, day
        )
        return count

    async def lock_submitter(self, actor: str) -> None:
        await self.conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"verblijf-cap:{actor}")

    async def contracted(self, provider_agb: str, day: date) -> bool | None:
        row = await fetch_one(
            self.conn,
            """SELECT count(*) AS known,
                      count(*) FILTER (WHERE provider_agb = $1 AND valid_from <= $2 AND valid_to >= $2
                                       AND (ended_on IS NULL OR ended_on >= $2)) AS holding
               FROM provider_contract""",
            provider_agb,
            day,
        )
        return None if row["known"] == 0 else row["holding"] > 0

    async def lock_client(self, client_ref: str) -> None:
        await self.conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"intake.client.{client_ref}")

    async def next_allocation_number(self, municipality_code: str) -> int:
        number: int = await self.conn.fetchval(
            """INSERT INTO allocation_number (municipality_code, last_number) VALUES ($1, 1)
               ON CONFLICT (municipality_code) DO UPDATE SET last_number = allocation_number.last_number + 1
               RETURNING last_number""",
            municipality_code,
        )
        return number

    async def insert_allocation(self, values: Row) -> None:
        await insert_row(self.conn, "allocation", values)

    async def lock_allocation(self, allocation_id: uuid.UUID) -> Row | None:
        return _row(await self.conn.fetchrow("SELECT * FROM allocation WHERE id = $1 FOR UPDATE", allocation_id))

    async def allocations_of_client(self, client_ref: str, exclude: uuid.UUID | None = None) -> list[AllocationFacts]:
        rows = await self.conn.fetch(
            "SELECT * FROM allocation WHERE client_ref = $1 AND id IS DISTINCT FROM $2", client_ref, exclude
        )
        return [AllocationFacts.of(r) for r in _rows(rows)]

    async def allocations_of_referral(self, referral_id: uuid.UUID) -> list[Row]:
        return _rows(
            await self.conn.fetch("SELECT * FROM allocation WHERE referral_id = $1 ORDER BY issued_at", referral_id)
        )

    async def update_allocation(self, allocation_id: uuid.UUID, **values: Any) -> None:
        await update_row(self.conn, "allocation", allocation_id, values)

    async def insert_request(self, values: Row) -> None:
        await insert_row(self.conn, "allocation_request", values)

    async def lock_request(self, request_id: uuid.UUID) -> Row | None:
        return _row(await self.conn.fetchrow("SELECT * FROM allocation_request WHERE id = $1 FOR UPDATE", request_id))

    async def answer_request(
        self,
        request_id: uuid.UUID,
        at: datetime,
        answer: str,
        rejection_reason: str | None = None,
        allocation_id: uuid.UUID | None = None,
    ) -> None:
        await self.conn.execute(
            """UPDATE allocation_request
               SET answered_at = $2, answer = $3, rejection_reason = $4, allocation_id = $5
               WHERE id = $1""",
            request_id,
            at,
            answer,
            rejection_reason,
            allocation_id,
        )

    async def list_requests(
        self, *, municipality_code: str | None, provider_agb: str | None, open_only: bool
    ) -> list[Row]:
        return _rows(
            await self.conn.fetch(
                """SELECT * FROM allocation_request
                   WHERE ($1::text IS NULL OR municipality_code = $1) AND ($2::text IS NULL OR provider_agb = $2)
                     AND (NOT $3 OR answered_at IS NULL)
                   ORDER BY requested_at""",
                municipality_code,
                provider_agb,
                open_only,
            )
        )

    async def claim_newly_overdue(self, now: datetime) -> list[Row]:
        return _rows(
            await self.conn.fetch(
                """UPDATE allocation_request SET overdue_at = $1
                   WHERE id IN (SELECT id FROM allocation_request
                                WHERE answered_at IS NULL AND overdue_at IS NULL AND answer_due < $1
                                ORDER BY answer_due FOR UPDATE SKIP LOCKED)
                   RETURNING *""",
                now,
            )
        )

    async def count_overdue_open(self, now: datetime) -> int:
        count: int = await self.conn.fetchval(
            "SELECT count(*) FROM allocation_request WHERE answered_at IS NULL AND answer_due < $1", now
        )
        return count

    async def upsert_contract(
        self, contract_id: uuid.UUID, provider_agb: str, valid_from: date, valid_to: date
    ) -> None:
        await self.conn.execute(
            """INSERT INTO provider_contract (contract_id, provider_agb, valid_from, valid_to) VALUES ($1, $2, $3, $4)
               ON CONFLICT (contract_id) DO UPDATE SET valid_from = EXCLUDED.valid_from, valid_to = EXCLUDED.valid_to""",
            contract_id,
            provider_agb,
            valid_from,
            valid_to,
        )

    async def end_contract(self, contract_id: uuid.UUID, provider_agb: str, end_date: date) -> None:
        await self.conn.execute(
            """INSERT INTO provider_contract (contract_id, provider_agb, valid_from, valid_to, ended_on)
               VALUES ($1, $2, $3, $3, $3)
               ON CONFLICT (contract_id) DO UPDATE SET ended_on = EXCLUDED.ended_on""",
            contract_id,
            provider_agb,
            end_date,
        )

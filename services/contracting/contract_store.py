"""Contracting's SQL for lots, Open House applications and their waitlist, and contracts."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

import asyncpg

from contracts.contracting import ContractKind
from services.contracting.domain.lots import Evidence, Lot, Tariff
from services.runtime.db import Connection


@dataclass(frozen=True)
class ContractRecord:
    """A contract as registered: Open House from an application, or maatwerk, uitloop, taakgericht by hand."""

    id: uuid.UUID
    kind: ContractKind
    provider_agb: str
    lot: str
    valid_from: date
    valid_to: date
    created_at: datetime
    client_ref: str | None = None
    # Prices of its own (maatwerk), if agreed; otherwise the lot's apply.
    tariffs: tuple[Tariff, ...] = ()
    application_id: uuid.UUID | None = None
    ended_on: date | None = None
    end_reason: str | None = None
    # The doorbraak decision (capacity's expert team) a maatwerk contract carries out.
    decision_id: uuid.UUID | None = None


@dataclass(frozen=True)
class WaitingApplicant:
    """A provider on a lot's waitlist, with the evidence it applied with; ``seq`` orders arrival."""

    seq: int
    application_id: uuid.UUID
    provider_agb: str
    evidence: tuple[Evidence, ...]


class ContractStore(Protocol):
    """What the Open House and contract commands read and write."""

    async def seed_lots(self, lots: Sequence[Lot], at: datetime) -> None: ...
    async def all_lots(self) -> list[Lot]: ...
    async def get_lot(self, code: str, *, lock: bool = False) -> Lot | None: ...
    async def put_lot(self, lot: Lot, at: datetime, by: str) -> None: ...
    async def insert_application(
        self, application_id: uuid.UUID, agb: str, kvk: str, evidence: Sequence[Evidence], at: datetime
    ) -> None: ...
    async def record_decision(
        self, application_id: uuid.UUID, lot: str, outcome: str, reasons: Sequence[str], at: datetime
    ) -> None: ...
    async def join_waitlist(self, lot: str, application_id: uuid.UUID, agb: str, at: datetime) -> int: ...
    async def waitlist_position(self, lot: str, agb: str) -> int | None: ...
    async def waiting(self, lot: str) -> list[WaitingApplicant]: ...
    async def leave_waitlist(self, seq: int, outcome: str, at: datetime) -> None: ...
    async def insert_contract(self, contract: ContractRecord) -> None: ...
    async def running_open_house(self, agb: str, lot: str) -> uuid.UUID | None: ...
    async def list_contracts(self, agb: str | None) -> list[ContractRecord]: ...
    async def get_contract(self, contract_id: uuid.UUID, *, lock: bool = False) -> ContractRecord | None: ...
    async def contract_of_decision(self, decision_id: uuid.UUID) -> ContractRecord | None: ...
    async def end_contract(self, contract_id: uuid.UUID, end_date: date, reason: str, at: datetime) -> None: ...


def lot_of(row: asyncpg.Record | Mapping[str, Any]) -> Lot:
    """A lot from its row: the terms as JSON text beside its code and status."""
    return Lot.model_validate({**json.loads(row["terms"]), "code": row["code"], "status": row["status"]})


def tariffs_of(text: str) -> tuple[Tariff, ...]:
    return tuple(Tariff.model_validate(t) for t in json.loads(text))


_CONTRACT_COLUMNS = """id, kind, provider_agb, lot, client_ref, valid_from, valid_to, tariffs::text AS tariffs,
                       application_id, created_at, ended_on, end_reason, decision_id"""


def _contract(row: asyncpg.Record) -> ContractRecord:
    return ContractRecord(**{**dict(row), "kind": ContractKind(row["kind"]), "tariffs": tariffs_of(row["tariffs"])})


class PgContractStore:
    """``ContractStore`` on PostgreSQL, inside the unit of work's transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    async def seed_lots(self, lots: Sequence[Lot], at: datetime) -> None:
        """Insert the lots not yet known; an admin's later edits are never overwritten by the seed."""
        await self.conn.executemany(
            """INSERT INTO lot (code, terms, status, updated_at, updated_by) VALUES ($1, $2::jsonb, $3, $4, 'seed')
               ON CONFLICT (code) DO NOTHING""",
            [(lot.code, lot.model_dump_json(exclude={"code", "status"}), lot.status.value, at) for lot in lots],
        )

    async def all_lots(self) -> list[Lot]:
        rows = await self.conn.fetch("SELECT code, terms::text AS terms, status FROM lot ORDER BY code")
        return [lot_of(r) for r in rows]

    async def get_lot(self, code: str, *, lock: bool = False) -> Lot | None:
        row = await self.conn.fetchrow(
            f"SELECT code, terms::text AS terms, status FROM lot WHERE code = $1{' FOR UPDATE' if lock else ''}", code
        )
        return lot_of(row) if row else None

    async def put_lot(self, lot: Lot, at: datetime, by: str) -> None:
        await self.conn.execute(
            """INSERT INTO lot (code, terms, status, updated_at, updated_by) VALUES ($1, $2::jsonb, $3, $4, $5)
               ON CONFLICT (code) DO UPDATE SET terms = EXCLUDED.terms, status = EXCLUDED.status,
                                                updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by""",
            lot.code,
            lot.model_dump_json(exclude={"code", "status"}),
            lot.status.value,
            at,
            by,
        )

    async def insert_application(
        self, application_id: uuid.UUID, agb: str, kvk: str, evidence: Sequence[Evidence], at: datetime
    ) -> None:
        await self.conn.execute(
            "INSERT INTO application (id, provider_agb, kvk, evidence, received_at) VALUES ($1, $2, $3, $4::jsonb, $5)",
            application_id,
            agb,
            kvk,
            json.dumps([e.model_dump(mode="json") for e in evidence]),
            at,
        )

    async def record_decision(
        self, application_id: uuid.UUID, lot: str, outcome: str, reasons: Sequence[str], at: datetime
    ) -> None:
        await self.conn.execute(
            """INSERT INTO application_lot (application_id, lot, outcome, reasons, decided_at)
               VALUES ($1, $2, $3, $4::jsonb, $5)
               ON CONFLICT (application_id, lot) DO UPDATE SET outcome = EXCLUDED.outcome,
                   reasons = EXCLUDED.reasons, decided_at = EXCLUDED.decided_at""",
            application_id,
            lot,
            outcome,
            json.dumps(list(reasons)),
            at,
        )

    async def join_waitlist(self, lot: str, application_id: uuid.UUID, agb: str, at: datetime) -> int:
        """Put the provider at the back of the lot's waitlist; returns its position."""
        seq = await self.conn.fetchval(
            """INSERT INTO waitlist (lot, application_id, provider_agb, waitlisted_at) VALUES ($1, $2, $3, $4)
               RETURNING seq""",
            lot,
            application_id,
            agb,
            at,
        )
        position: int = await self.conn.fetchval(
            "SELECT count(*) FROM waitlist WHERE lot = $1 AND left_at IS NULL AND seq <= $2", lot, seq
        )
        return position

    async def waitlist_position(self, lot: str, agb: str) -> int | None:
        position: int | None = await self.conn.fetchval(
            """SELECT (SELECT count(*) FROM waitlist o WHERE o.lot = w.lot AND o.left_at IS NULL AND o.seq <= w.seq)
               FROM waitlist w WHERE w.lot = $1 AND w.provider_agb = $2 AND w.left_at IS NULL""",
            lot,
            agb,
        )
        return position

    async def waiting(self, lot: str) -> list[WaitingApplicant]:
        """Who waits for ``lot``, first come first; with the evidence they applied with."""
        rows = await self.conn.fetch(
            """SELECT w.seq, w.application_id, w.provider_agb, a.evidence::text AS evidence
               FROM waitlist w JOIN application a ON a.id = w.application_id
               WHERE w.lot = $1 AND w.left_at IS NULL ORDER BY w.seq FOR UPDATE OF w""",
            lot,
        )
        return [
            WaitingApplicant(
                seq=r["seq"],
                application_id=r["application_id"],
                provider_agb=r["provider_agb"],
                evidence=tuple(Evidence.model_validate(e) for e in json.loads(r["evidence"])),
            )
            for r in rows
        ]

    async def leave_waitlist(self, seq: int, outcome: str, at: datetime) -> None:
        await self.conn.execute("UPDATE waitlist SET left_at = $2, outcome = $3 WHERE seq = $1", seq, at, outcome)

    async def insert_contract(self, contract: ContractRecord) -> None:
        await self.conn.execute(
            """INSERT INTO contract (id, kind, provider_agb, lot, client_ref, valid_from, valid_to, tariffs,
                                     application_id, created_at, decision_id)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10, $11)""",
            contract.id,
            contract.kind.value,
            contract.provider_agb,
            contract.lot,
            contract.client_ref,
            contract.valid_from,
            contract.valid_to,
            json.dumps([t.model_dump(mode="json") for t in contract.tariffs]),
            contract.application_id,
            contract.created_at,
            contract.decision_id,
        )

    async def running_open_house(self, agb: str, lot: str) -> uuid.UUID | None:
        contract_id: uuid.UUID | None = await self.conn.fetchval(
            "SELECT id FROM contract WHERE provider_agb = $1 AND lot = $2 AND kind = 'open_house' AND ended_on IS NULL",
            agb,
            lot,
        )
        return contract_id

    async def list_contracts(self, agb: str | None) -> list[ContractRecord]:
        rows = await self.conn.fetch(
            f"SELECT {_CONTRACT_COLUMNS} FROM contract WHERE $1::text IS NULL OR provider_agb = $1 "
            "ORDER BY provider_agb, lot, created_at",
            agb,
        )
        return [_contract(r) for r in rows]

    async def get_contract(self, contract_id: uuid.UUID, *, lock: bool = False) -> ContractRecord | None:
        row = await self.conn.fetchrow(
            f"SELECT {_CONTRACT_COLUMNS} FROM contract WHERE id = $1{' FOR UPDATE' if lock else ''}", contract_id
        )
        return _contract(row) if row else None

    async def contract_of_decision(self, decision_id: uuid.UUID) -> ContractRecord | None:
        """The contract that carries out ``decision_id``; serialises posts naming one decision until the
        transaction ends, so of two concurrent identical posts the second finds the first's contract."""
        await self.conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"contract-decision:{decision_id}")
        row = await self.conn.fetchrow(f"SELECT {_CONTRACT_COLUMNS} FROM contract WHERE decision_id = $1", decision_id)
        return _contract(row) if row else None

    async def end_contract(self, contract_id: uuid.UUID, end_date: date, reason: str, at: datetime) -> None:
        await self.conn.execute(
            "UPDATE contract SET ended_on = $2, end_reason = $3, ended_at = $4 WHERE id = $1",
            contract_id,
            end_date,
            reason,
            at,
        )


def contract_store(conn: Connection) -> ContractStore:
    """The store a unit of work of the Open House and contract commands gets (``runtime.work(contract_store)``)."""
    return PgContractStore(conn)

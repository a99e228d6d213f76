"""Submitting a monthly declaration: assess it against allocations, contracts and earlier approved lines,
store it immutably, and emit DeclarationSubmitted and DeclarationAssessed — in one transaction."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, date, datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from contracts import topics
from contracts.contracting import AssessedLine, DeclarationAssessed, DeclarationSubmitted, LineRejection
from contracts.envelope import Envelope
from contracts.identifiers import EUROCENT_MAX, AgbCode, CalendarDate, Eurocent, GemeenteCode
from services.contracting import rules, store
from services.contracting.domain import Assessment, DeclarationLine, assess
from services.contracting.settings import ContractingSettings
from services.runtime.errors import Conflict
from services.runtime.service import Runtime

SOURCE = "contracting"
# Its DeclarationAssessed carries every line with the reasons it was refused, and an event must fit
# Kafka's 1 MiB message: 500 lines that break every rule at once take ~0.7 MiB (measured in
# tests/unit/contracting/test_declaration_size.py), so this keeps a quarter spare.
MAX_LINES = 500
# The body of the largest allowed declaration, pretty-printed, with room to spare.
BODY_BYTES = 1024 * 1024


class Declaration(BaseModel):
    """A provider's monthly declaration to one gemeente (body of ``POST /v1/declarations``)."""

    model_config = ConfigDict(extra="forbid")

    declaration_number: str = Field(
        pattern=r"^[A-Za-z0-9._/-]{1,20}$", description="The provider's own number; re-posting it is idempotent."
    )
    provider_agb: AgbCode
    municipality_code: GemeenteCode
    period_start: CalendarDate
    period_end: CalendarDate
    lines: list[DeclarationLine] = Field(
        min_length=1, max_length=MAX_LINES, description=f"At most {MAX_LINES} lines; split a larger month."
    )

    @model_validator(mode="after")
    def _consistent(self) -> Declaration:
        if self.period_end < self.period_start:
            raise ValueError(f"period_end {self.period_end} lies before period_start {self.period_start}")
        numbers = [ln.line_number for ln in self.lines]
        if len(set(numbers)) != len(numbers):
            raise ValueError("lines: line_number must be unique within a declaration")
        if sum(ln.amount for ln in self.lines) > EUROCENT_MAX:
            raise ValueError(f"lines: the amounts add up to more than {EUROCENT_MAX} eurocent")
        return self

    def fingerprint(self) -> str:
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()


class AssessedDeclaration(BaseModel):
    """The answer to a declaration, per line with its return codes; what ``GET /v1/declarations/{id}`` shows."""

    declaration_id: uuid.UUID
    declaration_number: str
    provider_agb: AgbCode
    municipality_code: GemeenteCode
    period_start: date
    period_end: date
    status: str = "assessed"
    submitted_at: AwareDatetime
    assessed_at: AwareDatetime
    submitted_amount: Eurocent
    approved_amount: Eurocent
    rejected_amount: Eurocent
    credited_amount: Eurocent
    lines: list[AssessedLine]


async def submit(runtime: Runtime, declaration: Declaration, now: datetime | None = None) -> AssessedDeclaration:
    """Assess and store ``declaration``; the same number with the same body returns the first answer."""
    now = now or datetime.now(UTC)
    settings: ContractingSettings = runtime.settings  # type: ignore[assignment]
    agb, fingerprint = declaration.provider_agb, declaration.fingerprint()
    async with runtime.pool.acquire() as conn, conn.transaction():
        # Serialises re-posts of one number, so exactly one of two concurrent identical posts assesses.
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtext($1))", f"declaration:{agb}:{declaration.declaration_number}"
        )
        earlier = await store.find_declaration(conn, agb, declaration.declaration_number)
        if earlier is not None:
            if earlier["body_hash"] != fingerprint:
                raise Conflict(
                    f"declaration {declaration.declaration_number} was already submitted with other "
                    "content and is immutable; correct a line with a credit and a debit line under a "
                    "new declaration number"
                )
            return AssessedDeclaration.model_validate_json(earlier["result"])
        declaration_id = uuid.uuid4()
        allocations = await store.lock_allocations(conn, agb, [ln.allocation_number for ln in declaration.lines])
        assessment = assess(
            declaration_id,
            declaration.lines,
            provider_agb=agb,
            municipality_code=declaration.municipality_code,
            allocations=allocations,
            contracts=await store.provider_contracts(conn, agb),
            ledger=await store.standing_bookings(conn, [a.allocation_id for a in allocations]),
            rules=settings.rules(),
            region=settings.region_municipalities,
        )
        result = _answer(declaration_id, declaration, assessment, now)
        await store.insert_declaration(
            conn,
            declaration_id,
            agb,
            declaration.declaration_number,
            fingerprint,
            declaration.municipality_code,
            declaration.period_start,
            declaration.period_end,
            result.model_dump_json(),
            now,
        )
        await store.book(
            conn, assessment.bookings, [o.credited for o in assessment.lines if o.credited], declaration_id
        )
        await _emit_events(runtime, conn, declaration, result)
    return result


def _answer(
    declaration_id: uuid.UUID, declaration: Declaration, assessment: Assessment, now: datetime
) -> AssessedDeclaration:
    lines = [
        AssessedLine(
            line_number=o.line.line_number,
            allocation_id=o.allocation_id,
            product_code=o.line.product_code,
            amount=o.line.amount,
            approved=o.approved,
            return_codes=o.return_codes,
            allocation_number=o.line.allocation_number,
            credit=o.line.credit,
            rejections=[
                LineRejection(
                    rule=f.rule, return_code=f.return_code, reason=f.reason[:300], contact=rules.BY_CODE[f.rule].contact
                )
                for f in o.findings
            ],
        )
        for o in assessment.lines
    ]
    return AssessedDeclaration(
        declaration_id=declaration_id,
        declaration_number=declaration.declaration_number,
        provider_agb=declaration.provider_agb,
        municipality_code=declaration.municipality_code,
        period_start=declaration.period_start,
        period_end=declaration.period_end,
        submitted_at=now,
        assessed_at=now,
        submitted_amount=assessment.submitted_amount,
        approved_amount=assessment.approved_amount,
        rejected_amount=assessment.rejected_amount,
        credited_amount=assessment.credited_amount,
        lines=lines,
    )


async def _emit_events(runtime: Runtime, conn, declaration: Declaration, result: AssessedDeclaration) -> None:
    subject = str(result.declaration_id)
    submitted = Envelope.wrap(
        DeclarationSubmitted(
            declaration_id=result.declaration_id,
            provider_agb=result.provider_agb,
            municipality_code=result.municipality_code,
            period_start=result.period_start,
            period_end=result.period_end,
            lines=len(declaration.lines),
            amount=result.submitted_amount,
            submitted_at=result.submitted_at,
        ),
        source=SOURCE,
        subject=subject,
        time=result.submitted_at,
    )
    assessed = Envelope.wrap(
        DeclarationAssessed(
            declaration_id=result.declaration_id,
            provider_agb=result.provider_agb,
            municipality_code=result.municipality_code,
            lines=result.lines,
            approved_amount=result.approved_amount,
            rejected_amount=result.rejected_amount,
            assessed_at=result.assessed_at,
            declaration_number=result.declaration_number,
            submitted_amount=result.submitted_amount,
            credited_amount=result.credited_amount,
        ),
        source=SOURCE,
        subject=subject,
        time=result.assessed_at,
        cause=submitted,
    )
    await runtime.emit(conn, topics.CONTRACTING_EVENTS, submitted)
    await runtime.emit(conn, topics.CONTRACTING_EVENTS, assessed)

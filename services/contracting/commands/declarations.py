"""Submitting a monthly declaration: assess it against allocations, contracts and earlier approved lines,
store it immutably, and announce DeclarationSubmitted and, caused by it, DeclarationAssessed."""

from __future__ import annotations

import uuid

from contracts.contracting import DeclarationAssessed, DeclarationSubmitted
from services.contracting.declaration_store import DeclarationStore
from services.contracting.domain.declaration_checks import assess
from services.contracting.domain.declarations import AssessedDeclaration, Declaration
from services.contracting.settings import ContractingSettings
from services.runtime.errors import Conflict
from services.runtime.unit_of_work import UnitOfWork

DeclarationWork = UnitOfWork[DeclarationStore, ContractingSettings]


async def submit(uow: DeclarationWork, declaration: Declaration) -> AssessedDeclaration:
    """Assess and store ``declaration``; the same number with the same body returns the first answer."""
    agb, number = declaration.provider_agb, declaration.declaration_number
    # Serialises re-posts of one number, so exactly one of two concurrent identical posts assesses.
    await uow.store.lock_number(agb, number)
    earlier = await uow.store.find_declaration(agb, number)
    if earlier is not None:
        if earlier.fingerprint != declaration.fingerprint():
            raise Conflict(
                f"declaration {number} was already submitted with other content and is immutable; correct a "
                "line with a credit and a debit line under a new declaration number"
            )
        return earlier.answer
    declaration_id = uuid.uuid4()
    allocations = await uow.store.lock_allocations(agb, [ln.allocation_number for ln in declaration.lines])
    assessment = assess(
        declaration_id,
        declaration.lines,
        provider_agb=agb,
        municipality_code=declaration.municipality_code,
        allocations=allocations,
        contracts=await uow.store.provider_contracts(agb),
        ledger=await uow.store.standing_bookings([a.allocation_id for a in allocations]),
        rules=uow.settings.rules(),
        region=uow.settings.region_municipalities,
    )
    answer = AssessedDeclaration.of(declaration_id, declaration, assessment, uow.now)
    await uow.store.insert_declaration(declaration, answer)
    await uow.store.book(assessment.bookings, [o.credited for o in assessment.lines if o.credited], declaration_id)
    _announce(uow, declaration, answer)
    return answer


def _announce(uow: DeclarationWork, declaration: Declaration, answer: AssessedDeclaration) -> None:
    submitted = uow.collect(
        DeclarationSubmitted(
            declaration_id=answer.declaration_id,
            provider_agb=answer.provider_agb,
            municipality_code=answer.municipality_code,
            period_start=answer.period_start,
            period_end=answer.period_end,
            lines=len(declaration.lines),
            amount=answer.submitted_amount,
            submitted_at=answer.submitted_at,
        )
    )
    uow.collect(
        DeclarationAssessed(
            declaration_id=answer.declaration_id,
            provider_agb=answer.provider_agb,
            municipality_code=answer.municipality_code,
            lines=answer.lines,
            approved_amount=answer.approved_amount,
            rejected_amount=answer.rejected_amount,
            assessed_at=answer.assessed_at,
            declaration_number=answer.declaration_number,
            submitted_amount=answer.submitted_amount,
            credited_amount=answer.credited_amount,
        ),
        cause=submitted,
    )

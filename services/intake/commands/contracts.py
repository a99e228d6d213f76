"""What intake keeps of contracting's contracts: which provider may be given a toewijzing, and until when."""

from __future__ import annotations

from contracts.contracting import ContractEnded, ProviderAdmitted
from services.intake.commands import IntakeWork


async def learn_admitted(uow: IntakeWork, event: ProviderAdmitted) -> None:
    await uow.store.upsert_contract(event.contract_id, event.provider_agb, event.valid_from, event.valid_to)


async def learn_ended(uow: IntakeWork, event: ContractEnded) -> None:
    await uow.store.end_contract(event.contract_id, event.provider_agb, event.end_date)

"""Contracting's commands on an in-memory store: what each one records and announces, and that a
refused command announces nothing and leaves every record as it was."""

from __future__ import annotations

import uuid
from contextlib import AbstractAsyncContextManager
from datetime import UTC, date, datetime
from typing import TypeVar

import pytest

from contracts.contracting import (
    ApplicationReceived,
    ApplicationRejected,
    ContractConcluded,
    ContractEnded,
    ContractKind,
    DeclarationAssessed,
    DeclarationSubmitted,
    ProviderAdmitted,
    ProviderWaitlisted,
)
from contracts.envelope import Envelope, EventData
from contracts.intake import AllocationChanged, AllocationIssued
from services.contracting.allocation_store import AllocationStore
from services.contracting.commands import admission, allocations, contracts, declarations
from services.contracting.commands.admission import Application
from services.contracting.commands.allocations import AllocationWork
from services.contracting.commands.contracts import ContractEnd, ContractWork, NewContract
from services.contracting.commands.declarations import DeclarationWork
from services.contracting.contract_store import ContractStore
from services.contracting.declaration_store import DeclarationStore
from services.contracting.domain.declarations import Declaration
from services.contracting.domain.lots import Evidence, LotStatus, Outcome
from services.contracting.settings import ContractingSettings
from services.runtime.errors import Conflict, Invalid
from services.runtime.unit_of_work import InMemoryBus, in_memory
from tests.unit.contracting.builders import AGB, CLIENT, HILVERSUM, HOUR, OTHER_AGB, PRODUCT, line, lot
from tests.unit.contracting.fake_store import InMemoryContracting

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
KVK = "41234567"
EVIDENCE = [
    Evidence(requirement="kwaliteitskeurmerk", document_ref="hkz-2026-001", valid_until=date(2027, 6, 30)),
    Evidence(requirement="vog", document_ref="vog-bundel-7"),
]
Event = TypeVar("Event", bound=EventData)
DECEMBER = {"period_start": date(2026, 12, 1), "period_end": date(2026, 12, 31)}


class Region:
    """One in-memory contracting service: its store, what it published, and units of work on both."""

    def __init__(self) -> None:
        self.store = InMemoryContracting()
        self.bus = InMemoryBus()
        self.settings = ContractingSettings()

    # Each maker hands the fake over as the protocol its commands take, so mypy checks the fake against it.
    def contracting(self) -> AbstractAsyncContextManager[ContractWork]:
        store: ContractStore = self.store
        return in_memory(store, self.settings, NOW, self.bus)

    def declaring(self) -> AbstractAsyncContextManager[DeclarationWork]:
        store: DeclarationStore = self.store
        return in_memory(store, self.settings, NOW, self.bus)

    def learning(self, cause: Envelope) -> AbstractAsyncContextManager[AllocationWork]:
        store: AllocationStore = self.store
        return in_memory(store, self.settings, NOW, self.bus, cause)

    async def apply(self, agb: str, *lots: str, evidence: list[Evidence] = EVIDENCE) -> list[admission.LotResult]:
        async with self.contracting() as uow:
            _, results = await admission.apply(
                uow, Application(provider_agb=agb, kvk=KVK, lots=list(lots), evidence=evidence)
            )
        return results

    def events(self, kind: type[Event]) -> list[Event]:
        return [e for e in self.bus.events(kind) if isinstance(e, kind)]

    def published(self, kind: type[EventData]) -> list[Envelope]:
        return [e for _, e in self.bus.published if isinstance(e.payload(), kind)]


@pytest.fixture
def region() -> Region:
    region = Region()
    region.store.lots = {"AMB-1": lot(), "AMB-VOL": lot(code="AMB-VOL", status=LotStatus.WAITLIST)}
    return region


async def test_an_applicant_meeting_the_requirements_is_admitted_with_a_contract_announced_after_its_application(
    region: Region,
) -> None:
    [result] = await region.apply(AGB, "AMB-1")

    assert result.outcome is Outcome.ADMITTED and result.contract_id is not None
    contract = region.store.contracts[result.contract_id]
    assert (contract.kind, contract.provider_agb, contract.lot) == (ContractKind.OPEN_HOUSE, AGB, "AMB-1")
    assert (contract.valid_from, contract.valid_to) == (date(2026, 11, 24), date(2034, 11, 23))
    assert [type(e) for e in region.bus.events()] == [ApplicationReceived, ProviderAdmitted]
    [received], [admitted] = region.published(ApplicationReceived), region.published(ProviderAdmitted)
    assert admitted.causationid == received.id and admitted.correlationid == received.correlationid
    assert admitted.subject == AGB and admitted.time == NOW
    assert admitted.payload() == ProviderAdmitted(
        application_id=contract.application_id,
        contract_id=contract.id,
        provider_agb=AGB,
        lot="AMB-1",
        valid_from=contract.valid_from,
        valid_to=contract.valid_to,
        admitted_at=NOW,
    )


async def test_on_a_waitlisted_lot_applicants_wait_in_order_of_arrival(region: Region) -> None:
    [first] = await region.apply(AGB, "AMB-VOL")
    [second] = await region.apply(OTHER_AGB, "AMB-VOL")

    assert (first.outcome, first.position, second.position) == (Outcome.WAITLISTED, 1, 2)
    assert not region.store.contracts
    assert [(e.provider_agb, e.position) for e in region.events(ProviderWaitlisted)] == [
        (AGB, 1),
        (OTHER_AGB, 2),
    ]


async def test_an_applicant_missing_evidence_is_rejected_with_each_reason(region: Region) -> None:
    [result] = await region.apply(AGB, "AMB-1", evidence=EVIDENCE[1:])

    assert result.outcome is Outcome.REJECTED
    assert result.reasons == ("missing requirement kwaliteitskeurmerk: HKZ of gelijkwaardig keurmerk",)
    assert not region.store.contracts
    [rejected] = region.events(ApplicationRejected)
    assert rejected.reasons == list(result.reasons)


async def test_an_applicant_already_admitted_is_rejected_the_second_time(region: Region) -> None:
    await region.apply(AGB, "AMB-1")
    [again] = await region.apply(AGB, "AMB-1")

    assert again.outcome is Outcome.REJECTED and "already holds Open House contract" in again.reasons[0]
    assert len(region.store.contracts) == 1


async def test_an_application_naming_an_unknown_lot_records_and_announces_nothing(region: Region) -> None:
    before = region.store.snapshot()

    with pytest.raises(Invalid, match=r"unknown lot\(s\) \['NOPE'\]"):
        await region.apply(AGB, "AMB-1", "NOPE")

    assert region.bus.published == []
    assert region.store.snapshot() == before


async def test_reopening_a_waitlisted_lot_admits_the_waitlist_without_an_application_as_cause(region: Region) -> None:
    await region.apply(AGB, "AMB-VOL")
    region.bus.published.clear()

    async with region.contracting() as uow:
        [result] = await admission.put_lot(uow, lot(code="AMB-VOL", status=LotStatus.OPEN), "admin:inkoop")

    assert result.outcome is Outcome.ADMITTED
    assert region.store.waitlist[0].left_with == "admitted"
    [admitted] = region.published(ProviderAdmitted)
    assert admitted.causationid is None and region.events(ProviderAdmitted)[0].provider_agb == AGB


async def test_a_maatwerk_contract_is_recorded_and_announced_as_concluded(region: Region) -> None:
    new = NewContract(
        kind=ContractKind.MAATWERK, provider_agb=AGB, lot="AMB-1", client_ref=CLIENT, valid_from=date(2026, 12, 1)
    )
    async with region.contracting() as uow:
        contract = await contracts.create_contract(uow, new)

    assert region.store.contracts[contract.id] == contract
    assert (contract.client_ref, contract.valid_to, contract.created_at) == (CLIENT, date(2034, 11, 30), NOW)
    [concluded] = region.events(ContractConcluded)
    assert concluded == ContractConcluded(
        contract_id=contract.id,
        kind=ContractKind.MAATWERK,
        provider_agb=AGB,
        lot="AMB-1",
        settings=[],
        client_ref=CLIENT,
        decision_id=None,
        valid_from=date(2026, 12, 1),
        valid_to=date(2034, 11, 30),
        concluded_at=NOW,
    )
    assert region.published(ContractConcluded)[0].subject == AGB


async def test_an_uitloop_contract_is_announced_as_concluded_without_a_client(region: Region) -> None:
    new = NewContract(kind=ContractKind.UITLOOP, provider_agb=AGB, lot="AMB-1", valid_from=date(2026, 12, 1))
    async with region.contracting() as uow:
        await contracts.create_contract(uow, new)

    [concluded] = region.events(ContractConcluded)
    assert (concluded.kind, concluded.client_ref, concluded.decision_id) == (ContractKind.UITLOOP, None, None)
    assert region.events(ProviderAdmitted) == []


def _for_decision(decision_id: uuid.UUID, **changes: object) -> NewContract:
    fields: dict[str, object] = dict(
        kind=ContractKind.MAATWERK,
        provider_agb=AGB,
        lot="CRISIS",
        client_ref=CLIENT,
        decision_id=decision_id,
        valid_from=date(2026, 11, 24),
        valid_to=date(2027, 11, 23),
    )
    return NewContract.model_validate(fields | changes)


async def test_a_maatwerk_contract_names_the_doorbraak_decision_it_carries_out(region: Region) -> None:
    region.store.lots["CRISIS"] = lot(code="CRISIS", product_categories=["46"], settings=["crisisplek"])
    decision = uuid.uuid4()
    async with region.contracting() as uow:
        contract = await contracts.create_contract(uow, _for_decision(decision))

    assert contract.decision_id == decision
    [concluded] = region.events(ContractConcluded)
    assert (concluded.decision_id, concluded.client_ref, concluded.settings) == (decision, CLIENT, ["crisisplek"])


async def test_posting_the_contract_of_a_decision_again_returns_it_and_announces_nothing(region: Region) -> None:
    region.store.lots["CRISIS"] = lot(code="CRISIS", product_categories=["46"], settings=["crisisplek"])
    decision = uuid.uuid4()
    async with region.contracting() as uow:
        first = await contracts.create_contract(uow, _for_decision(decision))
    published = len(region.bus.published)

    async with region.contracting() as uow:
        again = await contracts.create_contract(uow, _for_decision(decision))

    assert again == first and len(region.bus.published) == published and len(region.store.contracts) == 1


async def test_another_contract_for_a_decision_already_carried_out_is_refused(region: Region) -> None:
    region.store.lots["CRISIS"] = lot(code="CRISIS", product_categories=["46"], settings=["crisisplek"])
    decision = uuid.uuid4()
    async with region.contracting() as uow:
        await contracts.create_contract(uow, _for_decision(decision))
    published, before = len(region.bus.published), region.store.snapshot()

    with pytest.raises(Conflict, match="already carried out by contract"):
        async with region.contracting() as uow:
            await contracts.create_contract(uow, _for_decision(decision, provider_agb=OTHER_AGB))

    assert len(region.bus.published) == published and region.store.snapshot() == before


def test_only_a_maatwerk_contract_names_a_decision() -> None:
    with pytest.raises(ValueError, match="only a maatwerk contract carries out a doorbraak decision"):
        _for_decision(uuid.uuid4(), kind=ContractKind.UITLOOP, client_ref=None)


async def test_a_declaration_under_the_maatwerk_contract_of_a_decision_passes_the_checks(region: Region) -> None:
    """The provider has no Open House contract at all: the maatwerk contract for this youth pays."""
    async with region.contracting() as uow:
        await contracts.create_contract(
            uow, _for_decision(uuid.uuid4(), lot="AMB-1", valid_from=date(2026, 9, 1), valid_to=date(2027, 8, 31))
        )
    await _learn(region, _issued())

    async with region.declaring() as uow:
        answer = await declarations.submit(uow, _declaration("D-1", {}))

    assert [ln.return_codes for ln in answer.lines] == [["8001"]]
    assert answer.approved_amount == 8 * 9_500


async def test_a_declaration_for_another_youth_under_that_maatwerk_contract_is_refused(region: Region) -> None:
    async with region.contracting() as uow:
        await contracts.create_contract(
            uow,
            _for_decision(
                uuid.uuid4(), lot="AMB-1", client_ref="e" * 64, valid_from=date(2026, 9, 1), valid_to=date(2027, 8, 31)
            ),
        )
    await _learn(region, _issued())

    async with region.declaring() as uow:
        answer = await declarations.submit(uow, _declaration("D-1", {}))

    assert not answer.lines[0].approved
    assert "contract" in [r.rule for r in answer.lines[0].rejections]


async def test_an_open_house_contract_from_before_schakel_is_announced_as_an_admission(region: Region) -> None:
    new = NewContract(kind=ContractKind.OPEN_HOUSE, provider_agb=AGB, lot="AMB-1", valid_from=date(2026, 1, 1))
    async with region.contracting() as uow:
        contract = await contracts.create_contract(uow, new)

    [admitted] = region.events(ProviderAdmitted)
    assert admitted.contract_id == admitted.application_id == contract.id
    assert contract.application_id is None


async def test_ending_a_contract_announces_it_with_the_lots_settings_and_only_once(region: Region) -> None:
    region.store.lots["CRISIS"] = lot(code="CRISIS", product_categories=["44"], settings=["crisisplek"])
    [result] = await region.apply(AGB, "CRISIS")
    assert result.contract_id is not None
    end = ContractEnd(end_date=date(2027, 3, 31), reason="faillissement")

    async with region.contracting() as uow:
        ended = await contracts.end_contract(uow, result.contract_id, end)

    assert region.store.contracts[result.contract_id] == ended
    assert (ended.ended_on, ended.end_reason) == (date(2027, 3, 31), "faillissement")
    [event] = region.events(ContractEnded)
    assert event == ContractEnded(
        contract_id=result.contract_id,
        provider_agb=AGB,
        lot="CRISIS",
        end_date=date(2027, 3, 31),
        reason="faillissement",
        ended_at=NOW,
        settings=["crisisplek"],
        kind=ContractKind.OPEN_HOUSE,
    )

    published, before = len(region.bus.published), region.store.snapshot()
    with pytest.raises(Conflict, match="already ended on 2027-03-31"):
        async with region.contracting() as uow:
            await contracts.end_contract(uow, result.contract_id, end)
    assert len(region.bus.published) == published and region.store.snapshot() == before


def _issued(number: int = 1001, volume: int = 40) -> Envelope:
    event = AllocationIssued(
        allocation_id=uuid.uuid5(uuid.NAMESPACE_OID, str(number)),
        allocation_number=number,
        referral_id=uuid.uuid4(),
        client_ref=CLIENT,
        municipality_code=HILVERSUM,
        provider_agb=AGB,
        product_category="45",
        product_code=PRODUCT,
        start_date=date(2026, 9, 1),
        end_date=date(2027, 2, 28),
        volume=volume,
        unit=HOUR,
        frequency="6",
        issued_at=NOW,
    )
    return Envelope.wrap(event, source="intake")


async def _learn(region: Region, envelope: Envelope) -> None:
    async with region.learning(envelope) as uow:
        event = envelope.payload()
        if isinstance(event, AllocationIssued):
            await allocations.learn_issued(uow, event)
        elif isinstance(event, AllocationChanged):
            await allocations.learn_changed(uow, event)


def _declaration(number: str, *lines: dict[str, object]) -> Declaration:
    return Declaration(
        declaration_number=number,
        provider_agb=AGB,
        municipality_code=HILVERSUM,
        period_start=date(2026, 12, 1),
        period_end=date(2026, 12, 31),
        lines=[line(line_number=i + 1, **{**DECEMBER, **changes}) for i, changes in enumerate(lines)],
    )


async def test_a_declaration_is_stored_booked_and_announced_submitted_then_assessed_because_submitted(
    region: Region,
) -> None:
    await region.apply(AGB, "AMB-1")
    await _learn(region, _issued())
    region.bus.published.clear()

    async with region.declaring() as uow:
        answer = await declarations.submit(uow, _declaration("D-1", {}, {"allocation_number": 999}))

    assert (answer.approved_amount, answer.rejected_amount) == (8 * 9_500, 8 * 9_500)
    assert [ln.approved for ln in answer.lines] == [True, False]
    assert region.store.declarations[answer.declaration_id].answer == answer
    assert [(b.booking.line_number, b.booking.volume) for b in region.store.bookings] == [(1, 8)]
    [submitted], [assessed] = region.published(DeclarationSubmitted), region.published(DeclarationAssessed)
    assert [type(e) for e in region.bus.events()] == [DeclarationSubmitted, DeclarationAssessed]
    assert assessed.causationid == submitted.id and assessed.correlationid == submitted.correlationid
    assert submitted.subject == assessed.subject == str(answer.declaration_id)
    assert region.events(DeclarationSubmitted)[0].amount == 2 * 8 * 9_500
    assert region.events(DeclarationAssessed)[0].lines == answer.lines


async def test_reposting_a_declaration_answers_the_same_and_announces_nothing_new(region: Region) -> None:
    await region.apply(AGB, "AMB-1")
    await _learn(region, _issued())
    async with region.declaring() as uow:
        first = await declarations.submit(uow, _declaration("D-1", {}))
    published = len(region.bus.published)

    async with region.declaring() as uow:
        again = await declarations.submit(uow, _declaration("D-1", {}))

    assert again == first and len(region.bus.published) == published
    assert len(region.store.bookings) == 1


async def test_a_declaration_number_reused_with_other_content_is_refused_and_changes_nothing(region: Region) -> None:
    await region.apply(AGB, "AMB-1")
    await _learn(region, _issued())
    async with region.declaring() as uow:
        await declarations.submit(uow, _declaration("D-1", {}))
    published, before = len(region.bus.published), region.store.snapshot()

    with pytest.raises(Conflict, match="already submitted with other content"):
        async with region.declaring() as uow:
            await declarations.submit(uow, _declaration("D-1", {"volume": 9}))

    assert len(region.bus.published) == published and region.store.snapshot() == before


async def test_a_later_declaration_counts_the_volume_already_booked(region: Region) -> None:
    await region.apply(AGB, "AMB-1")
    await _learn(region, _issued(volume=10))
    async with region.declaring() as uow:
        first = await declarations.submit(uow, _declaration("D-1", {"volume": 8}))
    async with region.declaring() as uow:
        second = await declarations.submit(uow, _declaration("D-2", {"volume": 8}))

    assert first.lines[0].approved and not second.lines[0].approved
    # Allotted in total (frequency 6): 8 of 10 hours are booked, so 8 more do not fit.
    assert "volume" in [r.rule for r in second.lines[0].rejections]


async def test_a_change_to_an_allocation_not_yet_learned_is_refused_for_a_retry(region: Region) -> None:
    issued = _issued().payload()
    assert isinstance(issued, AllocationIssued)
    change = AllocationChanged.model_validate(
        {
            **{k: v for k, v in issued.model_dump().items() if k in AllocationChanged.model_fields},
            "reason": "01",
            "changed_at": NOW,
        }
    )

    with pytest.raises(LookupError, match="is not known yet"):
        await _learn(region, Envelope.wrap(change, source="intake"))

    assert region.store.allocations == {}

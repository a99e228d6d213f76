"""Specification of intake's commands, run in an in-memory unit of work: what they store, what they
announce, and that a refused command stores and announces nothing."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

import pytest

from contracts import topics
from contracts.capacity import PlacementConfirmed
from contracts.intake import (
    AllocationIssued,
    AllocationRequested,
    AllocationRequestOverdue,
    AllocationRequestRejected,
    CareEnded,
    CareStarted,
    ReferralReceived,
    ReferralWithdrawn,
)
from services.intake.commands import IntakeWork, allocations, referrals, requests
from services.intake.domain import DailyCapReached, ReferralStatus
from services.intake.privacy import Vault
from services.intake.requests import (
    AllocationIn,
    AllocationRequestIn,
    CareEndIn,
    CareStartIn,
    ReferralIn,
    RequestAllocationIn,
    RequestRejectionIn,
    WithdrawalIn,
)
from services.intake.settings import IntakeSettings
from services.intake.store import IntakeStore
from services.runtime.auth import Principal
from services.runtime.errors import Conflict, Forbidden, Invalid
from services.runtime.roles import Role
from services.runtime.unit_of_work import InMemoryBus, in_memory
from services.runtime.workdays import dutch_date
from tests.unit.intake.fake_store import FakeIntakeStore

T = TypeVar("T")

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # a Monday
SETTINGS = IntakeSettings(dev_mode=True, verblijf_referrals_per_day=2)
VAULT = Vault(Vault.new_key())
GP = Principal(Role.REFERRER, "02:01234567")
GEMEENTE = Principal(Role.GEMEENTE, "0402")
PROVIDER = Principal(Role.PROVIDER, "87654321")


class Intake:
    """A fake store and the bus its committed units of work published to."""

    def __init__(self) -> None:
        self.store = FakeIntakeStore()
        self.bus = InMemoryBus()

    async def run(self, command: Callable[[IntakeWork], Awaitable[T]], now: datetime = NOW) -> T:
        store: IntakeStore = self.store  # mypy holds the fake to the protocol the commands take
        async with in_memory(store, SETTINGS, now, self.bus) as uow:
            return await command(uow)

    async def refused(self, error: type[Exception], command: Callable[[IntakeWork], Awaitable[Any]]) -> Exception:
        """Run a command that must fail; assert it changed and announced nothing."""
        before, published = self.store.snapshot(), list(self.bus.published)
        with pytest.raises(error) as refusal:
            await self.run(command)
        assert self.store.snapshot() == before
        assert self.bus.published == published
        return refusal.value

    async def refer(self, by: Principal = GP, **overrides: Any) -> ReferralReceived:
        return await self.run(lambda uow: referrals.receive(uow, referral(**overrides), by, VAULT))

    async def allocate(self, referral_id: uuid.UUID, **overrides: Any) -> AllocationIssued:
        issued, _ = await self.run(lambda uow: allocations.issue(uow, referral_id, toewijzing(**overrides), GEMEENTE))
        return issued


def referral(**overrides: Any) -> ReferralIn:
    body = {
        "client": {"bsn": "111222333", "birth_date": "2012-05-01", "municipality_code": "0402", "name": "Voorbeeld"},
        "referrer": {"type": "02", "agb": "01234567"},
        "product_category": "45",
        "urgency": "regulier",
        "ambulant_tried": True,
    }
    return ReferralIn.model_validate(body | overrides)


def crisis() -> dict[str, Any]:
    return {"product_category": "46", "settings": ["crisisplek"]}


def toewijzing(**overrides: Any) -> AllocationIn:
    body = {
        "provider_agb": PROVIDER.subject,
        "product_category": "45",
        "product_code": "45A48",
        "start_date": "2026-01-01",
        "end_date": "2026-06-30",
        "volume": 4,
        "unit": "04",
        "frequency": "2",
    }
    return AllocationIn.model_validate(body | overrides)


def ask(referral_id: uuid.UUID) -> AllocationRequestIn:
    return AllocationRequestIn.model_validate(
        {
            "referral_id": str(referral_id),
            "product_category": "45",
            "start_date": "2026-01-01",
            "end_date": "2026-06-30",
            "budget": 250_000,
        }
    )


async def test_a_received_referral_is_stored_with_its_youth_sealed_and_announced_once() -> None:
    intake = Intake()
    received = await intake.refer()

    stored = intake.store.referrals[received.referral_id]
    assert stored["status"] == ReferralStatus.RECEIVED and stored["submitted_by"] == GP.actor
    assert [s["step"] for s in intake.store.steps] == ["received"]
    sealed = intake.store.clients[received.client_ref]["personal"]
    assert b"111222333" not in sealed and VAULT.open(sealed).bsn == "111222333"
    assert intake.bus.events() == [received]
    [(topic, envelope)] = intake.bus.published
    assert topic == topics.INTAKE_EVENTS and envelope.subject == str(received.referral_id)
    assert envelope.time == NOW and received.received_at == NOW


async def test_a_referral_to_a_provider_without_a_contract_is_accepted_and_flagged() -> None:
    intake = Intake()
    await intake.store.upsert_contract(uuid.uuid4(), "11111111", date(2026, 1, 1), date(2026, 12, 31))
    received = await intake.refer(provider_agb=PROVIDER.subject)
    assert received.contracted_provider is False
    assert intake.store.steps[-1]["detail"] == "provider has no contract: consult the gemeente"


async def test_a_referral_of_a_youth_outside_the_region_is_refused_and_leaves_nothing() -> None:
    intake = Intake()
    outside = referral(client={"bsn": "111222333", "birth_date": "2012-05-01", "municipality_code": "0363"})
    error = await intake.refused(Invalid, lambda uow: referrals.receive(uow, outside, GP, VAULT))
    assert "0363" in str(error)
    assert intake.store.clients == {} and intake.store.referrals == {}


async def test_the_daily_verblijf_cap_refuses_the_next_one_until_one_is_withdrawn() -> None:
    intake = Intake()
    first = await intake.refer(**crisis())
    await intake.refer(**crisis())
    await intake.refer()  # ambulant care does not count

    refusal = await intake.refused(DailyCapReached, lambda uow: referrals.receive(uow, referral(**crisis()), GP, VAULT))
    assert isinstance(refusal, DailyCapReached) and 0 < refusal.retry_after <= 86_400

    withdrawal = WithdrawalIn.model_validate({"reason": "verhuisd"})
    await intake.run(lambda uow: referrals.withdraw(uow, first.referral_id, withdrawal, GP))
    await intake.refer(**crisis())
    assert len(intake.bus.events(ReferralReceived)) == 4


async def test_a_placed_referral_no_longer_holds_a_place_of_the_daily_cap() -> None:
    intake = Intake()
    first = await intake.refer(**crisis())
    await intake.refer(**crisis())
    confirmed = PlacementConfirmed(
        placement_id=uuid.uuid4(),
        referral_id=first.referral_id,
        client_ref=first.client_ref,
        provider_agb=PROVIDER.subject,
        setting="crisisplek",
        confirmed_at=NOW,
    )
    await intake.run(functools.partial(referrals.record_placement, event=confirmed))
    await intake.refer(**crisis())
    await intake.refused(DailyCapReached, lambda uow: referrals.receive(uow, referral(**crisis()), GP, VAULT))


async def test_a_cap_lowered_during_the_day_counts_the_places_held_above_it() -> None:
    intake = Intake()
    # Four crisis referrals held places 1..4 of today while the cap was higher.
    for place in range(1, 5):
        intake.store.places.setdefault((GP.actor, dutch_date(NOW)), {})[place] = uuid.uuid4()

    refusal = await intake.refused(DailyCapReached, lambda uow: referrals.receive(uow, referral(**crisis()), GP, VAULT))
    assert "has 4 open verblijf or crisis referrals" in str(refusal)

    del intake.store.places[(GP.actor, dutch_date(NOW))][1]
    del intake.store.places[(GP.actor, dutch_date(NOW))][2]
    del intake.store.places[(GP.actor, dutch_date(NOW))][3]
    await intake.refer(**crisis())  # one open (place 4, above the cap of 2): room for one more
    assert len(intake.store.places[(GP.actor, dutch_date(NOW))]) == 2
    await intake.refused(DailyCapReached, lambda uow: referrals.receive(uow, referral(**crisis()), GP, VAULT))


async def test_a_withdrawal_closes_the_referral_once_and_publishes_only_the_code() -> None:
    intake = Intake()
    received = await intake.refer()
    withdrawal = WithdrawalIn.model_validate({"reason": "verhuisd", "note": "moved to Friesland"})

    status = await intake.run(lambda uow: referrals.withdraw(uow, received.referral_id, withdrawal, GP))

    assert status is ReferralStatus.WITHDRAWN
    assert intake.store.referrals[received.referral_id]["withdrawal_reason"] == "verhuisd: moved to Friesland"
    [withdrawn] = intake.bus.events(ReferralWithdrawn)
    assert isinstance(withdrawn, ReferralWithdrawn)
    assert withdrawn.reason == "verhuisd" and withdrawn.withdrawn_at == NOW
    await intake.refused(Conflict, lambda uow: referrals.withdraw(uow, received.referral_id, withdrawal, GP))


async def test_only_the_referrer_or_its_gemeente_may_withdraw() -> None:
    intake = Intake()
    received = await intake.refer()
    withdrawal = WithdrawalIn.model_validate({"reason": "verhuisd"})
    other = Principal(Role.GEMEENTE, "0406")
    await intake.refused(Forbidden, lambda uow: referrals.withdraw(uow, received.referral_id, withdrawal, other))


async def test_toewijzingen_are_numbered_per_municipality_and_never_stacked() -> None:
    intake = Intake()
    received = await intake.refer()
    first = await intake.allocate(received.referral_id)
    second = await intake.allocate(received.referral_id, product_code="45A49")

    assert (first.allocation_number, second.allocation_number) == (1, 2)
    assert intake.store.referrals[received.referral_id]["status"] == ReferralStatus.ALLOCATED
    error = await intake.refused(
        Conflict,
        lambda uow: allocations.issue(uow, received.referral_id, toewijzing(start_date="2026-03-01"), GEMEENTE),
    )
    assert "OP259" in str(error)


async def test_care_starts_and_ends_under_its_toewijzing_and_moves_the_referral_along() -> None:
    intake = Intake()
    received = await intake.refer()
    issued = await intake.allocate(received.referral_id)
    start = CareStartIn(start_date=date(2026, 2, 1))
    end = CareEndIn.model_validate({"end_date": "2026-03-01", "reason": "02"})

    assert await intake.run(lambda uow: allocations.start_care(uow, issued.allocation_id, start, PROVIDER)) is (
        ReferralStatus.IN_CARE
    )
    assert intake.store.referrals[received.referral_id]["care_started_at"] == NOW
    later = NOW + timedelta(days=1)
    assert await intake.run(lambda uow: allocations.end_care(uow, issued.allocation_id, end, PROVIDER), later) is (
        ReferralStatus.ENDED
    )
    assert [type(e) for e in intake.bus.events()] == [ReferralReceived, AllocationIssued, CareStarted, CareEnded]
    assert intake.store.allocations[issued.allocation_id]["care_ended_at"] == later
    other = Principal(Role.PROVIDER, "11111111")
    await intake.refused(Forbidden, lambda uow: allocations.start_care(uow, issued.allocation_id, start, other))


async def test_a_request_is_refused_with_a_reason_but_a_courts_never_as_zorginhoudelijk() -> None:
    intake = Intake()
    received = await intake.refer(provider_agb=PROVIDER.subject)
    requested = await intake.run(lambda uow: requests.request(uow, ask(received.referral_id), PROVIDER))
    assert requested.answer_due > NOW and intake.store.requests[requested.request_id]["budget"] == 250_000

    reason = RequestRejectionIn.model_validate({"reason": "4"})
    await intake.run(lambda uow: requests.reject(uow, requested.request_id, reason, GEMEENTE))
    assert intake.store.requests[requested.request_id]["answer"] == "rejected"
    [rejected] = intake.bus.events(AllocationRequestRejected)
    assert isinstance(rejected, AllocationRequestRejected) and rejected.reason == "4"

    court = Principal(Role.REFERRER, "08:22222222")
    by_court = await intake.refer(court, referrer={"type": "08", "agb": "22222222"}, provider_agb=PROVIDER.subject)
    of_court = await intake.run(lambda uow: requests.request(uow, ask(by_court.referral_id), PROVIDER))
    zorginhoudelijk = RequestRejectionIn.model_validate({"reason": "7"})
    await intake.refused(Conflict, lambda uow: requests.reject(uow, of_court.request_id, zorginhoudelijk, GEMEENTE))


async def test_granting_a_request_issues_the_toewijzing_it_asks_for() -> None:
    intake = Intake()
    received = await intake.refer(provider_agb=PROVIDER.subject)
    requested = await intake.run(lambda uow: requests.request(uow, ask(received.referral_id), PROVIDER))
    adjusted = RequestAllocationIn(end_date=date(2026, 4, 30))

    issued, status = await intake.run(lambda uow: requests.grant(uow, requested.request_id, adjusted, GEMEENTE))

    assert status is ReferralStatus.ALLOCATED
    assert (issued.request_id, issued.budget, issued.end_date) == (requested.request_id, 250_000, date(2026, 4, 30))
    answered = intake.store.requests[requested.request_id]
    assert (answered["answer"], answered["allocation_id"]) == ("allocated", issued.allocation_id)
    await intake.refused(Conflict, lambda uow: requests.grant(uow, requested.request_id, adjusted, GEMEENTE))


async def test_an_unanswered_request_is_reported_overdue_once() -> None:
    intake = Intake()
    received = await intake.refer(provider_agb=PROVIDER.subject)
    requested = await intake.run(lambda uow: requests.request(uow, ask(received.referral_id), PROVIDER))

    assert await intake.run(requests.report_overdue) == 0
    late = NOW + timedelta(days=8)
    assert await intake.run(requests.report_overdue, late) == 1
    assert await intake.run(requests.report_overdue, late) == 0
    [overdue] = intake.bus.events(AllocationRequestOverdue)
    assert isinstance(overdue, AllocationRequestOverdue)
    assert (overdue.request_id, overdue.detected_at) == (requested.request_id, late)
    assert [type(e) for e in intake.bus.events()][-2:] == [AllocationRequested, AllocationRequestOverdue]


async def test_a_placement_marks_the_referral_placed_but_only_notes_one_after_withdrawal() -> None:
    intake = Intake()
    placed, withdrawn = await intake.refer(**crisis()), await intake.refer(**crisis())
    withdrawal = WithdrawalIn.model_validate({"reason": "verhuisd"})
    await intake.run(lambda uow: referrals.withdraw(uow, withdrawn.referral_id, withdrawal, GP))

    for received in (placed, withdrawn):
        confirmed = PlacementConfirmed(
            placement_id=uuid.uuid4(),
            referral_id=received.referral_id,
            client_ref=received.client_ref,
            provider_agb=PROVIDER.subject,
            setting="crisisplek",
            confirmed_at=NOW,
        )
        await intake.run(functools.partial(referrals.record_placement, event=confirmed))

    assert intake.store.referrals[placed.referral_id]["status"] == ReferralStatus.PLACED
    assert intake.store.referrals[withdrawn.referral_id]["status"] == ReferralStatus.WITHDRAWN
    assert intake.store.steps[-1]["step"] == "placement_after_withdrawal"
    assert len(intake.bus.published) == 3  # a placement announces nothing from intake

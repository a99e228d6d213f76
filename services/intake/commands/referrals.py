"""Referral commands: receive one, withdraw it, learn it was placed; and the status each change
derives from the facts, recorded in the referral's history."""

from __future__ import annotations

import logging
import random
import uuid
from dataclasses import dataclass
from datetime import datetime

from contracts.capacity import PlacementConfirmed
from contracts.codes import PLACEMENT_CATEGORIES
from contracts.intake import ReferralReceived, ReferralWithdrawn
from services.intake import domain, registry
from services.intake.commands import IntakeWork
from services.intake.privacy import PersonalData, Vault, client_refs
from services.intake.requests import ReferralIn, WithdrawalIn
from services.intake.store import IntakeStore, Row, VerblijfPlace
from services.runtime.auth import Principal
from services.runtime.errors import Invalid, NotFound
from services.runtime.roles import Role
from services.runtime.workdays import dutch_date

log = logging.getLogger(__name__)


async def receive(uow: IntakeWork, body: ReferralIn, by: Principal, vault: Vault) -> ReferralReceived:
    """Register a referral and its youth (sealed by ``vault``); announces ``ReferralReceived``."""
    now, today = uow.now, dutch_date(uow.now)
    referral_date = body.referral_date or today
    if referral_date > today:
        raise Invalid(f"referral_date {referral_date} lies in the future")
    provider_agb = body.provider_agb or (by.subject if by.role is Role.PROVIDER else None)
    domain.check_referral_rights(
        by.role.value, by.subject, body.referrer.type, body.referrer.agb, body.client.municipality_code, provider_agb
    )
    try:
        registry.load().check_member(uow.settings.region, body.client.municipality_code, referral_date)
    except ValueError as exc:
        raise Invalid(f"client.municipality_code: {exc}") from None
    domain.check_birth_date(body.client.birth_date, referral_date)
    age = domain.check_birth_date(body.client.birth_date, today)
    ref = await _pseudonym(uow.store, body.client.bsn, uow.settings.client_ref_keys())
    contracted = await uow.store.contracted(provider_agb, referral_date) if provider_agb else None
    event = ReferralReceived(
        referral_id=uuid.uuid4(),
        client_ref=ref,
        age=age,
        municipality_code=body.client.municipality_code,
        referrer_type=body.referrer.type,
        referrer_agb=domain.event_referrer_agb(body.referrer.type, body.referrer.agb),
        veilig_thuis=body.veilig_thuis,
        product_category=body.product_category,
        settings=body.settings,
        urgency=body.urgency,
        ambulant_tried=body.ambulant_tried,
        needs_gemeente_decision=body.referrer.type.needs_gemeente_decision,
        contracted_provider=contracted,
        received_at=now,
        provider_agb=provider_agb,
        referral_date=referral_date if referral_date != today else None,
    )
    person = PersonalData(body.client.bsn, body.client.birth_date, body.client.name)
    detail = "provider has no contract: consult the gemeente" if contracted is False else ""
    # A verblijf or crisis referral holds one of its submitter's places of the day (the daily cap).
    limit = uow.settings.verblijf_referrals_per_day
    # A random place first: concurrent referrals of one submitter seldom ask for the same one.
    place = VerblijfPlace(by.actor, today, random.randint(1, limit), limit)
    claim = await uow.store.register_referral(
        vault.seal(person),
        {
            "id": event.referral_id,
            "client_ref": ref,
            "age": age,
            "municipality_code": event.municipality_code,
            "referrer_type": body.referrer.type.value,
            "referrer_agb": body.referrer.agb,
            "veilig_thuis": body.veilig_thuis,
            "provider_agb": provider_agb,
            "contracted_provider": contracted,
            "product_category": body.product_category.value,
            "settings": [s.value for s in body.settings],
            "urgency": body.urgency.value,
            "ambulant_tried": body.ambulant_tried,
            "needs_gemeente_decision": event.needs_gemeente_decision,
            "referral_date": referral_date,
            "received_at": now,
            "submitted_by": by.actor,
            "status": domain.ReferralStatus.RECEIVED.value,
        },
        detail,
        place if body.product_category in PLACEMENT_CATEGORIES else None,
    )
    if claim is not None and claim != "held":
        await _hold_verblijf_place(uow, by, event.referral_id, exclusive=claim == "over_limit")
    uow.collect(event)
    return event


async def _pseudonym(store: IntakeStore, bsn: str, keys: list[bytes]) -> str:
    """The youth's client_ref: the one it already has under any pseudonym key, else the newest key's."""
    candidates = client_refs(bsn, keys)
    if len(candidates) == 1:
        return candidates[0]
    return await store.known_client_ref(candidates) or candidates[0]


async def _hold_verblijf_place(uow: IntakeWork, by: Principal, referral_id: uuid.UUID, *, exclusive: bool) -> None:
    """Let the referral hold a free place of its submitter's day, or refuse it: at most the daily cap
    of a submitter's verblijf and crisis referrals are open at once. The places' primary key keeps
    that exact without a lock, so one referrer's concurrent referrals do not queue; only while places
    above a cap lowered that day are held (``exclusive``) are they decided one at a time."""
    store, limit, day = uow.store, uow.settings.verblijf_referrals_per_day, dutch_date(uow.now)
    # Each round follows a place another referral took, so this ends within the cap.
    for _ in range(limit + 1):
        if exclusive:
            await store.lock_submitter(by.actor)
        place = await store.lowest_free_verblijf_place(by.actor, day)
        if exclusive or place > limit:
            domain.check_daily_cap(by.actor, await store.verblijf_places_held(by.actor, day), limit, uow.now)
        claim = await store.take_verblijf_place(by.actor, day, place, referral_id, None if exclusive else limit)
        if claim == "held":
            return
        exclusive = exclusive or claim == "over_limit"
    raise LookupError(f"no free verblijf place for {by.actor} after {limit + 1} tries")


async def withdraw(uow: IntakeWork, referral_id: uuid.UUID, body: WithdrawalIn, by: Principal) -> domain.ReferralStatus:
    """The referrer or the gemeente withdraws a referral; announces ``ReferralWithdrawn``."""
    referral = await locked_referral(uow.store, referral_id)
    domain.check_may_withdraw(by, referral)
    domain.check_referral_withdrawal(await current_status(uow.store, referral))
    await uow.store.mark_withdrawn(referral_id, uow.now, body.recorded())
    status = await refresh_status(uow.store, referral_id, uow.now, "withdrawn", body.recorded())
    uow.collect(
        ReferralWithdrawn(
            referral_id=referral_id,
            client_ref=referral["client_ref"],
            municipality_code=referral["municipality_code"],
            reason=body.reason,
            withdrawn_at=uow.now,
        )
    )
    return status


async def record_placement(uow: IntakeWork, event: PlacementConfirmed) -> None:
    """Capacity found a place: the referral is placed (unless it is unknown here or already closed)."""
    store = uow.store
    referral = await store.lock_referral(event.referral_id)
    if referral is None:
        log.warning(
            "placement %s confirmed for referral %s, which intake does not know", event.placement_id, event.referral_id
        )
        return
    if referral["withdrawn_at"] is not None:
        await store.set_referral_status(
            event.referral_id,
            referral["status"],
            event.confirmed_at,
            "placement_after_withdrawal",
            f"{event.provider_agb} {event.setting}",
        )
        return
    await store.mark_placed(event.referral_id, event.confirmed_at, event.provider_agb)
    await refresh_status(
        store, event.referral_id, event.confirmed_at, "placed", f"{event.setting} at {event.provider_agb}"
    )


@dataclass(frozen=True)
class ReferralRecord:
    """A referral as its readers see it: the row, its history and its toewijzingen, read at ``at``."""

    referral: Row
    history: list[Row]
    allocations: list[Row]
    at: datetime


async def read(uow: IntakeWork, referral_id: uuid.UUID, by: Principal) -> ReferralRecord:
    """The referral, for its referrer, its gemeente and operators."""
    referral = await uow.store.get_referral(referral_id)
    if referral is None:
        raise NotFound(f"no referral {referral_id}")
    domain.check_may_read(by, referral)
    history = await uow.store.history(referral_id)
    return ReferralRecord(referral, history, await uow.store.allocations_of_referral(referral_id), uow.now)


async def locked_referral(store: IntakeStore, referral_id: uuid.UUID) -> Row:
    referral = await store.lock_referral(referral_id)
    if referral is None:
        raise NotFound(f"no referral {referral_id}")
    return referral


async def current_status(store: IntakeStore, referral: Row) -> domain.ReferralStatus:
    allocations = [domain.AllocationFacts.of(r) for r in await store.allocations_of_referral(referral["id"])]
    return domain.referral_status(referral["withdrawn_at"] is not None, referral["placed_at"] is not None, allocations)


async def refresh_status(
    store: IntakeStore, referral_id: uuid.UUID, at: datetime, step: str, detail: str = ""
) -> domain.ReferralStatus:
    """Derive the status from the facts just changed and record the step in the history."""
    referral = await store.get_referral(referral_id)
    if referral is None:
        raise LookupError(f"referral {referral_id} is gone from its own transaction")
    status = await current_status(store, referral)
    await store.set_referral_status(referral_id, status, at, step, detail)
    return status

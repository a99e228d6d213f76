"""Referral commands: receive one, withdraw it, learn it was placed; each a single transaction of
state and events. Also who may see or withdraw a referral, and its status with waiting time."""

from __future__ import annotations

import logging
import math
import uuid
from datetime import datetime, time, timedelta
from typing import Any

import asyncpg
from fastapi import HTTPException

from contracts.capacity import PlacementConfirmed
from contracts.codes import PLACEMENT_CATEGORIES
from contracts.envelope import Envelope
from contracts.intake import ReferralReceived, ReferralWithdrawn
from services.intake import domain, personal_data, store
from services.intake.context import Intake
from services.intake.privacy import PersonalData
from services.intake.requests import ReferralIn, WithdrawalIn
from services.runtime.auth import Principal, Role
from services.runtime.db import Connection, fetch_one
from services.runtime.errors import Forbidden, Invalid, NotFound
from services.runtime.workdays import NL, dutch_date

log = logging.getLogger(__name__)


async def receive(intake: Intake, body: ReferralIn, by: Principal) -> dict[str, Any]:
    now, today = intake.now(), intake.today()
    referral_date = body.referral_date or today
    if referral_date > today:
        raise Invalid(f"referral_date {referral_date} lies in the future")
    provider_agb = body.provider_agb or (by.subject if by.role is Role.PROVIDER else None)
    domain.check_referral_rights(
        by.role.value, by.subject, body.referrer.type, body.referrer.agb, body.client.municipality_code, provider_agb
    )
    try:
        intake.registry.check_member(intake.settings.region, body.client.municipality_code, referral_date)
    except ValueError as exc:
        raise Invalid(f"client.municipality_code: {exc}") from None
    domain.check_birth_date(body.client.birth_date, referral_date)
    age = domain.check_birth_date(body.client.birth_date, today)
    ref = await personal_data.pseudonym(intake.runtime.pool, body.client.bsn, intake.settings.client_ref_keys())
    referral_id = uuid.uuid4()
    async with intake.runtime.pool.acquire() as conn, conn.transaction():
        if body.product_category in PLACEMENT_CATEGORIES:
            await _check_daily_cap(conn, intake, by, now)
        contracted = await store.contracted(conn, provider_agb, referral_date) if provider_agb else None
        event = ReferralReceived(
            referral_id=referral_id,
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
        await store.upsert_client(conn, ref, intake.vault.seal(person), now)
        await store.insert_referral(
            conn,
            {
                "id": referral_id,
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
        )
        detail = "provider has no contract: consult the gemeente" if contracted is False else ""
        await store.set_referral_status(conn, referral_id, domain.ReferralStatus.RECEIVED, now, "received", detail)
        await intake.emit(conn, event, referral_id, now)
    return {
        "referral_id": referral_id,
        "client_ref": ref,
        "status": domain.ReferralStatus.RECEIVED.value,
        "needs_gemeente_decision": event.needs_gemeente_decision,
        "contracted_provider": contracted,
        "consult_gemeente": contracted is False,
    }


async def _check_daily_cap(conn: Connection, intake: Intake, by: Principal, now: datetime) -> None:
    """Refuse a verblijf or crisis referral once ``by`` has the day's maximum of them open: each one
    reserves a place while capacity looks for one, so a flood from one key would fake a shortage."""
    limit = intake.settings.verblijf_referrals_per_day
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"verblijf-cap:{by.actor}")
    day_start = datetime.combine(dutch_date(now), time(), tzinfo=NL)
    open_today = await store.open_referrals_submitted_since(
        conn, by.actor, day_start, [c.value for c in PLACEMENT_CATEGORIES]
    )
    if open_today >= limit:
        next_day = datetime.combine(dutch_date(now) + timedelta(days=1), time(), tzinfo=NL)
        # 429, not 422: the referral itself is valid and is accepted tomorrow, or once one of today's
        # is withdrawn or placed — a quota, which is what 429 with Retry-After tells a client.
        raise HTTPException(
            429,
            f"{by.actor} has {open_today} open verblijf or crisis referrals submitted today, "
            f"the limit of {limit} per day (SCHAKEL_VERBLIJF_REFERRALS_PER_DAY); withdraw one "
            "or ask the gemeente or the schakelfunctionaris to refer",
            headers={"Retry-After": str(max(1, math.ceil((next_day - now).total_seconds())))},
        )


def is_its_referrer(principal: Principal, referral: asyncpg.Record) -> bool:
    if referral["submitted_by"] == principal.actor:
        return True
    return (
        principal.role is Role.REFERRER
        and principal.subject == f"{referral['referrer_type']}:{referral['referrer_agb']}"
    )


def check_may_read(principal: Principal, referral: asyncpg.Record) -> None:
    if principal.role is Role.OPERATOR or is_its_referrer(principal, referral):
        return
    if principal.role is Role.GEMEENTE and principal.subject == referral["municipality_code"]:
        return
    raise Forbidden("only the referral's referrer, its gemeente and operators may read it")


async def refresh_status(
    conn: Connection, referral_id: uuid.UUID, now: datetime, step: str, detail: str = ""
) -> domain.ReferralStatus:
    """Derive the status from the facts just changed and record the step in the history."""
    status = await current_status(conn, await fetch_one(conn, "SELECT * FROM referral WHERE id = $1", referral_id))
    await store.set_referral_status(conn, referral_id, status, now, step, detail)
    return status


async def current_status(conn: Connection, referral: asyncpg.Record) -> domain.ReferralStatus:
    allocations = [store.facts(r) for r in await store.allocations_of_referral(conn, referral["id"])]
    return domain.referral_status(referral["withdrawn_at"] is not None, referral["placed_at"] is not None, allocations)


async def withdraw(intake: Intake, referral_id: uuid.UUID, body: WithdrawalIn, by: Principal) -> str:
    now = intake.now()
    async with intake.runtime.pool.acquire() as conn, conn.transaction():
        referral = await store.lock_referral(conn, referral_id)
        if referral is None:
            raise NotFound(f"no referral {referral_id}")
        own_gemeente = by.role is Role.GEMEENTE and by.subject == referral["municipality_code"]
        if not (own_gemeente or is_its_referrer(by, referral)):
            raise Forbidden("only the referral's referrer or its gemeente may withdraw it")
        domain.check_referral_withdrawal(await current_status(conn, referral))
        await store.mark_withdrawn(conn, referral_id, now, body.recorded())
        status = await refresh_status(conn, referral_id, now, "withdrawn", body.recorded())
        await intake.emit(
            conn,
            ReferralWithdrawn(
                referral_id=referral_id,
                client_ref=referral["client_ref"],
                municipality_code=referral["municipality_code"],
                reason=body.reason,
                withdrawn_at=now,
            ),
            referral_id,
            now,
        )
    return status.value


async def on_placement_confirmed(conn: Connection, envelope: Envelope, event: PlacementConfirmed) -> None:
    """Capacity found a place: the referral is placed (unless it is unknown here or already closed)."""
    referral = await store.lock_referral(conn, event.referral_id)
    if referral is None:
        log.warning(
            "placement %s confirmed for referral %s, which intake does not know", event.placement_id, event.referral_id
        )
        return
    if referral["withdrawn_at"] is not None:
        await store.set_referral_status(
            conn,
            event.referral_id,
            referral["status"],
            event.confirmed_at,
            "placement_after_withdrawal",
            f"{event.provider_agb} {event.setting}",
        )
        return
    await store.mark_placed(conn, event.referral_id, event.confirmed_at, event.provider_agb)
    await refresh_status(
        conn, event.referral_id, event.confirmed_at, "placed", f"{event.setting} at {event.provider_agb}"
    )

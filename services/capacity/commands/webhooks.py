"""Alert webhooks: who may register one for which role, and over which transport."""

from __future__ import annotations

import uuid
from typing import TypeAlias

import asyncpg

from services.capacity.settings import CapacitySettings
from services.capacity.webhook_store import Subscriptions
from services.capacity.webhooks.signing import new_secret
from services.runtime.auth import Principal
from services.runtime.errors import Forbidden, Invalid, NotFound
from services.runtime.roles import Role
from services.runtime.unit_of_work import UnitOfWork

SubscriptionWork: TypeAlias = UnitOfWork[Subscriptions, CapacitySettings]


def role_for(principal: Principal, requested: Role | None) -> Role:
    """The role a new webhook receives the alerts of: the caller's own, or the one an admin names."""
    if principal.role is Role.ADMIN:
        if requested is None:
            raise Invalid(
                "role: an admin must name the role the webhook is for (schakelfunctionaris, expertteam, expertisenetwerk or operator)"
            )
        return requested
    if requested is not None and requested != principal.role:
        raise Forbidden(f"a {principal.role} key may register webhooks only for role {principal.role}")
    return principal.role


def managed_role(principal: Principal) -> Role | None:
    """The role whose webhooks the caller manages; None: all (admin)."""
    return None if principal.role is Role.ADMIN else principal.role


async def register(
    uow: SubscriptionWork, url: str, scheme: str, description: str, requested: Role | None, by: Principal
) -> asyncpg.Record:
    """Register a webhook; the returned row carries the signing secret, shown only now."""
    if scheme != "https" and not uow.settings.webhook_allow_http:
        # Escalations carry pseudonymous case data; they do not travel unencrypted.
        raise Invalid(
            "url: must be https (set SCHAKEL_WEBHOOK_ALLOW_HTTP=true only for a receiver on a trusted network)"
        )
    role = role_for(by, requested)
    return await uow.store.create(
        role=role, url=url, description=description, secret=new_secret(), created_by=by.actor, now=uow.now
    )


async def remove(uow: SubscriptionWork, webhook_id: uuid.UUID, by: Principal) -> None:
    role = managed_role(by)
    if not await uow.store.delete(webhook_id, role):
        raise NotFound(f"no webhook {webhook_id}" + (f" for role {role}" if role else ""))

"""Registering alert webhooks: whose alerts a webhook gets, and that alerts never go out unencrypted."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from services.capacity.commands import webhooks
from services.capacity.settings import CapacitySettings
from services.capacity.webhook_store import Subscriptions
from services.runtime.auth import Principal
from services.runtime.errors import Forbidden, Invalid, NotFound
from services.runtime.roles import Role
from services.runtime.unit_of_work import InMemoryBus, InMemoryStore, in_memory

NOW = datetime(2026, 11, 30, 9, tzinfo=UTC)
SF = Principal(Role.SCHAKELFUNCTIONARIS, "sf-gv")
ADMIN = Principal(Role.ADMIN, "admin")


class FakeSubscriptions(InMemoryStore):
    def __init__(self) -> None:
        self.hooks: dict[uuid.UUID, dict[str, Any]] = {}

    async def create(self, *, now: datetime, **row: Any) -> dict[str, Any]:
        hook = {"id": uuid.uuid4(), **row, "role": row["role"].value, "created_at": now}
        self.hooks[hook["id"]] = hook
        return hook

    async def of_role(self, role: Role | None) -> list[dict[str, Any]]:
        return [h for h in self.hooks.values() if role is None or h["role"] == role.value]

    async def delete(self, webhook_id: uuid.UUID, role: Role | None) -> bool:
        hook = self.hooks.get(webhook_id)
        if hook is None or (role is not None and hook["role"] != role.value):
            return False
        del self.hooks[webhook_id]
        return True


async def _register(store: FakeSubscriptions, url: str, requested: Role | None, by: Principal, **settings: Any) -> Any:
    subscriptions: Subscriptions = store  # type: ignore[assignment]  # the fake stands in for the SQL class
    async with in_memory(subscriptions, CapacitySettings(**settings), NOW, InMemoryBus()) as uow:
        return await webhooks.register(uow, url, url.split(":")[0], "", requested, by)


async def test_a_key_registers_for_its_own_role_and_an_admin_must_name_one() -> None:
    store = FakeSubscriptions()
    hook = await _register(store, "https://sf.example/hook", None, SF)
    assert (hook["role"], hook["created_by"], hook["created_at"]) == (
        "schakelfunctionaris",
        "schakelfunctionaris:sf-gv",
        NOW,
    )
    assert hook["secret"].startswith("whsec_")
    with pytest.raises(Invalid, match="an admin must name the role"):
        await _register(store, "https://ops.example/hook", None, ADMIN)
    assert (await _register(store, "https://ops.example/hook", Role.OPERATOR, ADMIN))["role"] == "operator"
    with pytest.raises(Forbidden):
        await _register(store, "https://x.example/hook", Role.EXPERTTEAM, SF)
    assert len(store.hooks) == 2


async def test_plain_http_is_refused_unless_the_operator_allows_it() -> None:
    store = FakeSubscriptions()
    with pytest.raises(Invalid, match="must be https"):
        await _register(store, "http://receiver.local/hook", None, SF)
    assert store.hooks == {}
    assert (await _register(store, "http://receiver.local/hook", None, SF, webhook_allow_http=True))["url"]


async def test_a_role_removes_only_its_own_webhooks() -> None:
    store = FakeSubscriptions()
    ops = await _register(store, "https://ops.example/hook", Role.OPERATOR, ADMIN)
    subscriptions: Subscriptions = store  # type: ignore[assignment]
    with pytest.raises(NotFound, match="for role schakelfunctionaris"):
        async with in_memory(subscriptions, CapacitySettings(), NOW, InMemoryBus()) as uow:
            await webhooks.remove(uow, ops["id"], SF)
    async with in_memory(subscriptions, CapacitySettings(), NOW, InMemoryBus()) as uow:
        await webhooks.remove(uow, ops["id"], ADMIN)
    assert store.hooks == {}

"""Wiring of the contracting service."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi import FastAPI

from contracts import topics
from services.contracting import handlers
from services.contracting.api import router
from services.contracting.contract_store import contract_store
from services.contracting.domain.lots import Lot
from services.contracting.settings import ContractingSettings
from services.runtime.clock import Clock
from services.runtime.service import Runtime, ServiceSpec, create_app


def load_lots(path: Path) -> list[Lot]:
    return [Lot.model_validate(lot) for lot in json.loads(path.read_text())["lots"]]


async def _seed_lots(_app: FastAPI, runtime: Runtime[ContractingSettings]) -> None:
    lots = load_lots(runtime.settings.lots_seed)
    async with runtime.work(contract_store) as uow:
        await uow.store.seed_lots(lots, uow.now)


def build(settings: ContractingSettings | None = None, clock: Clock | None = None) -> FastAPI:
    """The contracting app; a test passes its own ``clock`` to move time."""
    return create_app(
        ServiceSpec(
            settings=settings or ContractingSettings(),
            title="Schakel contracting",
            description="Open House admission, lots (percelen), contracts and declaration checks (Digitaal Leefplein).",
            migrations=Path(__file__).parent / "migrations",
            routers=[router],
            consumers=lambda _app, _runtime: handlers.consumers(),
            publishes=[topics.CONTRACTING_EVENTS],
            on_start=_seed_lots,
            clock=clock or Clock(),
        )
    )
